// AuditLog over a real SQLite file: concurrent records share transactions and
// all land; an entry the store refuses fails alone; a store that fails keeps the
// entries for later; Flush and Stop write what is queued.
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
  AuditLog log(stores->audit(), AuditLogOptions{.flush_every = std::chrono::seconds(60), .batch = 100});
  constexpr int kThreads = 8, kEach = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) log.Record(Entry("key:" + std::to_string(t), i));
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_OK(log.Flush());
  EXPECT_EQ(log.stats().written, kThreads * kEach);
  EXPECT_LE(log.stats().flushes, kThreads * kEach / 100 + 1) << "batches, not one transaction an entry";
  AuditFilter f;
  f.limit = 1000;
  ASSERT_OK_AND_ASSIGN(AuditPage page, stores->audit().List(f));
  EXPECT_EQ(page.entries.size(), static_cast<size_t>(kThreads * kEach));
}

// Refuses any group that holds an entry whose action is "bad"; while `down`, refuses all.
class PickyStore final : public AuditStore {
 public:
  explicit PickyStore(AuditStore& inner) : inner_(inner) {}
  Status Append(std::span<const AuditEntry> entries) override {
    ++appends;
    if (down) return Status::Unavailable("database is locked");
    for (const AuditEntry& e : entries) {
      if (e.action == "bad") return Status::InvalidArgument("bad entry");
    }
    return inner_.Append(entries);
  }
  Result<AuditPage> List(const AuditFilter& f) override { return inner_.List(f); }
  Result<int64_t> Prune(Timestamp before, int limit) override { return inner_.Prune(before, limit); }
  std::atomic<int> appends{0};
  std::atomic<bool> down{false};  // every Append fails as a store that is down does

 private:
  AuditStore& inner_;
};

TEST(AuditLog, AFailingEntryFailsAloneAndTheOthersLand) {
  testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto stores, SqliteStores::Open(dir.File("outflow.db"), {}, kT0));
  PickyStore picky(stores->audit());
  AuditLog log(picky, AuditLogOptions{.flush_every = std::chrono::seconds(60)});
  constexpr int kEntries = 6;
  for (int i = 0; i < kEntries; ++i) {
    AuditEntry e = Entry("key:1", i);
    if (i == 3) e.action = "bad";
    log.Record(e);
  }
  ASSERT_OK(log.Flush());
  EXPECT_EQ(log.stats().failed, 1);
  EXPECT_EQ(log.stats().written, kEntries - 1);
  AuditFilter f;
  ASSERT_OK_AND_ASSIGN(AuditPage page, stores->audit().List(f));
  EXPECT_EQ(page.entries.size(), static_cast<size_t>(kEntries - 1));
}

TEST(AuditLog, AFailingStoreKeepsTheEntriesAndStopWritesThemOnceItRecovers) {
  testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto stores, SqliteStores::Open(dir.File("outflow.db"), {}, kT0));
  PickyStore flaky(stores->audit());
  flaky.down = true;
  AuditLog log(
      flaky, AuditLogOptions{.flush_every = std::chrono::milliseconds(1), .retry_after = std::chrono::milliseconds(1)});
  log.Record(Entry("key:1", 1));
  log.Record(Entry("key:1", 2));
  Status st = log.Flush();
  EXPECT_EQ(st.code(), Code::kUnavailable) << "a reader hears that the log is behind";
  flaky.down = false;
  ASSERT_OK(log.Flush());
  log.Record(Entry("key:1", 3));
  log.Stop();  // writes what is queued
  AuditFilter f;
  ASSERT_OK_AND_ASSIGN(AuditPage page, stores->audit().List(f));
  EXPECT_EQ(page.entries.size(), 3u) << "nothing lost, nothing twice";
  EXPECT_EQ(log.stats().failed, 0);
}

TEST(AuditLog, CliActorNamesTheUnixUser) {
  const std::string actor = CliActor();
  EXPECT_TRUE(actor.starts_with("cli:")) << actor;
  EXPECT_GT(actor.size(), 4u);
}

}  // namespace
}  // namespace outflow
