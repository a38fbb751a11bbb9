// SqliteCampaignStore: the CampaignStore over the embedded SQLite database; it
// shares the writer with the other stores (docs/schema.md, migrations 6 to 8).
#pragma once

#include <memory>

#include "base/adaptive_batch.h"
#include "store/campaign_store.h"

namespace outflow {

namespace sqlite {
class Database;
}  // namespace sqlite

class SqliteCampaignStore final : public CampaignStore {
 public:
  explicit SqliteCampaignStore(std::shared_ptr<sqlite::Database> db);
  ~SqliteCampaignStore() override;

  Result<SendingAccount> CreateAccount(const SendingAccount& a, const SealFn& seal, Timestamp now) override;
  Result<SendingAccount> GetAccount(AccountId id) override;
  Result<std::vector<SendingAccount>> ListAccounts() override;
  Result<SendingAccount> UpdateAccount(const SendingAccount& a, const std::optional<std::string>& sealed_credentials,
                                       Timestamp now) override;
  Result<std::optional<std::string>> AccountCredentials(AccountId id) override;
  Result<int64_t> ResealCredentials(const ResealFn& reseal, Timestamp now) override;

  Result<MessageTemplateRecord> CreateTemplate(const MessageTemplateRecord& t, Timestamp now) override;
  Result<MessageTemplateRecord> GetTemplate(TemplateId id) override;
  Result<std::vector<MessageTemplateRecord>> ListTemplates() override;
  Result<MessageTemplateRecord> UpdateTemplate(const MessageTemplateRecord& t, Timestamp now) override;

  using CampaignStore::CreateCampaign;
  Result<Campaign> CreateCampaign(const Campaign& c, const JobFn& start_job, Timestamp now) override;
  Result<Campaign> GetCampaign(CampaignId id) override;
  Result<std::vector<Campaign>> ListCampaigns(int64_t before, int limit) override;
  Result<std::vector<Campaign>> ActiveCampaigns() override;
  Result<Campaign> SetState(CampaignId id, std::vector<CampaignState> from, CampaignState to, Timestamp now,
                            std::string error) override;
  Result<Campaign> Schedule(CampaignId id, std::vector<CampaignState> from, const JobFn& start_job,
                            Timestamp now) override;
  Result<Campaign> Start(CampaignId id, Timestamp now) override;
  Result<bool> ContinueFanOut(CampaignId id, Timestamp now) override;
  Result<Campaign> CompleteIfDone(CampaignId id, Timestamp now) override;
  Result<std::optional<Timestamp>> SetUnsubscribed(int64_t contact_id, bool unsubscribed, Timestamp now) override;
  Result<std::optional<Timestamp>> UnsubscribedAt(int64_t contact_id) override;
  Result<int64_t> RetryFailed(CampaignId id, Timestamp now) override;
  Result<std::vector<Recipient>> Recipients(CampaignId id, const RecipientFilter& f) override;

 private:
  std::shared_ptr<sqlite::Database> db_;
  AdaptiveBatch fanout_batch_;  // recipients per fan-out chunk
};

}  // namespace outflow
