#include "engine/pruner.h"

#include <gtest/gtest.h>

#include "store/sqlite/sqlite_job_store.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace outflow {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

const Timestamp kT0 = FromMicros(1'800'000'000'000'000);
constexpr auto kDay = hours(24);

class PrunerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteJobStore::Open(dir_.File("outflow.db"), kT0);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  // n jobs enqueued, claimed and done at the clock's time.
  void FinishNow(int n) {
    std::vector<JobSpec> specs(static_cast<size_t>(n));
    for (auto& s : specs) {
      s.kind = "noop";
      s.due_at = clock_.Now();
    }
    ASSERT_OK(store_->Enqueue(specs, clock_.Now()));
    ASSERT_OK_AND_ASSIGN(auto jobs, store_->Claim("n1", clock_.Now(), seconds(30), n));
    std::vector<JobOutcome> done;
    for (auto& j : jobs) done.push_back({j.id, JobOutcome::Kind::kDone, {}, {}});
    ASSERT_OK(store_->Commit("n1", done, clock_.Now()));
  }
  int64_t Done() { return store_->CountByState().value()[static_cast<size_t>(JobState::kDone)]; }

  testing::TempDir dir_;
  FakeClock clock_{kT0};
  std::unique_ptr<SqliteJobStore> store_;
};

TEST_F(PrunerTest, PassDeletesJobsPastTheRetentionInChunks) {
  FinishNow(23);  // finished at day 0
  clock_.Advance(20 * kDay);
  FinishNow(5);               // finished at day 20
  clock_.Advance(11 * kDay);  // day 31: the first batch is past 30 days, the second is not
  Pruner pruner("finished jobs", PruneFinishedJobs(*store_), clock_,
                PrunerOptions{.retention = 30 * kDay, .chunk = 10});
  ASSERT_OK_AND_ASSIGN(int64_t n, pruner.RunPass());
  EXPECT_EQ(n, 23);
  EXPECT_EQ(Done(), 5);
  ASSERT_OK_AND_ASSIGN(n, pruner.RunPass());
  EXPECT_EQ(n, 0);
}

// The thread runs a pass at start and every interval after it, on the clock.
TEST_F(PrunerTest, ThreadPrunesAtStartAndEveryInterval) {
  FinishNow(3);
  clock_.Advance(31 * kDay);
  FinishNow(4);  // day 31
  Pruner pruner("finished jobs", PruneFinishedJobs(*store_), clock_,
                PrunerOptions{.retention = 30 * kDay, .interval = hours(1), .chunk = 2});
  pruner.Start();
  for (int i = 0; i < 5000 && Done() != 4; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(Done(), 4);
  clock_.Advance(31 * kDay);  // day 62: the second batch is past retention at the next pass
  for (int i = 0; i < 5000 && Done() != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(Done(), 0);
  pruner.Stop();
}

}  // namespace
}  // namespace outflow
