// SqliteOutboxStore: the OutboxStore over the embedded SQLite database; it shares
// the writer with the other stores (docs/schema.md, migrations 8 and 10).
#pragma once

#include <memory>

#include "store/outbox_store.h"

namespace outflow {

namespace sqlite {
class Database;
}  // namespace sqlite

class SqliteOutboxStore final : public OutboxStore {
 public:
  explicit SqliteOutboxStore(std::shared_ptr<sqlite::Database> db);
  ~SqliteOutboxStore() override;

  Result<std::vector<EnqueuedMessage>> Enqueue(std::span<const NewMessage> messages, Timestamp now) override;
  Result<Message> Get(MessageId id) override;
  Result<std::vector<Message>> List(const MessageFilter& f) override;
  Result<MessageCounts> Counts(SourceRef source) override;
  Status SetSourceState(SourceRef source, SourceState state, Timestamp now) override;
  Result<int64_t> RetryFailed(SourceRef source, Timestamp now) override;
  Result<int64_t> SkipContact(ContactId contact, const std::string& reason, Timestamp now) override;
  Result<std::vector<AccountId>> AccountsWithWork() override;
  Result<OutboxClaim> Claim(AccountId account, Timestamp now, int limit, const std::string& day,
                            std::optional<int64_t> daily_cap) override;
  Result<std::vector<SourceRef>> Record(AccountId account, std::span<const MessageOutcome> outcomes,
                                        Timestamp now) override;
  Result<int64_t> RequeueSending(AccountId account, Timestamp now) override;
  Result<std::optional<Timestamp>> NextDue(AccountId account) override;
  Result<int64_t> DayCount(AccountId account, const std::string& day) override;
  Result<std::vector<Timestamp>> RecentSends(ContactId contact, Channel channel, Timestamp since) override;
  // Tracking: sqlite_outbox_tracking.cc.
  Result<bool> RecordEvent(const TrackingEvent& e) override;
  Result<std::vector<MessageEvent>> Events(MessageId id) override;
  Result<std::optional<Message>> FindByProviderId(AccountId account, std::string_view provider_id) override;
  Result<std::vector<Suppression>> Suppressions(std::string_view after, int limit) override;
  Status RemoveSuppression(std::string_view address) override;

 private:
  std::shared_ptr<sqlite::Database> db_;
};

}  // namespace outflow
