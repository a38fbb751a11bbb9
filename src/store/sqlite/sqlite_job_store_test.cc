// SQLite-specific behaviour: the conformance suite instantiated for SQLite, and
// what only a real SQLite file can show (locks, a full disk, corruption, schema
// versions).
#include "store/sqlite/sqlite_job_store.h"

#include <gtest/gtest.h>

#include <fstream>

#include "store/job_store_conformance.h"
#include "store/sqlite/db.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace outflow {
namespace {

using std::chrono::seconds;

const Timestamp kT0 = FromMicros(1'800'000'000'000'000);

INSTANTIATE_TEST_SUITE_P(Sqlite, JobStoreConformance,
                         ::testing::Values(StoreFactory{
                             "sqlite",
                             [](const std::string& dir, Timestamp now) -> Result<std::unique_ptr<JobStore>> {
                               auto s = SqliteJobStore::Open(dir + "/outflow.db", now);
                               if (!s.ok()) return s.status();
                               return std::unique_ptr<JobStore>(std::move(s).value());
                             }}),
                         [](const ::testing::TestParamInfo<StoreFactory>& p) { return p.param.name; });

JobSpec Spec(Timestamp due) {
  JobSpec s;
  s.kind = "noop";
  s.due_at = due;
  return s;
}

class SqliteJobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteJobStore::Open(dir_.File("outflow.db"), kT0);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  int64_t Count(JobState s) {
    auto c = store_->CountByState();
    EXPECT_TRUE(c.ok());
    return (*c)[static_cast<size_t>(s)];
  }

  testing::TempDir dir_;
  std::unique_ptr<SqliteJobStore> store_;
};

TEST_F(SqliteJobStoreTest, RefusesNewerSchema) {
  {
    ASSERT_OK_AND_ASSIGN(auto c, sqlite::Connection::Open(dir_.File("outflow.db"), {}));
    ASSERT_OK(c->Exec("INSERT INTO schema_migrations VALUES (999, 'from the future', 0)"));
  }
  store_.reset();
  auto r = SqliteJobStore::Open(dir_.File("outflow.db"), kT0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("newer Outflow"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("999"), std::string::npos);
}

TEST(SqliteJobStoreOpen, RefusesAFileThatIsNotADatabase) {
  testing::TempDir dir;
  {
    std::ofstream f(dir.File("outflow.db"));
    for (int i = 0; i < 100; ++i) f << "this is not an sqlite database, just some text\n";
  }
  auto r = SqliteJobStore::Open(dir.File("outflow.db"), kT0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption) << r.status().ToString();
  EXPECT_NE(r.status().message().find("not a database"), std::string::npos) << r.status().message();
}

TEST_F(SqliteJobStoreTest, LockedDatabaseIsUnavailableAndAppliesNothing) {
  store_.reset();
  SqliteJobStore::Options opt;
  opt.busy_timeout_ms = 50;
  ASSERT_OK_AND_ASSIGN(store_, SqliteJobStore::Open(dir_.File("outflow.db"), opt, kT0));
  ASSERT_OK_AND_ASSIGN(auto other, sqlite::Connection::Open(dir_.File("outflow.db"), {}));
  ASSERT_OK(other->Exec("BEGIN IMMEDIATE"));
  std::vector<JobSpec> specs = {Spec(kT0)};
  auto r = store_->Enqueue(specs, kT0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("locked"), std::string::npos) << r.status().message();
  ASSERT_OK(other->Exec("ROLLBACK"));
  EXPECT_EQ(Count(JobState::kReady), 0);
  ASSERT_OK(store_->Enqueue(specs, kT0));  // and it works again once the lock is gone
  EXPECT_EQ(Count(JobState::kReady), 1);
}

TEST_F(SqliteJobStoreTest, FullDatabaseIsUnavailableAndTheBatchIsAllOrNothing) {
  ASSERT_OK(store_->Enqueue(std::vector<JobSpec>{Spec(kT0)}, kT0));
  std::vector<JobSpec> big(5000, Spec(kT0));
  for (auto& s : big) s.payload = "{\"pad\":\"" + std::string(500, 'x') + "\"}";
  ASSERT_OK(store_->ExecOnWriterForTest("PRAGMA max_page_count=64"));  // 256 KiB: the 2.5 MB batch cannot fit
  auto r = store_->Enqueue(big, kT0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("full"), std::string::npos) << r.status().message();
  EXPECT_EQ(Count(JobState::kReady), 1);  // nothing of the batch was applied
}

TEST_F(SqliteJobStoreTest, ReadOnlyDatabaseIsUnavailableAndRecovers) {
  ASSERT_OK(store_->Enqueue(std::vector<JobSpec>{Spec(kT0)}, kT0));
  ASSERT_OK(store_->ExecOnWriterForTest("PRAGMA query_only=1"));
  auto r = store_->Enqueue(std::vector<JobSpec>{Spec(kT0)}, kT0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("read-only"), std::string::npos) << r.status().message();
  EXPECT_EQ(store_->Claim("n1", kT0, seconds(30), 10).status().code(), Code::kUnavailable);
  ASSERT_OK(store_->ExecOnWriterForTest("PRAGMA query_only=0"));
  ASSERT_OK_AND_ASSIGN(auto claimed, store_->Claim("n1", kT0, seconds(30), 10));
  EXPECT_EQ(claimed.size(), 1u);  // what was accepted before is still there
}

TEST_F(SqliteJobStoreTest, ReadSchemaVersionChangesNothing) {
  EXPECT_EQ(SqliteJobStore::ReadSchemaVersion(dir_.File("outflow.db")).value(), SqliteJobStore::LatestSchemaVersion());
  EXPECT_EQ(SqliteJobStore::ReadSchemaVersion(dir_.File("absent.db")).status().code(), Code::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(dir_.File("absent.db")));
}

TEST_F(SqliteJobStoreTest, ReadersAreCappedAndShared) {
  store_.reset();
  SqliteJobStore::Options opt;
  opt.readers = 2;
  ASSERT_OK_AND_ASSIGN(store_, SqliteJobStore::Open(dir_.File("outflow.db"), opt, kT0));
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 50; ++k) ok += store_->CountByState().ok();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 400);
}

}  // namespace
}  // namespace outflow
