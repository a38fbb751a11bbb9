// SQLite-specific behaviour: the conformance suite instantiated for SQLite, and
// what only a real SQLite file can show (locks, a full disk, corruption, schema
// versions).
#include "store/sqlite/sqlite_job_store.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "store/job_store_conformance.h"
#include "store/sqlite/db.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/sqlite_store.h"
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

// Migration 11 gives an unfinished import, an active plan and a scheduled campaign
// left without a job (by a crash of a version that stored them in two transactions)
// the job the removed start-up sweeps gave, and leaves every other row alone.
TEST(JobsForUnqueuedWorkMigration, GivesWorkWithoutAJobTheJobTheSweepGave) {
  testing::TempDir dir;
  auto opened = SqliteStores::Open(dir.File("outflow.db"), {}, kT0);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  SqliteStores& st = **opened;
  Import im;
  im.file_name = "a.csv";
  im.file_path = dir.File("a.csv");
  ASSERT_OK_AND_ASSIGN(Import running, st.imports().Create(im, kT0));  // no job
  ASSERT_OK_AND_ASSIGN(Import done, st.imports().Create(im, kT0));
  ASSERT_OK(st.imports().Cancel(done.id, kT0));
  ReleasePlan p;
  p.name = "warm-up";
  p.per_slot = 1;
  p.interval_seconds = 60;
  p.started_at = kT0;
  p.next_slot_at = kT0 + seconds(60);
  ASSERT_OK_AND_ASSIGN(ReleasePlan plan, st.releases().Create(p, kT0));  // no job
  SendingAccount a;
  a.name = "mail";
  a.channel = Channel::kLog;
  a.provider = "log";
  ASSERT_OK_AND_ASSIGN(SendingAccount account, st.campaigns().CreateAccount(a, nullptr, kT0));
  MessageTemplateRecord t;
  t.name = "t";
  t.text = "x";
  ASSERT_OK_AND_ASSIGN(MessageTemplateRecord tmpl, st.campaigns().CreateTemplate(t, kT0));
  Campaign c;
  c.name = "later";
  c.account = account.id;
  c.template_id = tmpl.id;
  c.state = CampaignState::kScheduled;
  c.scheduled_at = kT0 + seconds(600);
  ASSERT_OK_AND_ASSIGN(Campaign camp, st.campaigns().CreateCampaign(c, kT0));  // no job
  const std::string import_key = "import-" + std::to_string(running.id.value());
  ASSERT_OK(st.jobs().Enqueue(std::vector<JobSpec>{{"import.process", kT0, 20, import_key, "{}"}}, kT0));
  ASSERT_OK_AND_ASSIGN(auto raw, sqlite::Connection::Open(dir.File("outflow.db"), {}));
  for (const sqlite::Migration& m : sqlite::AllMigrations()) {
    if (m.version == 11) ASSERT_OK(raw->Exec(m.sql));
  }
  ASSERT_OK_AND_ASSIGN(JobPage page, st.jobs().List({}));
  std::map<std::string, Job> by_key;
  for (const Job& j : page.jobs) by_key[j.idempotency_key.value_or("")] = j;
  EXPECT_EQ(page.jobs.size(), 3u) << "the import's existing job is kept; the cancelled import gets none";
  EXPECT_EQ(by_key[import_key].payload, "{}") << "the job that was there";
  const std::string slot_key =
      "release-" + std::to_string(plan.id.value()) + "-" + std::to_string(ToMicros(kT0) + 60'000'000);
  ASSERT_EQ(by_key.count(slot_key), 1u);
  EXPECT_EQ(by_key[slot_key].kind, "release.slot");
  EXPECT_EQ(by_key[slot_key].due_at, kT0 + seconds(60));
  EXPECT_EQ(by_key[slot_key].payload, "{\"plan_id\":" + std::to_string(plan.id.value()) +
                                          ",\"slot_at\":" + std::to_string(ToMicros(kT0) + 60'000'000) + "}");
  const std::string start_key =
      "campaign-start-" + std::to_string(camp.id.value()) + "-" + std::to_string(ToMicros(kT0));
  ASSERT_EQ(by_key.count(start_key), 1u);
  EXPECT_EQ(by_key[start_key].due_at, kT0 + seconds(600));
  EXPECT_EQ(by_key[start_key].max_attempts, 100);
  EXPECT_EQ(by_key[start_key].payload, "{\"campaign_id\":" + std::to_string(camp.id.value()) + "}");
  EXPECT_EQ((*st.jobs().CountByState())[static_cast<size_t>(JobState::kReady)], 3) << "the counts kept by triggers";
}

}  // namespace
}  // namespace outflow
