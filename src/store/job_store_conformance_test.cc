// The JobStore conformance suite: the contract of store/job_store.h, as tests
// that every store implementation passes. An implementation instantiates it with
// a factory (see sqlite_job_store_test.cc):
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, JobStoreConformance, ::testing::Values(StoreFactory{...}));
#include "store/job_store_conformance.h"

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "testing/status_matchers.h"

namespace outflow {
namespace {

using std::chrono::seconds;

const Timestamp kT0 = FromMicros(1'800'000'000'000'000);

JobSpec Spec(Timestamp due, std::optional<std::string> key = std::nullopt) {
  JobSpec s;
  s.kind = "noop";
  s.due_at = due;
  s.idempotency_key = std::move(key);
  s.payload = R"({"n":1})";
  return s;
}

}  // namespace

void JobStoreConformance::SetUp() {
  Reopen();
}

void JobStoreConformance::Reopen() {
  store_.reset();
  auto s = GetParam().open(dir_.path().string(), kT0);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  store_ = std::move(s).value();
}

std::vector<JobId> JobStoreConformance::EnqueueAt(std::initializer_list<int> due_seconds) {
  std::vector<JobSpec> specs;
  for (int d : due_seconds) specs.push_back(Spec(kT0 + seconds(d)));
  auto r = store_->Enqueue(specs, kT0);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  std::vector<JobId> ids;
  if (r.ok()) {
    for (auto& e : *r) ids.push_back(e.id);
  }
  return ids;
}

int64_t JobStoreConformance::Count(JobState s) {
  auto c = store_->CountByState();
  EXPECT_TRUE(c.ok());
  return c.ok() ? (*c)[static_cast<size_t>(s)] : -1;
}

namespace {

TEST_P(JobStoreConformance, EnqueueThenGet) {
  auto ids = EnqueueAt({5});
  ASSERT_OK_AND_ASSIGN(Job j, store_->Get(ids[0]));
  EXPECT_EQ(j.kind, "noop");
  EXPECT_EQ(j.state, JobState::kReady);
  EXPECT_EQ(j.due_at, kT0 + seconds(5));
  EXPECT_EQ(j.payload, R"({"n":1})");
  EXPECT_EQ(j.attempts, 0);
  EXPECT_EQ(j.created_at, kT0);
  EXPECT_EQ(store_->Get(JobId(999)).status().code(), Code::kNotFound);
}

TEST_P(JobStoreConformance, IdempotencyKeyReturnsExistingJob) {
  std::vector<JobSpec> specs = {Spec(kT0, "a"), Spec(kT0, "b"), Spec(kT0, "a")};
  ASSERT_OK_AND_ASSIGN(auto r, store_->Enqueue(specs, kT0));
  ASSERT_EQ(r.size(), 3u);
  EXPECT_TRUE(r[0].created);
  EXPECT_TRUE(r[1].created);
  EXPECT_FALSE(r[2].created);
  EXPECT_EQ(r[2].id, r[0].id);
  std::vector<JobSpec> again = {Spec(kT0 + seconds(9), "b")};
  ASSERT_OK_AND_ASSIGN(auto r2, store_->Enqueue(again, kT0));
  EXPECT_FALSE(r2[0].created);
  EXPECT_EQ(r2[0].id, r[1].id);
  EXPECT_EQ(Count(JobState::kReady), 2);
}

TEST_P(JobStoreConformance, ClaimTakesDueJobsOldestFirstUpToLimit) {
  auto ids = EnqueueAt({3, 1, 2, 100});
  ASSERT_OK_AND_ASSIGN(auto claimed, store_->Claim("n1", kT0 + seconds(10), seconds(30), 2));
  ASSERT_EQ(claimed.size(), 2u);
  EXPECT_EQ(claimed[0].id, ids[1]);
  EXPECT_EQ(claimed[1].id, ids[2]);
  EXPECT_EQ(claimed[0].state, JobState::kLeased);
  EXPECT_EQ(claimed[0].attempts, 1);
  EXPECT_EQ(claimed[0].lease_owner, "n1");
  EXPECT_EQ(claimed[0].lease_expires_at, kT0 + seconds(40));
  ASSERT_OK_AND_ASSIGN(auto rest, store_->Claim("n2", kT0 + seconds(10), seconds(30), 10));
  ASSERT_EQ(rest.size(), 1u);  // the job due at +100 s is not due
  EXPECT_EQ(rest[0].id, ids[0]);
  ASSERT_OK_AND_ASSIGN(auto none, store_->Claim("n2", kT0 + seconds(10), seconds(30), 10));
  EXPECT_TRUE(none.empty());
}

TEST_P(JobStoreConformance, CommitAppliesOnlyWhileLeaseIsHeld) {
  auto ids = EnqueueAt({0, 0, 0});
  ASSERT_OK_AND_ASSIGN(auto claimed, store_->Claim("n1", kT0, seconds(30), 10));
  ASSERT_EQ(claimed.size(), 3u);
  std::vector<JobOutcome> outcomes = {
      {ids[0], JobOutcome::Kind::kDone, {}, {}},
      {ids[1], JobOutcome::Kind::kRetry, kT0 + seconds(7), "boom"},
      {ids[2], JobOutcome::Kind::kDead, {}, "fatal"},
  };
  ASSERT_OK_AND_ASSIGN(auto stats, store_->Commit("someone-else", outcomes, kT0));
  EXPECT_EQ(stats.applied, 0);
  EXPECT_EQ(stats.stale, 3);
  ASSERT_OK_AND_ASSIGN(stats, store_->Commit("n1", outcomes, kT0 + seconds(1)));
  EXPECT_EQ(stats.applied, 3);
  ASSERT_OK_AND_ASSIGN(Job done, store_->Get(ids[0]));
  EXPECT_EQ(done.state, JobState::kDone);
  EXPECT_EQ(done.finished_at, kT0 + seconds(1));
  EXPECT_FALSE(done.lease_owner.has_value());
  ASSERT_OK_AND_ASSIGN(Job retry, store_->Get(ids[1]));
  EXPECT_EQ(retry.state, JobState::kRetrying);
  EXPECT_EQ(retry.due_at, kT0 + seconds(7));
  EXPECT_EQ(retry.last_error, "boom");
  ASSERT_OK_AND_ASSIGN(Job dead, store_->Get(ids[2]));
  EXPECT_EQ(dead.state, JobState::kDead);
  EXPECT_EQ(dead.last_error, "fatal");
  // A second commit of the same outcome is stale: done never changes again.
  ASSERT_OK_AND_ASSIGN(stats, store_->Commit("n1", std::span(outcomes).first(1), kT0));
  EXPECT_EQ(stats.stale, 1);
}

TEST_P(JobStoreConformance, ReleaseDoesNotCountTheAttempt) {
  auto ids = EnqueueAt({0});
  ASSERT_OK(store_->Claim("n1", kT0, seconds(30), 1));
  std::vector<JobOutcome> rel = {{ids[0], JobOutcome::Kind::kRelease, {}, {}}};
  ASSERT_OK(store_->Commit("n1", rel, kT0));
  ASSERT_OK_AND_ASSIGN(Job j, store_->Get(ids[0]));
  EXPECT_EQ(j.state, JobState::kReady);
  EXPECT_EQ(j.attempts, 0);
}

TEST_P(JobStoreConformance, RecoverReturnsExpiredAndOwnedLeases) {
  std::vector<JobSpec> specs = {Spec(kT0), Spec(kT0), Spec(kT0)};
  specs[2].max_attempts = 1;
  ASSERT_OK_AND_ASSIGN(auto r, store_->Enqueue(specs, kT0));
  ASSERT_OK(store_->Claim("n1", kT0, seconds(30), 1));   // job 0, lease to +30 s
  ASSERT_OK(store_->Claim("n2", kT0, seconds(300), 2));  // jobs 1 and 2, lease to +300 s
  // Nothing expired yet, and no owner given: nothing moves.
  ASSERT_OK_AND_ASSIGN(RecoverStats st, store_->RecoverLeases(kT0 + seconds(10), std::nullopt));
  EXPECT_EQ(st.to_ready + st.to_dead, 0);
  ASSERT_OK_AND_ASSIGN(st, store_->RecoverLeases(kT0 + seconds(31), std::nullopt));
  EXPECT_EQ(st.to_ready, 1);
  ASSERT_OK_AND_ASSIGN(Job j0, store_->Get(r[0].id));
  EXPECT_EQ(j0.state, JobState::kReady);
  EXPECT_EQ(j0.attempts, 1);  // the lost attempt still counts
  EXPECT_NE(j0.last_error->find("lease lost"), std::string::npos);
  // n2 restarted: its leases are dead whatever their expiry; job 2 was on its last attempt.
  ASSERT_OK_AND_ASSIGN(st, store_->RecoverLeases(kT0 + seconds(32), std::string_view("n2")));
  EXPECT_EQ(st.to_ready, 1);
  EXPECT_EQ(st.to_dead, 1);
  ASSERT_OK_AND_ASSIGN(Job j2, store_->Get(r[2].id));
  EXPECT_EQ(j2.state, JobState::kDead);
}

TEST_P(JobStoreConformance, CancelOnlyPendingJobs) {
  auto ids = EnqueueAt({0, 50});
  ASSERT_OK(store_->Claim("n1", kT0, seconds(30), 1));
  Result<Job> busy = store_->Cancel(ids[0], kT0);
  EXPECT_EQ(busy.status().code(), Code::kConflict);
  EXPECT_NE(busy.status().message().find("is leased"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(Job c, store_->Cancel(ids[1], kT0 + seconds(1)));
  EXPECT_EQ(c.state, JobState::kCancelled);
  EXPECT_EQ(store_->Cancel(ids[1], kT0).status().code(), Code::kConflict);
  EXPECT_EQ(store_->Cancel(JobId(12345), kT0).status().code(), Code::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto none, store_->Claim("n1", kT0 + seconds(100), seconds(30), 10));
  EXPECT_TRUE(none.empty());  // a cancelled job is never claimed
}

TEST_P(JobStoreConformance, ListFiltersAndPages) {
  EnqueueAt({1, 2, 3, 4, 5});
  std::vector<JobSpec> other = {Spec(kT0)};
  other[0].kind = "webhook";
  ASSERT_OK(store_->Enqueue(other, kT0));
  JobFilter f;
  f.kind = "noop";
  f.limit = 2;
  std::vector<JobId> seen;
  for (int page = 0; page < 5; ++page) {
    ASSERT_OK_AND_ASSIGN(JobPage p, store_->List(f));
    for (auto& j : p.jobs) seen.push_back(j.id);
    if (!p.next_after) break;
    f.after = *p.next_after;
  }
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  JobFilter range;
  range.due_from = kT0 + seconds(2);
  range.due_until = kT0 + seconds(4);
  range.states = {JobState::kReady};
  ASSERT_OK_AND_ASSIGN(JobPage p, store_->List(range));
  EXPECT_EQ(p.jobs.size(), 2u);
  EXPECT_FALSE(p.next_after.has_value());
}

TEST_P(JobStoreConformance, NextWakeTimes) {
  ASSERT_OK_AND_ASSIGN(WakeTimes w, store_->NextWakeTimes());
  EXPECT_FALSE(w.next_due.has_value());
  EnqueueAt({0, 30, 20});
  ASSERT_OK(store_->Claim("n1", kT0, seconds(60), 1));
  ASSERT_OK_AND_ASSIGN(w, store_->NextWakeTimes());
  EXPECT_EQ(w.next_due, kT0 + seconds(20));
  EXPECT_EQ(w.next_lease_expiry, kT0 + seconds(60));
}

TEST_P(JobStoreConformance, SurvivesReopen) {
  auto ids = EnqueueAt({0});
  Reopen();
  ASSERT_OK_AND_ASSIGN(Job j, store_->Get(ids[0]));
  EXPECT_EQ(j.state, JobState::kReady);
}

TEST_P(JobStoreConformance, ConcurrentClaimersNeverShareAJob) {
  std::vector<JobSpec> specs(2000, Spec(kT0));
  ASSERT_OK(store_->Enqueue(specs, kT0));
  std::mutex mu;
  std::vector<JobId> seen;
  auto claimer = [&](std::string owner) {
    while (true) {
      auto jobs = store_->Claim(owner, kT0, seconds(30), 37);
      ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
      if (jobs->empty()) return;
      std::lock_guard g(mu);
      for (auto& j : *jobs) seen.push_back(j.id);
    }
  };
  std::thread a(claimer, "a"), b(claimer, "b"), c(claimer, "c");
  a.join();
  b.join();
  c.join();
  std::set<JobId> unique(seen.begin(), seen.end());
  EXPECT_EQ(seen.size(), 2000u);
  EXPECT_EQ(unique.size(), 2000u);
  EXPECT_EQ(Count(JobState::kLeased), 2000);
}

// Every job of state `s`, counted by listing them.
int64_t Listed(JobStore& store, JobState s) {
  JobFilter f;
  f.states = {s};
  f.limit = 1000;
  int64_t n = 0;
  while (true) {
    auto page = store.List(f);
    EXPECT_TRUE(page.ok());
    if (!page.ok()) return -1;
    n += static_cast<int64_t>(page->jobs.size());
    if (!page->next_after) return n;
    f.after = *page->next_after;
  }
}

void ExpectCountsMatchListing(JobStore& store, const std::string& when) {
  ASSERT_OK_AND_ASSIGN(StateCounts c, store.CountByState());
  for (JobState s : kAllJobStates) {
    EXPECT_EQ(c[static_cast<size_t>(s)], Listed(store, s)) << JobStateName(s) << " " << when;
  }
}

// CountByState is kept, not scanned; it must agree with the rows after every transition.
TEST_P(JobStoreConformance, CountsMatchTheJobsAfterEveryKindOfTransition) {
  std::vector<JobSpec> specs;
  for (int i = 0; i < 40; ++i) specs.push_back(Spec(kT0 + seconds(i % 4)));
  specs.push_back(Spec(kT0, "dup"));
  specs.push_back(Spec(kT0, "dup"));  // not a second job
  ASSERT_OK_AND_ASSIGN(auto enq, store_->Enqueue(specs, kT0));
  ExpectCountsMatchListing(*store_, "after enqueue");
  ASSERT_OK(store_->Cancel(enq[39].id, kT0));
  ASSERT_OK(store_->Cancel(enq[38].id, kT0));
  EXPECT_EQ(store_->Cancel(enq[38].id, kT0).status().code(), Code::kConflict);  // changes nothing
  ASSERT_OK_AND_ASSIGN(auto claimed, store_->Claim("n1", kT0 + seconds(3), seconds(30), 25));
  ExpectCountsMatchListing(*store_, "after claim and cancel");
  std::vector<JobOutcome> outcomes;
  for (size_t i = 0; i < claimed.size(); ++i) {
    JobOutcome o{claimed[i].id, static_cast<JobOutcome::Kind>(i % 4), kT0 + seconds(60), "e"};
    if (i < 20) outcomes.push_back(o);  // five stay leased
  }
  outcomes.push_back(outcomes.front());  // a stale repeat changes nothing
  ASSERT_OK(store_->Commit("n1", outcomes, kT0 + seconds(4)));
  ExpectCountsMatchListing(*store_, "after commit");
  ASSERT_OK(store_->RecoverLeases(kT0 + seconds(100), std::string_view("n1")));
  ExpectCountsMatchListing(*store_, "after recovery");
  ASSERT_OK(store_->Prune(kT0 + seconds(5), 7));
  ExpectCountsMatchListing(*store_, "after prune");
  Reopen();
  ExpectCountsMatchListing(*store_, "after reopen");
}

// Finishes jobs at kT0 + i seconds: done, dead and cancelled in turn.
std::vector<JobId> FinishOneEachSecond(JobStore& store, int n) {
  std::vector<JobId> ids;
  for (int i = 0; i < n; ++i) {
    std::vector<JobSpec> one = {Spec(kT0)};
    auto e = store.Enqueue(one, kT0);
    EXPECT_TRUE(e.ok());
    if (!e.ok()) return ids;
    JobId id = (*e)[0].id;
    const Timestamp at = kT0 + seconds(i);
    if (i % 3 == 2) {
      EXPECT_TRUE(store.Cancel(id, at).ok());
    } else {
      EXPECT_TRUE(store.Claim("n1", at, seconds(30), 1).ok());
      std::vector<JobOutcome> o = {{id, i % 3 == 0 ? JobOutcome::Kind::kDone : JobOutcome::Kind::kDead, {}, "e"}};
      EXPECT_TRUE(store.Commit("n1", o, at).ok());
    }
    ids.push_back(id);
  }
  return ids;
}

TEST_P(JobStoreConformance, PruneDeletesFinishedJobsOlderThanTheCutOffInChunks) {
  auto finished = FinishOneEachSecond(*store_, 10);  // finished at +0 .. +9 s
  auto pending = EnqueueAt({0, 100});
  ASSERT_OK(store_->Claim("n2", kT0, seconds(30), 1));  // pending[0]: leased
  // Before +6 s: six finished jobs, deleted oldest first, four at most per call.
  ASSERT_OK_AND_ASSIGN(int64_t n, store_->Prune(kT0 + seconds(6), 4));
  EXPECT_EQ(n, 4);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(store_->Get(finished[i]).status().code(), Code::kNotFound) << i;
  EXPECT_OK(store_->Get(finished[4]).status());
  ASSERT_OK_AND_ASSIGN(n, store_->Prune(kT0 + seconds(6), 4));
  EXPECT_EQ(n, 2);
  ASSERT_OK_AND_ASSIGN(n, store_->Prune(kT0 + seconds(6), 4));
  EXPECT_EQ(n, 0);
  for (int i = 6; i < 10; ++i) EXPECT_OK(store_->Get(finished[i]).status());
  // Unfinished jobs stay, whatever their age.
  ASSERT_OK_AND_ASSIGN(n, store_->Prune(kT0 + std::chrono::hours(24 * 365), 100));
  EXPECT_EQ(n, 4);
  EXPECT_EQ(store_->Get(pending[0])->state, JobState::kLeased);
  EXPECT_EQ(store_->Get(pending[1])->state, JobState::kReady);
  EXPECT_EQ(Count(JobState::kDone) + Count(JobState::kDead) + Count(JobState::kCancelled), 0);
}

TEST_P(JobStoreConformance, CommitReportsWhichOutcomesApplied) {
  auto ids = EnqueueAt({0, 0});
  ASSERT_OK(store_->Claim("n1", kT0, seconds(30), 1));  // only ids[0] is leased by n1
  std::vector<JobOutcome> outcomes = {{ids[0], JobOutcome::Kind::kDone, {}, {}},
                                      {ids[1], JobOutcome::Kind::kDone, {}, {}}};
  ASSERT_OK_AND_ASSIGN(CommitStats st, store_->Commit("n1", outcomes, kT0));
  EXPECT_EQ(st.applied, 1);
  EXPECT_EQ(st.stale, 1);
  EXPECT_EQ(st.applied_mask, (std::vector<bool>{true, false}));
}

TEST_P(JobStoreConformance, CommitEnqueuesFollowUpsOnlyWhenTheOutcomeApplies) {
  auto ids = EnqueueAt({0, 0});
  ASSERT_OK(store_->Claim("n1", kT0, seconds(30), 2));
  JobOutcome stale{ids[0], JobOutcome::Kind::kDone, {}, {}, {Spec(kT0, "from-stale")}};
  ASSERT_OK_AND_ASSIGN(CommitStats st, store_->Commit("someone-else", std::span(&stale, 1), kT0));
  EXPECT_EQ(st.stale, 1);
  EXPECT_EQ(st.follow_ups_created, 0);
  // Applied: its follow-ups are there, once per key, also against an existing job.
  ASSERT_OK(store_->Enqueue(std::vector<JobSpec>{Spec(kT0, "exists")}, kT0));
  std::vector<JobOutcome> outcomes = {
      {ids[0], JobOutcome::Kind::kDone, {}, {}, {Spec(kT0 + seconds(5), "next"), Spec(kT0, "next")}},
      {ids[1], JobOutcome::Kind::kDone, {}, {}, {Spec(kT0, "exists"), Spec(kT0 + seconds(9))}},
  };
  ASSERT_OK_AND_ASSIGN(st, store_->Commit("n1", outcomes, kT0 + seconds(1)));
  EXPECT_EQ(st.applied, 2);
  EXPECT_EQ(st.follow_ups_created, 2);
  EXPECT_EQ(Count(JobState::kReady), 3);  // "exists", "next" at +5 s, and the unkeyed one
  JobFilter f;
  f.due_from = kT0 + seconds(5);
  f.due_until = kT0 + seconds(6);
  ASSERT_OK_AND_ASSIGN(JobPage p, store_->List(f));
  ASSERT_EQ(p.jobs.size(), 1u);
  EXPECT_EQ(p.jobs[0].idempotency_key, "next");
  EXPECT_EQ(p.jobs[0].created_at, kT0 + seconds(1));
  // A repeat of the commit is stale and enqueues nothing.
  ASSERT_OK_AND_ASSIGN(st, store_->Commit("n1", outcomes, kT0 + seconds(2)));
  EXPECT_EQ(st.follow_ups_created, 0);
  EXPECT_EQ(Count(JobState::kReady), 3);
}

// Cancel is one conditional transition: racing cancels of one job, exactly one wins.
TEST_P(JobStoreConformance, ConcurrentCancelsOfOneJobExactlyOneWins) {
  constexpr int kJobs = 50;
  constexpr int kThreads = 4;
  std::vector<JobSpec> specs(kJobs, Spec(kT0));
  ASSERT_OK_AND_ASSIGN(auto enq, store_->Enqueue(specs, kT0));
  std::atomic<int> won{0}, conflicts{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (const EnqueueResult& e : enq) {
        Result<Job> r = store_->Cancel(e.id, kT0);
        if (r.ok()) {
          ++won;
        } else {
          ++(r.status().code() == Code::kConflict ? conflicts : other);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), kJobs);
  EXPECT_EQ(conflicts.load(), kJobs * (kThreads - 1));
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(Count(JobState::kCancelled), kJobs);
}

// A cancel racing a claim: the job is either leased (the cancel lost) or
// cancelled (the claim did not get it), never both.
TEST_P(JobStoreConformance, CancelRacingClaimNeverBoth) {
  constexpr int kJobs = 200;
  std::vector<JobSpec> specs(kJobs, Spec(kT0));
  ASSERT_OK_AND_ASSIGN(auto enq, store_->Enqueue(specs, kT0));
  std::set<JobId> claimed;
  std::set<JobId> cancelled;
  std::thread claimer([&] {
    while (true) {
      auto jobs = store_->Claim("n1", kT0, seconds(30), 7);
      ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
      if (jobs->empty()) return;
      for (const Job& j : *jobs) claimed.insert(j.id);
    }
  });
  for (auto it = enq.rbegin(); it != enq.rend(); ++it) {
    Result<Job> r = store_->Cancel(it->id, kT0);
    if (r.ok()) cancelled.insert(it->id);
  }
  claimer.join();
  for (JobId id : cancelled) EXPECT_EQ(claimed.count(id), 0u) << id.value();
  EXPECT_EQ(claimed.size() + cancelled.size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(Count(JobState::kCancelled), static_cast<int64_t>(cancelled.size()));
  EXPECT_EQ(Count(JobState::kLeased), static_cast<int64_t>(claimed.size()));
}

}  // namespace
}  // namespace outflow
