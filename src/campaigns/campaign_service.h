// CampaignService: sending accounts, templates and campaigns as users see them
// (the REST API and the CLI call this), and the `campaign.start` job.
//
// Accounts: validated (limits, zone, windows, and the provider's settings and
// credentials parsed by the channel's factory) before they are stored.
// Credentials are sealed with the SecretBox, bound to the account's row
// ("account:<id>"), and never returned or logged.
//
// Templates: compiled when saved against the standard and the defined custom
// fields, so an unknown field or a syntax error is an error then, not at send time.
//
// Campaigns (docs/campaigns.md for the state machine):
//   create      -> draft, or scheduled with a `campaign.start` job due at its time
//                  (now when none); a time in the past, an unknown account, template
//                  or segment is InvalidArgument / NotFound naming the field.
//   start job   -> fails the campaign as missed when it runs later than its
//                  missed_after_seconds; verifies the account's credentials (a
//                  rejection fails the campaign with one clear message); waits
//                  (retries every kWaitForFill) while an audience segment is still
//                  filling; freezes the audience into the outbox in chunks (Start,
//                  then ContinueFanOut: a short transaction each), waking the
//                  account's send loop as they commit. Rerun after a crash, it
//                  finishes the fan-out from its committed cursor.
//   pause       -> scheduled | processing -> paused; sending stops within ~batch_time.
//   resume      -> paused -> processing (started before) or scheduled (with a new
//                  start job due at once, or at its time if still ahead).
//   cancel      -> its queued messages are cancelled; those sent stay as they are.
//   retry-failed-> failed recipients back to pending; the campaign processes again.
// As the outbox's SendListener it completes a campaign whose last message was
// recorded, fails an account's campaigns with cap policy `fail` when its daily cap
// is used up, and fails an account's processing campaigns when it cannot send.
// Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/clock.h"
#include "campaigns/template.h"
#include "channels/channel.h"
#include "contacts/contact_service.h"
#include "crypto/secret_box.h"
#include "engine/handler.h"
#include "engine/job_service.h"
#include "net/outbound_policy.h"
#include "sending/sender.h"
#include "sending/tracking_service.h"
#include "store/campaign_store.h"

namespace outflow {

inline constexpr std::string_view kCampaignStartKind = "campaign.start";
// Checks an account's settings and credentials with its provider, off the API's
// threads (docs/api.md, POST /v1/accounts/{id}/verify): payload {"account_id"}.
inline constexpr std::string_view kAccountVerifyKind = "account.verify";

// The associated data an account's credentials are sealed with ("account:<id>"):
// it binds the sealed value to its row (crypto/secret_box.h).
std::string CredentialsAd(AccountId id);

class CampaignService final : public SendListener {
 public:
  // `secrets` may be null: then accounts cannot be given credentials (an error
  // naming the missing key, never plaintext storage). `sender` may be null
  // (offline tools): started campaigns then wait for a daemon. Senders connect only
  // where `outbound` allows. REQUIRES: `outbound` outlives the service and its senders.
  CampaignService(CampaignStore& store, ContactService& contacts, JobService& jobs, Sender* sender,
                  const SecretBox* secrets, Clock& clock, const net::OutboundPolicy& outbound);

  // SendListener.
  void SourceDrained(SourceRef source) override;
  void CapReached(AccountId account, const std::string& day) override;
  void AccountUnusable(AccountId account, const std::string& why) override;

  // Accounts. `credentials_json`: a JSON object, or nullopt for none / unchanged.
  Result<SendingAccount> CreateAccount(SendingAccount a, const std::optional<std::string>& credentials_json);
  Result<SendingAccount> UpdateAccount(AccountId id, const std::function<Status(SendingAccount&)>& change,
                                       const std::optional<std::string>& credentials_json);
  Result<SendingAccount> GetAccount(AccountId id) { return store_.GetAccount(id); }
  Result<std::vector<SendingAccount>> ListAccounts() { return store_.ListAccounts(); }
  // Connects to the provider and checks the credentials (SMTP login; a provider's auth check).
  Status VerifyAccount(AccountId id);
  // Queues a verification of the account (a kAccountVerifyKind job, one attempt,
  // due now) and returns the job's id: the provider is called by the engine, never
  // by the caller's thread. NotFound for no such account.
  Result<JobId> StartVerify(AccountId id);
  // The account's sender, with its credentials opened.
  Result<std::unique_ptr<channels::ChannelSender>> MakeSender(const SendingAccount& a);
  // An account with its opened credentials, for checking its provider's callbacks
  // (TrackingService). NotFound for an unknown account.
  Result<CallbackAccount> CallbackAccountOf(AccountId id);

  // Templates.
  Result<MessageTemplateRecord> CreateTemplate(MessageTemplateRecord t);
  Result<MessageTemplateRecord> UpdateTemplate(TemplateId id,
                                               const std::function<Status(MessageTemplateRecord&)>& change);
  Result<MessageTemplateRecord> GetTemplate(TemplateId id) { return store_.GetTemplate(id); }
  Result<std::vector<MessageTemplateRecord>> ListTemplates() { return store_.ListTemplates(); }
  Result<CompiledTemplate> Compile(const MessageTemplateRecord& t);
  // Renders a template for one contact (a missing value is the error a send would get).
  Result<RenderedMessage> Preview(TemplateId id, ContactId contact);

  // Campaigns. `schedule` false: stays a draft.
  Result<Campaign> CreateCampaign(Campaign c, bool schedule);
  // draft -> scheduled, at the draft's send time (none: now; in the past: InvalidArgument).
  Result<Campaign> Schedule(CampaignId id);
  Result<Campaign> GetCampaign(CampaignId id) { return store_.GetCampaign(id); }
  Result<std::vector<Campaign>> ListCampaigns(int64_t before, int limit) { return store_.ListCampaigns(before, limit); }
  Result<Campaign> Pause(CampaignId id);
  Result<Campaign> Resume(CampaignId id);
  Result<Campaign> Cancel(CampaignId id);
  Result<int64_t> RetryFailed(CampaignId id);
  Result<std::vector<Recipient>> Recipients(CampaignId id, const RecipientFilter& f) {
    return store_.Recipients(id, f);
  }

  // Unsubscribes (docs/campaigns.md, "Unsubscribes"). Returns the stamp (none: subscribed).
  Result<std::optional<Timestamp>> Unsubscribe(int64_t contact_id, std::string_view source);
  Result<std::optional<Timestamp>> Resubscribe(int64_t contact_id);
  Result<std::optional<Timestamp>> UnsubscribedAt(int64_t contact_id) { return store_.UnsubscribedAt(contact_id); }
  // The link an email's List-Unsubscribe header carries: <public_url>/u/<token>, the
  // token naming the campaign and contact with a tag only this key makes. Empty
  // without a public URL or a key.
  void SetPublicUrl(std::string url) { public_url_ = std::move(url); }
  // Unsubscribe links then record the unsubscribed event on their message (campaign
  // counts). REQUIRES: set before serving; may stay null.
  void SetTracking(TrackingService* tracking) { tracking_ = tracking; }
  std::string UnsubscribeUrl(CampaignId campaign, int64_t contact_id) const;
  // Unsubscribes the contact a token names; InvalidArgument for a token this key did
  // not make (a forged or mangled link). Returns the contact id.
  Result<int64_t> UnsubscribeByToken(std::string_view token);

  // Completes every processing campaign with nothing pending: after a stop between
  // the outbox recording a campaign's last message and SourceDrained completing it.
  // (A scheduled campaign needs no sweep: its start job is stored with it.)
  Status CompleteDrained();

  // The body of the `campaign.start` job.
  RunResult RunStart(CampaignId id);
  // A start job waits this long before trying again while a segment is filling.
  static constexpr std::chrono::seconds kWaitForFill{2};

 private:
  // The start job of a campaign as the store writes it; `made` receives a copy.
  CampaignStore::JobFn StartJob(std::optional<JobSpec>& made) const;
  // After a campaign and its start job committed: wakes the engine, logs.
  void Scheduled(const Campaign& c, const std::optional<JobSpec>& start_job);
  // Runs a started campaign's fan-out to its end, a chunk a transaction, waking the sender.
  RunResult FanOutRest(const Campaign& c);
  // Schedule, with "in the past" judged against `now`.
  Result<Campaign> ScheduleAt(CampaignId id, Timestamp now);
  Result<std::set<std::string, std::less<>>> KnownFields();
  Result<std::string> SealCredentials(const std::string& json, AccountId id) const;
  // The account's credentials JSON, decrypted (empty: it has none).
  Result<std::string> OpenCredentials(const SendingAccount& a);

  CampaignStore& store_;
  ContactService& contacts_;
  JobService& jobs_;
  Sender* sender_;
  // Fails the account's processing campaigns (those with `only_cap_fail`: whose cap policy is fail).
  void FailAccountCampaigns(AccountId account, const std::string& why, bool only_cap_fail);
  const SecretBox* secrets_;
  Clock& clock_;
  const net::OutboundPolicy& outbound_;
  std::string public_url_;  // set before serving; read-only afterwards
  TrackingService* tracking_ = nullptr;
};

// The `campaign.start` job handler: payload {"campaign_id": N}.
class CampaignStartHandler final : public JobHandler {
 public:
  // REQUIRES: SetService is called before the engine starts.
  void SetService(CampaignService* service) { service_ = service; }
  RunResult Run(const Job& job) override;
  Status ValidatePayload(std::string_view payload_json, std::string_view field) const override;
  std::string Description() const override;

 private:
  CampaignService* service_ = nullptr;
};

// Runs kAccountVerifyKind jobs: the job is done when the provider accepted the
// account, and dead with the provider's answer as its error otherwise.
class AccountVerifyHandler final : public JobHandler {
 public:
  // REQUIRES: SetService is called before the engine starts.
  void SetService(CampaignService* service) { service_ = service; }
  RunResult Run(const Job& job) override;
  Status ValidatePayload(std::string_view payload_json, std::string_view field) const override;
  std::string Description() const override;

 private:
  CampaignService* service_ = nullptr;
};

}  // namespace outflow
