// CampaignStore: sending accounts, templates, campaigns and the recipient ledger.
//
// Contract:
// - Start is one transaction: it moves a scheduled campaign to processing and freezes its audience into the ledger: one pending
//   entry per live contact in any audience segment and not in the exclusion
//   segment, with the address for the account's channel; entries with no address,
//   an unsubscribed contact or an address already taken by an earlier contact are
//   skipped with the reason. A campaign with no recipients fails ("no recipients").
// - Claim marks up to `limit` due pending entries `sending` (attempts + 1) and
//   returns them with their contacts, in contact order, only while the campaign is
//   processing; it reserves them against the account's daily cap for `day` in the
//   same transaction, claiming no more than the cap leaves.
// - Record applies outcomes of claimed entries and updates the counts in one
//   transaction; when nothing is pending or sending any more, a processing campaign
//   completes (a paused one waits for CompleteIfDone after its resume).
// - Record skips ("unsubscribed") an entry that would go back to pending when its
//   contact unsubscribed while it was claimed.
// - Record ignores an outcome whose entry is no longer `sending` at that attempt
//   (it was requeued meanwhile). An outcome with attempted = false (claimed, never
//   handed to the channel: a pause, a cancel, a stop) goes back to pending without
//   counting the attempt.
// - RequeueSending puts entries left `sending` by a crash back to pending (they may
//   have been sent: the idempotency key lets a provider drop the repeat).
// Thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "domain/campaign.h"
#include "domain/contact.h"

namespace outflow {

struct ClaimedRecipient {
  Recipient recipient;
  Contact contact;
};

struct RecipientOutcome {
  int64_t contact_id = 0;
  int attempt = 0;  // Recipient::attempts as claimed; 0: any attempt
  RecipientState state = RecipientState::kSent;  // sent, failed, or pending (retry at next_attempt_at)
  std::string provider_id;
  std::string error;
  Timestamp next_attempt_at;
  bool attempted = true;  // false: never handed to the channel (the attempt is not counted)
};

struct ClaimResult {
  std::vector<ClaimedRecipient> recipients;
  bool cap_reached = false;  // the daily cap stopped the claim short
};

struct RecipientFilter {
  std::optional<RecipientState> state;
  int64_t after_contact = 0;
  int limit = 100;
};

class CampaignStore {
 public:
  virtual ~CampaignStore() = default;

  // Accounts. Credentials are stored as the caller sealed them; on create, `seal`
  // (may be empty: no credentials) is called with the new account's id inside the
  // transaction, so that the sealed value can be bound to its row.
  using SealFn = std::function<std::string(AccountId)>;
  virtual Result<SendingAccount> CreateAccount(const SendingAccount& a, const SealFn& seal, Timestamp now) = 0;
  virtual Result<SendingAccount> GetAccount(AccountId id) = 0;
  virtual Result<std::vector<SendingAccount>> ListAccounts() = 0;
  // Replaces settings and limits; credentials only when given.
  virtual Result<SendingAccount> UpdateAccount(const SendingAccount& a, const std::optional<std::string>& sealed_credentials,
                                               Timestamp now) = 0;
  virtual Result<std::optional<std::string>> AccountCredentials(AccountId id) = 0;
  // Sends reserved so far on the account's local `day`.
  virtual Result<int64_t> DayCount(AccountId id, const std::string& day) = 0;

  // Templates.
  virtual Result<MessageTemplateRecord> CreateTemplate(const MessageTemplateRecord& t, Timestamp now) = 0;
  virtual Result<MessageTemplateRecord> GetTemplate(TemplateId id) = 0;
  virtual Result<std::vector<MessageTemplateRecord>> ListTemplates() = 0;
  virtual Result<MessageTemplateRecord> UpdateTemplate(const MessageTemplateRecord& t, Timestamp now) = 0;

  // Campaigns. Create checks that the account, the template and the segments exist
  // (NotFound naming the field).
  virtual Result<Campaign> CreateCampaign(const Campaign& c, Timestamp now) = 0;
  virtual Result<Campaign> GetCampaign(CampaignId id) = 0;
  // Newest first; `before` 0 = from the newest.
  virtual Result<std::vector<Campaign>> ListCampaigns(int64_t before, int limit) = 0;
  // Campaigns that are scheduled, processing or paused, oldest (lowest id) first.
  virtual Result<std::vector<Campaign>> ActiveCampaigns() = 0;
  // Moves the campaign from one of `from` to `to`, stamping the transition; Conflict otherwise.
  virtual Result<Campaign> SetState(CampaignId id, std::vector<CampaignState> from, CampaignState to, Timestamp now,
                                    std::string error = {}) = 0;
  virtual Result<Campaign> Start(CampaignId id, Timestamp now) = 0;
  virtual Result<ClaimResult> Claim(CampaignId id, Timestamp now, int limit, const std::string& day,
                                    std::optional<int64_t> daily_cap) = 0;
  virtual Result<Campaign> Record(CampaignId id, const std::vector<RecipientOutcome>& outcomes, Timestamp now) = 0;
  virtual Result<int64_t> RequeueSending(CampaignId id, Timestamp now) = 0;
  // A processing campaign with nothing pending or sending completes (e.g. one resumed
  // after its last entries were recorded while it was paused); any other is left as
  // it is. Returns the campaign.
  virtual Result<Campaign> CompleteIfDone(CampaignId id, Timestamp now) = 0;
  // Failed entries back to pending, and a completed or failed campaign back to
  // processing (a failed one also when no entry failed but some are still pending).
  virtual Result<int64_t> RetryFailed(CampaignId id, Timestamp now) = 0;
  // The earliest next_attempt_at of a pending entry, if any.
  virtual Result<std::optional<Timestamp>> NextAttempt(CampaignId id) = 0;
  virtual Result<std::vector<Recipient>> Recipients(CampaignId id, const RecipientFilter& f) = 0;

  // Unsubscribes. Unsubscribing stamps contacts.unsubscribed_at (the first time is
  // kept) and, in the same transaction, skips the contact's pending entries in
  // every active campaign ("unsubscribed"), so no later send reaches them; an entry
  // being sent at that moment is not recalled. Resubscribing clears the stamp
  // (skipped entries stay skipped). NotFound for an unknown contact. Returns the stamp.
  virtual Result<std::optional<Timestamp>> SetUnsubscribed(int64_t contact_id, bool unsubscribed, Timestamp now) = 0;
  virtual Result<std::optional<Timestamp>> UnsubscribedAt(int64_t contact_id) = 0;
};

}  // namespace outflow
