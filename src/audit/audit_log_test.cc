// AuditLog over a real SQLite file: concurrent records share transactions and
// all land; an entry the store refuses fails alone.
#include "audit/audit_log.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "store/sqlite/sqlite_store.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace outflow {
namespace {

const Timestamp kT0 = FromMicros(1'800'000'000'000'000);

AuditEntry Entry(const std::string& actor, int i) {
  AuditEntry e;
  e.at = kT0;
  e.actor = actor;
  e.action = "contact.update";
  e.object_type = "contact";
  e.object_id = std::to_string(i);
  e.summary = "{}";
  return e;
}

TEST(AuditLog, ConcurrentRecordsAllLand) {
  testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto stores, SqliteStores::Open(dir.File("outflow.db"), {}, kT0));
  AuditLog log(stores->audit());
  constexpr int kThreads = 8, kEach = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) EXPECT_OK(log.Record(Entry("key:" + std::to_string(t), i)));
    });
  }
  for (auto& t : threads) t.join();
  AuditFilter f;
  f.limit = 1000;
  ASSERT_OK_AND_ASSIGN(AuditPage page, stores->audit().List(f));
  EXPECT_EQ(page.entries.size(), static_cast<size_t>(kThreads * kEach));
}

// Refuses any group that holds an entry whose action is "bad".
class PickyStore final : public AuditStore {
 public:
  explicit PickyStore(AuditStore& inner) : inner_(inner) {}
  Status Append(std::span<const AuditEntry> entries) override {
    ++appends;
    for (const AuditEntry& e : entries) {
      if (e.action == "bad") return Status::InvalidArgument("bad entry");
    }
    return inner_.Append(entries);
  }
  Result<AuditPage> List(const AuditFilter& f) override { return inner_.List(f); }
  Result<int64_t> Prune(Timestamp before, int limit) override { return inner_.Prune(before, limit); }
  std::atomic<int> appends{0};

 private:
  AuditStore& inner_;
};

TEST(AuditLog, AFailingEntryFailsAloneAndTheOthersLand) {
  testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto stores, SqliteStores::Open(dir.File("outflow.db"), {}, kT0));
  PickyStore picky(stores->audit());
  AuditLog log(picky);
  constexpr int kThreads = 6;
  std::vector<Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      AuditEntry e = Entry("key:" + std::to_string(t), t);
      if (t == 3) e.action = "bad";
      results[t] = log.Record(e);
    });
  }
  for (auto& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(results[t].ok(), t != 3) << t;
  AuditFilter f;
  ASSERT_OK_AND_ASSIGN(AuditPage page, stores->audit().List(f));
  EXPECT_EQ(page.entries.size(), static_cast<size_t>(kThreads - 1));
}

TEST(AuditLog, CliActorNamesTheUnixUser) {
  const std::string actor = CliActor();
  EXPECT_TRUE(actor.starts_with("cli:")) << actor;
  EXPECT_GT(actor.size(), 4u);
}

}  // namespace
}  // namespace outflow
