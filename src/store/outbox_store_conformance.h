// The OutboxStore conformance suite (outbox_store_conformance_test.cc): every
// OutboxStore implementation instantiates it with a factory that opens, in a fresh
// directory, the outbox together with the stores its fixtures need (accounts and
// templates, contacts, segments), all over one database.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "store/campaign_store.h"
#include "store/contact_store.h"
#include "store/outbox_store.h"
#include "testing/temp_dir.h"

namespace outflow {

// The stores of one database; `owner` keeps them alive.
struct OutboxStores {
  std::shared_ptr<void> owner;
  OutboxStore* outbox = nullptr;
  CampaignStore* campaigns = nullptr;
  ContactStore* contacts = nullptr;
};

struct OutboxStoreFactory {
  std::string name;
  std::function<Result<OutboxStores>(const std::string& dir, Timestamp now)> open;
};

inline std::string PrintToString(const OutboxStoreFactory& f) {
  return f.name;
}

class OutboxStoreConformance : public ::testing::TestWithParam<OutboxStoreFactory> {
 protected:
  void SetUp() override;
  AccountId Account(Channel channel = Channel::kEmail, std::optional<int64_t> cap = std::nullopt);
  ContactId Contact(std::optional<std::string> email, std::optional<std::string> phone = std::nullopt);
  NewMessage Msg(AccountId account, ContactId contact, SourceRef source, int64_t step = 0);
  // Enqueues and returns the stored messages (ASSERTs that it worked).
  std::vector<Message> Put(std::vector<NewMessage> messages);
  MessageCounts CountsOf(SourceRef s);

  testing::TempDir dir_;
  OutboxStores stores_;
  OutboxStore* outbox_ = nullptr;
  TemplateId template_;
  int next_ = 0;
};

}  // namespace outflow
