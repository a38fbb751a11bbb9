#include "engine/engine.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "engine/job_service.h"
#include "store/sqlite/sqlite_job_store.h"
#include "testing/fault_injection_store.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace outflow {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FaultInjectionStore;
using Op = FaultInjectionStore::Op;

const Timestamp kT0 = FromMicros(1'800'000'000'000'000);

// Records every run of every job, and can be told how to answer.
class Recorder {
 public:
  RunResult Run(const Job& j) {
    std::lock_guard g(mu_);
    runs_[j.id]++;
    total_++;
    cv_.notify_all();
    auto it = answers_.find(j.id);
    if (it == answers_.end() || it->second.empty()) return RunResult::Done();
    RunResult r = it->second.front();
    it->second.erase(it->second.begin());
    return r;
  }
  void Answer(JobId id, std::vector<RunResult> rs) {
    std::lock_guard g(mu_);
    answers_[id] = std::move(rs);
  }
  int runs(JobId id) {
    std::lock_guard g(mu_);
    return runs_[id];
  }
  int total() {
    std::lock_guard g(mu_);
    return total_;
  }
  // Waits (bounded) until at least n runs happened in total.
  bool AwaitTotal(int n, std::chrono::milliseconds limit = milliseconds(10000)) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, limit, [&] { return total_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<JobId, int> runs_;
  std::map<JobId, std::vector<RunResult>> answers_;
  int total_ = 0;
};

// The real clock, counting how often a caller waits on it; each wait that returns
// is a wake-up of that caller.
class CountingClock final : public Clock {
 public:
  Timestamp Now() const override { return SystemClock::Instance().Now(); }
  void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, Timestamp deadline) override {
    bool spinning;
    {
      std::lock_guard g(mu_);
      spinning = ++waits_ > 1000;
    }
    counted_.notify_all();
    if (spinning) {  // slowed, so that a spinning caller lets the test stop it
      cv.wait_for(lock, std::chrono::milliseconds(1));
      return;
    }
    SystemClock::Instance().WaitUntil(cv, lock, deadline);
  }
  // Waits (bounded) until at least n waits began; false if they did not.
  bool AwaitWaits(int n, std::chrono::milliseconds limit) {
    std::unique_lock lk(mu_);
    return counted_.wait_for(lk, limit, [&] { return waits_ >= n; });
  }
  int waits() {
    std::lock_guard g(mu_);
    return waits_;
  }

 private:
  std::mutex mu_;
  std::condition_variable counted_;
  int waits_ = 0;
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OpenStore();
    handlers_.Register("test",
                       std::make_shared<FunctionHandler>("records", [this](const Job& j) { return recorder_.Run(j); }));
  }
  void OpenStore() {
    auto s = SqliteJobStore::Open(dir_.File("outflow.db"), kT0);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    sqlite_ = std::move(s).value();
    faults_ = std::make_unique<FaultInjectionStore>(*sqlite_);
  }
  EngineOptions Options() {
    EngineOptions o;
    o.node_id = "n1";
    o.workers = 2;
    o.backoff = BackoffPolicy{seconds(1), seconds(60)};
    o.store_retry_delay = milliseconds(1);
    return o;
  }
  std::unique_ptr<Engine> MakeEngine(EngineOptions o) {
    return std::make_unique<Engine>(*faults_, clock_, handlers_, metrics_, o);
  }
  // Store-error retries wait store_retry_delay on the engine's clock; the threaded
  // fault tests run on real time so that those 1 ms waits pass by themselves.
  std::unique_ptr<Engine> MakeRealTimeEngine(EngineOptions o) {
    return std::make_unique<Engine>(*faults_, SystemClock::Instance(), handlers_, metrics_, o);
  }
  std::vector<JobId> Enqueue(int n, Duration due_offset = Duration::zero(), int max_attempts = 5) {
    std::vector<JobSpec> specs(static_cast<size_t>(n));
    for (auto& s : specs) {
      s.kind = "test";
      s.due_at = clock_.Now() + due_offset;
      s.max_attempts = max_attempts;
    }
    auto r = sqlite_->Enqueue(specs, clock_.Now());
    EXPECT_TRUE(r.ok());
    std::vector<JobId> ids;
    for (auto& e : *r) ids.push_back(e.id);
    return ids;
  }
  JobState StateOf(JobId id) { return sqlite_->Get(id)->state; }

  testing::TempDir dir_;
  FakeClock clock_{kT0};
  std::unique_ptr<SqliteJobStore> sqlite_;
  std::unique_ptr<FaultInjectionStore> faults_;
  HandlerRegistry handlers_;
  EngineMetrics metrics_;
  Recorder recorder_;
};

TEST_F(EngineTest, RunOnceRunsOnlyDueJobs) {
  auto due = Enqueue(3);
  auto later = Enqueue(1, seconds(10));
  auto engine = MakeEngine(Options());
  ASSERT_OK_AND_ASSIGN(int n, engine->RunOnce(100));
  EXPECT_EQ(n, 3);
  for (JobId id : due) EXPECT_EQ(StateOf(id), JobState::kDone);
  EXPECT_EQ(StateOf(later[0]), JobState::kReady);
  EXPECT_EQ(metrics_.completed.load(), 3u);
}

TEST_F(EngineTest, RetriesWithBackoffThenDies) {
  auto ids = Enqueue(1, Duration::zero(), /*max_attempts=*/3);
  recorder_.Answer(ids[0], {RunResult::Retry("e1"), RunResult::Retry("e2"), RunResult::Retry("e3")});
  auto engine = MakeEngine(Options());
  ASSERT_OK(engine->RunOnce(10));
  ASSERT_OK_AND_ASSIGN(Job j, sqlite_->Get(ids[0]));
  EXPECT_EQ(j.state, JobState::kRetrying);
  EXPECT_LE(j.due_at, kT0 + seconds(1));  // full jitter within the first ceiling
  EXPECT_NE(j.last_error->find("attempt 1 of 3: e1"), std::string::npos);
  clock_.Advance(seconds(1));
  ASSERT_OK(engine->RunOnce(10));
  ASSERT_OK_AND_ASSIGN(j, sqlite_->Get(ids[0]));
  EXPECT_LE(j.due_at, clock_.Now() + seconds(2));
  clock_.Advance(seconds(2));
  ASSERT_OK(engine->RunOnce(10));
  ASSERT_OK_AND_ASSIGN(j, sqlite_->Get(ids[0]));
  EXPECT_EQ(j.state, JobState::kDead);
  EXPECT_NE(j.last_error->find("attempt 3 of 3: e3"), std::string::npos);
  EXPECT_EQ(recorder_.runs(ids[0]), 3);
  EXPECT_EQ(metrics_.dead.load(), 1u);
}

TEST_F(EngineTest, HandlerRetryTimeIsHonoured) {
  auto ids = Enqueue(1);
  recorder_.Answer(ids[0], {RunResult::Retry("429", kT0 + seconds(42))});
  auto engine = MakeEngine(Options());
  ASSERT_OK(engine->RunOnce(10));
  ASSERT_OK_AND_ASSIGN(Job j, sqlite_->Get(ids[0]));
  EXPECT_EQ(j.due_at, kT0 + seconds(42));
  clock_.Advance(seconds(41));
  ASSERT_OK_AND_ASSIGN(int n, engine->RunOnce(10));
  EXPECT_EQ(n, 0);
  clock_.Advance(seconds(1));
  ASSERT_OK_AND_ASSIGN(n, engine->RunOnce(10));
  EXPECT_EQ(n, 1);
}

TEST_F(EngineTest, FailIsPermanentAndUnknownKindDies) {
  auto ids = Enqueue(1);
  recorder_.Answer(ids[0], {RunResult::Fail("400 bad request")});
  std::vector<JobSpec> orphan(1);
  orphan[0].kind = "nobody";
  orphan[0].due_at = kT0;
  ASSERT_OK_AND_ASSIGN(auto o, sqlite_->Enqueue(orphan, kT0));
  auto engine = MakeEngine(Options());
  ASSERT_OK(engine->RunOnce(10));
  EXPECT_EQ(sqlite_->Get(ids[0])->state, JobState::kDead);
  EXPECT_EQ(sqlite_->Get(ids[0])->attempts, 1);
  ASSERT_OK_AND_ASSIGN(Job j, sqlite_->Get(o[0].id));
  EXPECT_EQ(j.state, JobState::kDead);
  EXPECT_NE(j.last_error->find("no handler"), std::string::npos);
}

// The threaded engine sleeps until the earliest due time, and an earlier enqueue wakes it.
TEST_F(EngineTest, WakesAtEarliestDueTimeAndOnEarlierEnqueue) {
  auto late = Enqueue(1, seconds(60));
  auto engine = MakeEngine(Options());
  JobService service(*faults_, clock_, handlers_, metrics_, engine.get());
  ASSERT_OK(engine->Start());
  // Await the dispatcher's decision to sleep until +60 s.
  for (int i = 0; i < 2000 && engine->SleepTargetForTest() != kT0 + seconds(60); ++i) {
    std::this_thread::yield();
    std::this_thread::sleep_for(milliseconds(1));
  }
  ASSERT_EQ(engine->SleepTargetForTest(), kT0 + seconds(60));
  // An earlier job, enqueued through the service, moves the wake-up.
  std::vector<JobSpec> spec(1);
  spec[0].kind = "test";
  spec[0].due_at = kT0 + seconds(5);
  ASSERT_OK_AND_ASSIGN(auto early, service.Enqueue(spec, ""));
  for (int i = 0; i < 2000 && engine->SleepTargetForTest() != kT0 + seconds(5); ++i) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  ASSERT_EQ(engine->SleepTargetForTest(), kT0 + seconds(5));
  EXPECT_EQ(recorder_.total(), 0);
  clock_.Advance(seconds(5));
  ASSERT_TRUE(recorder_.AwaitTotal(1));
  EXPECT_EQ(recorder_.runs(early[0].id), 1);
  EXPECT_EQ(recorder_.runs(late[0]), 0);
  clock_.Advance(seconds(55));
  ASSERT_TRUE(recorder_.AwaitTotal(2));
  engine->Stop();
  EXPECT_EQ(StateOf(late[0]), JobState::kDone);
  EXPECT_EQ(StateOf(early[0].id), JobState::kDone);
}

// A job due in year 9999 must not make the dispatcher spin: it sleeps once and
// stays asleep (a wait that long once overflowed and returned at once).
TEST_F(EngineTest, FarFutureJobDoesNotSpinTheDispatcher) {
  std::vector<JobSpec> spec(1);
  spec[0].kind = "test";
  spec[0].due_at = kLatestTimestamp;
  ASSERT_OK(sqlite_->Enqueue(spec, kT0));
  CountingClock clock;
  Engine engine(*faults_, clock, handlers_, metrics_, Options());
  ASSERT_OK(engine.Start());
  ASSERT_TRUE(clock.AwaitWaits(1, milliseconds(10000)));
  EXPECT_EQ(engine.SleepTargetForTest(), kLatestTimestamp);
  // Observed for a bounded time: a spinning dispatcher makes thousands of waits.
  EXPECT_FALSE(clock.AwaitWaits(100, milliseconds(200))) << clock.waits() << " wake-ups";
  EXPECT_LE(clock.waits(), 2);
  engine.Stop();
  EXPECT_EQ(recorder_.total(), 0);
}

TEST_F(EngineTest, ThreadedEngineRunsManyJobsExactlyOnce) {
  auto ids = Enqueue(5000);
  EngineOptions o = Options();
  o.claim_batch = 128;
  o.max_in_flight = 256;
  auto engine = MakeEngine(o);
  ASSERT_OK(engine->Start());
  ASSERT_TRUE(recorder_.AwaitTotal(5000));
  engine->Stop();
  for (JobId id : ids) ASSERT_EQ(recorder_.runs(id), 1);
  ASSERT_OK_AND_ASSIGN(StateCounts c, sqlite_->CountByState());
  EXPECT_EQ(c[static_cast<size_t>(JobState::kDone)], 5000);
}

TEST_F(EngineTest, StopReleasesQueuedJobsWithoutCountingTheAttempt) {
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool open = false;
  std::atomic<int> started{0};
  handlers_.Register("slow", std::make_shared<FunctionHandler>("blocks", [&](const Job&) {
                       started++;
                       std::unique_lock lk(gate_mu);
                       gate_cv.wait(lk, [&] { return open; });
                       return RunResult::Done();
                     }));
  std::vector<JobSpec> specs(10);
  for (auto& s : specs) {
    s.kind = "slow";
    s.due_at = kT0;
  }
  ASSERT_OK(sqlite_->Enqueue(specs, kT0));
  EngineOptions o = Options();
  o.workers = 2;
  auto engine = MakeEngine(o);
  ASSERT_OK(engine->Start());
  while (started < 2) std::this_thread::sleep_for(milliseconds(1));
  std::thread stopper([&] { engine->Stop(); });
  // Running handlers are awaited: open the gate only once Stop has begun.
  while (engine->running()) std::this_thread::sleep_for(milliseconds(1));
  {
    std::lock_guard g(gate_mu);
    open = true;
  }
  gate_cv.notify_all();
  stopper.join();
  ASSERT_OK_AND_ASSIGN(StateCounts c, sqlite_->CountByState());
  EXPECT_EQ(c[static_cast<size_t>(JobState::kDone)], 2);
  EXPECT_EQ(c[static_cast<size_t>(JobState::kReady)], 8);
  EXPECT_EQ(c[static_cast<size_t>(JobState::kLeased)], 0);
}

// ---- Faults between claim, run and commit (see docs/jobs.md) ----

TEST_F(EngineTest, ClaimFailureLosesNothing) {
  auto ids = Enqueue(10);
  faults_->FailNext(Op::kClaim, 3);
  auto engine = MakeEngine(Options());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(engine->RunOnce(100).status().code(), Code::kUnavailable);
  ASSERT_OK_AND_ASSIGN(int n, engine->RunOnce(100));
  EXPECT_EQ(n, 10);
  for (JobId id : ids) EXPECT_EQ(recorder_.runs(id), 1);
}

// The process dies right after its claim committed: the jobs never ran, and the
// restarted node recovers its own leases at once and runs each job once.
TEST_F(EngineTest, CrashAfterClaimRunsEachJobOnceAfterRestart) {
  auto ids = Enqueue(10);
  faults_->CrashAfter(Op::kClaim);
  {
    auto engine = MakeEngine(Options());
    EXPECT_FALSE(engine->RunOnce(100).ok());
  }
  EXPECT_EQ(recorder_.total(), 0);
  EXPECT_EQ(StateOf(ids[0]), JobState::kLeased);
  OpenStore();  // "restart"
  auto engine = MakeEngine(Options());
  ASSERT_OK(engine->Start());
  ASSERT_TRUE(recorder_.AwaitTotal(10));
  engine->Stop();
  for (JobId id : ids) {
    EXPECT_EQ(recorder_.runs(id), 1);
    EXPECT_EQ(StateOf(id), JobState::kDone);
  }
  EXPECT_EQ(metrics_.recovered.load(), 10u);
}

// The process dies after running but before its outcomes committed: those jobs
// run again (at least once), and only those.
TEST_F(EngineTest, CrashBeforeCommitRerunsOnlyTheInFlightJobs) {
  auto first = Enqueue(5);
  auto engine = MakeEngine(Options());
  ASSERT_OK(engine->RunOnce(100));  // committed: must never run again
  auto second = Enqueue(5);
  faults_->FailNext(Op::kCommit, 1000);  // every commit fails, then "crash"
  EXPECT_FALSE(engine->RunOnce(100).ok());
  engine.reset();
  OpenStore();
  engine = MakeEngine(Options());
  ASSERT_OK(engine->Start());
  ASSERT_TRUE(recorder_.AwaitTotal(15));
  engine->Stop();
  for (JobId id : first) EXPECT_EQ(recorder_.runs(id), 1);
  for (JobId id : second) EXPECT_EQ(recorder_.runs(id), 2);
  for (JobId id : second) EXPECT_EQ(StateOf(id), JobState::kDone);
}

// A commit that fails transiently is retried by the running engine: no rerun.
TEST_F(EngineTest, TransientCommitFailureIsRetriedWithoutRerun) {
  clock_.Set(SystemClock::Instance().Now());  // due now in real time
  auto ids = Enqueue(50);
  faults_->FailNext(Op::kCommit, 3);
  auto engine = MakeRealTimeEngine(Options());
  ASSERT_OK(engine->Start());
  ASSERT_TRUE(recorder_.AwaitTotal(50));
  // Await the commit: the job count in state done reaches 50.
  for (int i = 0; i < 5000; ++i) {
    if ((*sqlite_->CountByState())[static_cast<size_t>(JobState::kDone)] == 50) break;
    std::this_thread::sleep_for(milliseconds(1));
  }
  engine->Stop();
  for (JobId id : ids) {
    EXPECT_EQ(recorder_.runs(id), 1);
    EXPECT_EQ(StateOf(id), JobState::kDone);
  }
  EXPECT_GE(metrics_.store_errors.load(), 3u);
}

// The database applied the commit but the reply was lost: retrying the commit is
// harmless (the guarded update is stale) and nothing runs twice.
TEST_F(EngineTest, LostCommitAcknowledgementDoesNotRerun) {
  clock_.Set(SystemClock::Instance().Now());  // due now in real time
  auto ids = Enqueue(20);
  faults_->AckLostNext(Op::kCommit);
  auto engine = MakeRealTimeEngine(Options());
  ASSERT_OK(engine->Start());
  ASSERT_TRUE(recorder_.AwaitTotal(20));
  for (int i = 0; i < 5000 && metrics_.stale.load() == 0; ++i) std::this_thread::sleep_for(milliseconds(1));
  engine->Stop();
  for (JobId id : ids) {
    EXPECT_EQ(recorder_.runs(id), 1);
    EXPECT_EQ(StateOf(id), JobState::kDone);
  }
}

// A handler's follow-up jobs are committed in the transaction of its outcome: a
// failed commit leaves neither (the job runs again and brings them again), never
// a done job without its follow-ups; a second commit does not enqueue them twice.
TEST_F(EngineTest, FollowUpsAreCommittedWithTheOutcomeOrNotAtAll) {
  handlers_.Register("chain", std::make_shared<FunctionHandler>("chains", [this](const Job&) {
                       JobSpec next;
                       next.kind = "test";
                       next.due_at = clock_.Now();
                       next.idempotency_key = "next";
                       return RunResult::Done({next});
                     }));
  std::vector<JobSpec> chain(1);
  chain[0].kind = "chain";
  chain[0].due_at = clock_.Now();
  ASSERT_OK_AND_ASSIGN(auto enq, sqlite_->Enqueue(chain, clock_.Now()));
  auto engine = MakeEngine(Options());
  faults_->FailNext(Op::kCommit);
  EXPECT_EQ(engine->RunOnce(10).status().code(), Code::kUnavailable);
  EXPECT_EQ(StateOf(enq[0].id), JobState::kLeased);
  EXPECT_EQ((*sqlite_->CountByState())[static_cast<size_t>(JobState::kReady)], 0);  // no follow-up yet
  clock_.Advance(Options().lease + seconds(1));  // the lease of the "crashed" run expires
  ASSERT_OK(engine->RunOnce(10));                // recovers, runs the chain again, commits
  EXPECT_EQ(StateOf(enq[0].id), JobState::kDone);
  ASSERT_OK_AND_ASSIGN(int n, engine->RunOnce(10));  // the follow-up, once
  EXPECT_EQ(n, 1);
  EXPECT_EQ(recorder_.total(), 1);
  EXPECT_EQ(metrics_.enqueued.load(), 1u);
}

TEST_F(EngineTest, AnInvalidFollowUpFailsTheRun) {
  handlers_.Register("chain", std::make_shared<FunctionHandler>("chains", [this](const Job&) {
                       JobSpec next;
                       next.kind = "nobody.handles.this";
                       next.due_at = clock_.Now();
                       return RunResult::Done({next});
                     }));
  std::vector<JobSpec> chain(1);
  chain[0].kind = "chain";
  chain[0].due_at = clock_.Now();
  ASSERT_OK_AND_ASSIGN(auto enq, sqlite_->Enqueue(chain, clock_.Now()));
  auto engine = MakeEngine(Options());
  ASSERT_OK(engine->RunOnce(10));
  ASSERT_OK_AND_ASSIGN(Job j, sqlite_->Get(enq[0].id));
  EXPECT_EQ(j.state, JobState::kDead);
  EXPECT_NE(j.last_error.value_or("").find("follow-up job 0"), std::string::npos) << j.last_error.value_or("");
  EXPECT_EQ((*sqlite_->CountByState())[static_cast<size_t>(JobState::kReady)], 0);
}

// A lease that expires (another node died) goes back to the queue and runs here.
TEST_F(EngineTest, ExpiredLeaseOfAnotherNodeIsRecovered) {
  auto ids = Enqueue(1);
  ASSERT_OK(sqlite_->Claim("dead-node", kT0, seconds(30), 10));
  auto engine = MakeEngine(Options());
  ASSERT_OK_AND_ASSIGN(int n, engine->RunOnce(10));
  EXPECT_EQ(n, 0);
  clock_.Advance(seconds(31));
  ASSERT_OK_AND_ASSIGN(n, engine->RunOnce(10));
  EXPECT_EQ(n, 1);
  ASSERT_OK_AND_ASSIGN(Job j, sqlite_->Get(ids[0]));
  EXPECT_EQ(j.state, JobState::kDone);
  EXPECT_EQ(j.attempts, 2);
}

}  // namespace
}  // namespace outflow
