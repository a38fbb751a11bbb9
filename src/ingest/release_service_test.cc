// ReleaseService and ReleaseRunner over a real SQLite file: a plan's slots run as
// jobs through the engine, with a store wrapper that makes chosen reads fail.
#include "ingest/release_service.h"

#include <gtest/gtest.h>

#include "store/sqlite/db.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/fault_injection_store.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace outflow {
namespace {

using std::chrono::seconds;

const Timestamp kT0 = FromMicros(1'800'000'000'000'000);

// Forwards to a ReleaseStore; FailGetAfterNextSlot() makes the first Get after the
// next applied ReleaseSlot return Unavailable (a busy or failing read).
class FlakyReleaseStore final : public ReleaseStore {
 public:
  explicit FlakyReleaseStore(ReleaseStore& target) : t_(target) {}
  void FailGetAfterNextSlot() { armed_ = true; }
  int failed_gets() const { return failed_gets_; }

  Result<ReleasePlan> Create(const ReleasePlan& plan, const JobFn& slot_job, Timestamp now) override {
    return t_.Create(plan, slot_job, now);
  }
  Result<ReleasePlan> Get(ReleasePlanId id) override {
    if (fail_next_get_) {
      fail_next_get_ = false;
      ++failed_gets_;
      return Status::Unavailable("injected: read failed");
    }
    return t_.Get(id);
  }
  Result<std::vector<ReleasePlan>> List() override { return t_.List(); }
  Result<ReleasePlan> SetState(ReleasePlanId id, std::vector<ReleaseState> from, ReleaseState to,
                               std::optional<Timestamp> next_slot, const JobFn& slot_job, Timestamp now) override {
    return t_.SetState(id, std::move(from), to, next_slot, slot_job, now);
  }
  Result<ReleasePlan> Update(const ReleasePlan& plan, const NextSlotFn& next_slot, const JobFn& slot_job,
                             Timestamp now) override {
    return t_.Update(plan, next_slot, slot_job, now);
  }
  Status Reschedule(ReleasePlanId id, Timestamp slot, Timestamp next_slot, Timestamp now) override {
    return t_.Reschedule(id, slot, next_slot, now);
  }
  Result<int64_t> ReleaseSlot(ReleasePlanId id, Timestamp slot, int64_t limit, Timestamp next_slot,
                              Timestamp now) override {
    Result<int64_t> r = t_.ReleaseSlot(id, slot, limit, next_slot, now);
    if (r.ok() && armed_) {
      armed_ = false;
      fail_next_get_ = true;
    }
    return r;
  }
  Result<std::vector<ReleaseLogEntry>> Log(ReleasePlanId id, int limit) override { return t_.Log(id, limit); }
  Result<int64_t> StagedCount() override { return t_.StagedCount(); }

 private:
  ReleaseStore& t_;
  bool armed_ = false;
  bool fail_next_get_ = false;
  int failed_gets_ = 0;
};

class ReleaseServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteStores::Open(dir_.File("outflow.db"), {}, kT0);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    stores_ = std::move(s).value();
    flaky_ = std::make_unique<FlakyReleaseStore>(stores_->releases());
    runner_ = std::make_shared<ReleaseRunner>(*flaky_, clock_);
    handlers_.Register(std::string(kReleaseJobKind), runner_);
    jobs_ = std::make_unique<JobService>(stores_->jobs(), clock_, handlers_, metrics_, nullptr);
    EngineOptions o;
    o.backoff = BackoffPolicy{seconds(1), seconds(1)};
    engine_ = std::make_unique<Engine>(stores_->jobs(), clock_, handlers_, metrics_, o);
    service_ = std::make_unique<ReleaseService>(*flaky_, *jobs_, clock_);
  }
  void Stage(int n) {
    for (int i = 0; i < n; ++i) {
      Contact c;
      c.email = "staged" + std::to_string(i) + "@example.com";
      c.status = ContactStatus::kStaged;
      ASSERT_OK(stores_->contacts().Create(c, clock_.Now()));
    }
  }
  ReleasePlan OnePerMinute() {
    ReleasePlan p;
    p.name = "warm-up";
    p.per_slot = 1;
    p.interval_seconds = 60;
    return p;
  }

  testing::TempDir dir_;
  FakeClock clock_{kT0};
  std::unique_ptr<SqliteStores> stores_;
  std::unique_ptr<FlakyReleaseStore> flaky_;
  std::shared_ptr<ReleaseRunner> runner_;
  HandlerRegistry handlers_;
  EngineMetrics metrics_;
  std::unique_ptr<JobService> jobs_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<ReleaseService> service_;
};

TEST_F(ReleaseServiceTest, SlotsReleaseAtThePlansPaceUntilStagingIsEmpty) {
  Stage(3);
  ASSERT_OK_AND_ASSIGN(ReleasePlan plan, service_->Create(OnePerMinute()));
  for (int slot = 0; slot < 3; ++slot) {
    ASSERT_OK_AND_ASSIGN(int ran, engine_->RunOnce(10));
    EXPECT_EQ(ran, 1) << "slot " << slot;
    clock_.Advance(seconds(60));
  }
  ASSERT_OK_AND_ASSIGN(ReleasePlan after, service_->Get(plan.id));
  EXPECT_EQ(after.released_total, 3);
  EXPECT_EQ(service_->StagedCount().value(), 0);
}

// The slot committed, then reading the plan back failed: the job must be retried
// (which enqueues the next slot), not reported done with no next slot.
TEST_F(ReleaseServiceTest, FailedReadAfterACommittedSlotRetriesAndThePlanGoesOn) {
  Stage(3);
  ASSERT_OK_AND_ASSIGN(ReleasePlan plan, service_->Create(OnePerMinute()));
  flaky_->FailGetAfterNextSlot();
  ASSERT_OK(engine_->RunOnce(10));
  EXPECT_EQ(flaky_->failed_gets(), 1);
  for (int i = 0; i < 10 && service_->StagedCount().value() > 0; ++i) {
    clock_.Advance(seconds(60));
    ASSERT_OK(engine_->RunOnce(10));
  }
  ASSERT_OK_AND_ASSIGN(ReleasePlan after, service_->Get(plan.id));
  EXPECT_EQ(after.released_total, 3);
  EXPECT_EQ(service_->StagedCount().value(), 0);
}

// The jobs table refuses every insert (a trigger on the real file): a plan whose
// slot job cannot be stored is not stored either. (Before, the plan committed
// first and waited for a start-up sweep to get its job.)
TEST_F(ReleaseServiceTest, APlanIsNeverStoredWithoutItsSlotJob) {
  ASSERT_OK_AND_ASSIGN(auto raw, sqlite::Connection::Open(dir_.File("outflow.db"), {}));
  ASSERT_OK(raw->Exec("CREATE TRIGGER no_jobs BEFORE INSERT ON jobs BEGIN SELECT RAISE(ABORT, 'injected'); END"));
  EXPECT_FALSE(service_->Create(OnePerMinute()).ok());
  EXPECT_TRUE(service_->List()->empty());
  ASSERT_OK(raw->Exec("DROP TRIGGER no_jobs"));
  ASSERT_OK_AND_ASSIGN(ReleasePlan plan, service_->Create(OnePerMinute()));
  ASSERT_OK(service_->Pause(plan.id).status());
  ASSERT_OK(raw->Exec("CREATE TRIGGER no_jobs BEFORE INSERT ON jobs BEGIN SELECT RAISE(ABORT, 'injected'); END"));
  EXPECT_FALSE(service_->Resume(plan.id).ok());
  EXPECT_EQ(service_->Get(plan.id)->state, ReleaseState::kPaused) << "not resumed without its slot job";
}

// The slot committed, then the outcome (with the next slot's job) failed to commit:
// the run's lease expires, it runs again, finds the slot taken and brings the next
// slot's job; the plan goes on to the end with no sweep.
TEST_F(ReleaseServiceTest, AFailedOutcomeCommitAfterASlotDoesNotStallThePlan) {
  Stage(3);
  testing::FaultInjectionStore faults(stores_->jobs());
  EngineOptions o;
  o.node_id = "n1";
  Engine engine(faults, clock_, handlers_, metrics_, o);
  ASSERT_OK_AND_ASSIGN(ReleasePlan plan, service_->Create(OnePerMinute()));
  faults.FailNext(testing::FaultInjectionStore::Op::kCommit);
  EXPECT_FALSE(engine.RunOnce(10).ok());
  EXPECT_EQ(service_->StagedCount().value(), 2) << "the slot committed";
  clock_.Advance(o.lease + seconds(1));
  for (int i = 0; i < 10 && service_->StagedCount().value() > 0; ++i) {
    ASSERT_OK(engine.RunOnce(10));
    clock_.Advance(seconds(60));
  }
  ASSERT_OK_AND_ASSIGN(ReleasePlan after, service_->Get(plan.id));
  EXPECT_EQ(after.released_total, 3);
  EXPECT_EQ(after.state, ReleaseState::kCompleted);
}

}  // namespace
}  // namespace outflow
