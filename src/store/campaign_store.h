// CampaignStore: sending accounts, templates, campaigns and the recipient ledger.
//
// Contract:
// - The fan-out freezes a campaign's audience into the outbox (OutboxStore): one
//   queued message per live contact in any audience segment and not in the
//   exclusion segment, with the address for the account's channel; messages with
//   no address, to an unsubscribed contact or to an address already taken by an
//   earlier contact (lower id) are skipped with the reason. It runs in chunks in
//   contact id order, each one short transaction that inserts the chunk's
//   messages, adds them to the source's counts and commits the cursor (so the
//   counts are right at every commit, and a crash resumes at the cursor with no
//   recipient twice). The audience is the contacts up to the highest id when the
//   fan-out starts, each as it is when its chunk runs.
// - Start moves a scheduled campaign to processing and runs the first chunk, in
//   one transaction; ContinueFanOut runs the next ones until it returns true. It
//   refuses with FailedPrecondition while an audience or exclusion segment is
//   still filling (SegmentStore: its members are incomplete); the caller retries
//   later. Messages of the chunks committed are sent while later ones are made.
//   After the last chunk, a campaign with no recipients fails ("no recipients"),
//   one with nothing pending completes; a cancelled campaign's fan-out stops.
// - A campaign's messages are one outbox source (kind campaign, its id), whose
//   counts are the campaign's. SetState moves the source with the campaign in the
//   same transaction: processing makes it active (claimed), paused and failed
//   pause it, cancelled cancels its queued messages.
// - CompleteIfDone completes a processing campaign whose fan-out is over with
//   nothing pending.
// - RetryFailed puts failed messages back to queued and a completed or failed
//   campaign back to processing, in one transaction.
// - SetUnsubscribed stamps the contact and skips all its queued messages, of every
//   source, in the same transaction.
// - A campaign that becomes scheduled (CreateCampaign with state scheduled, or
//   Schedule) gets its start job in the same transaction, so no crash can leave a
//   scheduled campaign without the job that starts it.
// - Every state transition is one conditional change of the row (from one of the
//   given states): of two racing transitions from the same state exactly one wins,
//   the other is Conflict. No contract relies on there being one writer.
// - A row the store cannot read (unknown channel, state or cap policy, an
//   unreadable audience) is Corruption naming it, never a default.
// Thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "domain/campaign.h"
#include "domain/contact.h"
#include "domain/job.h"

namespace outflow {

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
  virtual Result<SendingAccount> UpdateAccount(const SendingAccount& a,
                                               const std::optional<std::string>& sealed_credentials, Timestamp now) = 0;
  virtual Result<std::optional<std::string>> AccountCredentials(AccountId id) = 0;
  // Key rotation: replaces every account's stored credentials with reseal(id, old
  // sealed value), all in one transaction that holds the rows against concurrent
  // changes (a PostgreSQL store: SELECT ... FOR UPDATE), so a credential written
  // meanwhile is either resealed or written after, never lost. All or nothing: an
  // error from `reseal` rolls everything back and is returned. How many were resealed.
  using ResealFn = std::function<Result<std::string>(AccountId, const std::string& sealed)>;
  virtual Result<int64_t> ResealCredentials(const ResealFn& reseal, Timestamp now) = 0;

  // Templates.
  virtual Result<MessageTemplateRecord> CreateTemplate(const MessageTemplateRecord& t, Timestamp now) = 0;
  virtual Result<MessageTemplateRecord> GetTemplate(TemplateId id) = 0;
  virtual Result<std::vector<MessageTemplateRecord>> ListTemplates() = 0;
  virtual Result<MessageTemplateRecord> UpdateTemplate(const MessageTemplateRecord& t, Timestamp now) = 0;

  // The job to enqueue with a change, given the campaign as written (in the
  // transaction: its id and its scheduled_state_at stamp are set). An error aborts
  // the change.
  using JobFn = std::function<Result<JobSpec>(const Campaign&)>;

  // Campaigns. Create checks that the account, the template and the segments exist
  // (NotFound naming the field). `start_job` (may be empty: none) is enqueued in
  // the same transaction; REQUIRES: given when c.state is scheduled.
  virtual Result<Campaign> CreateCampaign(const Campaign& c, const JobFn& start_job, Timestamp now) = 0;
  Result<Campaign> CreateCampaign(const Campaign& c, Timestamp now) { return CreateCampaign(c, {}, now); }
  virtual Result<Campaign> GetCampaign(CampaignId id) = 0;
  // Newest first; `before` 0 = from the newest.
  virtual Result<std::vector<Campaign>> ListCampaigns(int64_t before, int limit) = 0;
  // Campaigns that are scheduled, processing or paused, oldest (lowest id) first.
  virtual Result<std::vector<Campaign>> ActiveCampaigns() = 0;
  // Moves the campaign from one of `from` to `to`, stamping the transition; Conflict otherwise.
  virtual Result<Campaign> SetState(CampaignId id, std::vector<CampaignState> from, CampaignState to, Timestamp now,
                                    std::string error = {}) = 0;
  // SetState to scheduled, enqueueing `start_job` in the same transaction.
  virtual Result<Campaign> Schedule(CampaignId id, std::vector<CampaignState> from, const JobFn& start_job,
                                    Timestamp now) = 0;
  virtual Result<Campaign> Start(CampaignId id, Timestamp now) = 0;
  // The next chunk of the campaign's fan-out; true when none is under way any more.
  virtual Result<bool> ContinueFanOut(CampaignId id, Timestamp now) = 0;
  // A processing campaign whose fan-out is over, with nothing pending or sending, completes (e.g. one resumed
  // after its last entries were recorded while it was paused); any other is left as
  // it is. Returns the campaign.
  virtual Result<Campaign> CompleteIfDone(CampaignId id, Timestamp now) = 0;
  // Failed entries back to pending, and a completed or failed campaign back to
  // processing (a failed one also when no entry failed but some are still pending).
  virtual Result<int64_t> RetryFailed(CampaignId id, Timestamp now) = 0;
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
