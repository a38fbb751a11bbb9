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
//   transaction; when nothing is pending or sending any more, the campaign completes.
// - RequeueSending puts entries left `sending` by a crash back to pending (they may
//   have been sent: the idempotency key lets a provider drop the repeat).
// Thread-safe.
#pragma once

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
  RecipientState state = RecipientState::kSent;  // sent, failed, or pending (retry at next_attempt_at)
  std::string provider_id;
  std::string error;
  Timestamp next_attempt_at;
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

  // Accounts. `sealed_credentials` is stored as given (the caller seals it).
  virtual Result<SendingAccount> CreateAccount(const SendingAccount& a, const std::optional<std::string>& sealed_credentials,
                                               Timestamp now) = 0;
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
  // Moves the campaign from one of `from` to `to`, stamping the transition; Conflict otherwise.
  virtual Result<Campaign> SetState(CampaignId id, std::vector<CampaignState> from, CampaignState to, Timestamp now,
                                    std::string error = {}) = 0;
  virtual Result<Campaign> Start(CampaignId id, Timestamp now) = 0;
  virtual Result<ClaimResult> Claim(CampaignId id, Timestamp now, int limit, const std::string& day,
                                    std::optional<int64_t> daily_cap) = 0;
  virtual Result<Campaign> Record(CampaignId id, const std::vector<RecipientOutcome>& outcomes, Timestamp now) = 0;
  virtual Result<int64_t> RequeueSending(CampaignId id, Timestamp now) = 0;
  // Failed entries back to pending, and a completed or failed campaign back to processing.
  virtual Result<int64_t> RetryFailed(CampaignId id, Timestamp now) = 0;
  // The earliest next_attempt_at of a pending entry, if any.
  virtual Result<std::optional<Timestamp>> NextAttempt(CampaignId id) = 0;
  virtual Result<std::vector<Recipient>> Recipients(CampaignId id, const RecipientFilter& f) = 0;
};

}  // namespace outflow
