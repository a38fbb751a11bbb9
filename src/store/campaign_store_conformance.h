// The CampaignStore conformance suite (campaign_store_conformance_test.cc): the
// contract of store/campaign_store.h as tests that every implementation passes,
// instantiated with the StoreSet factory of its database (see store_set.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "store/store_set.h"

namespace outflow {

class CampaignStoreConformance : public StoreSetTest {
 protected:
  void SetUp() override;
  ContactId AddContact(std::optional<std::string> email, std::optional<std::string> phone, bool in_segment = true);
  SendingAccount Account(Channel ch, std::optional<int64_t> cap = std::nullopt);
  Campaign NewCampaign(AccountId account, CampaignState state = CampaignState::kScheduled);
  // Claims up to `n` messages of the account.
  std::vector<Message> ClaimAll(AccountId account, Timestamp now, int n = 10);
  void RecordSent(AccountId account, const std::vector<Message>& ms, Timestamp now);
  // A start job for the campaign as written, with key "start-<id>".
  static Result<JobSpec> StartJob(const Campaign& c);

  Segment segment_, excluded_;
  MessageTemplateRecord template_;
  int next_ = 0;
};

}  // namespace outflow
