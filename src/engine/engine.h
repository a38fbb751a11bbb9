// Engine: claims due jobs, runs their handlers, and commits outcomes.
//
// Threads: one dispatcher and `workers` worker threads. The dispatcher is the
// engine's only store writer: it claims due jobs in batches under a lease (oldest
// due first), hands them to the workers, and commits their outcomes in batches
// (group commit). It sleeps until the earliest of: the next due time, the next
// lease expiry, a notification that an earlier job was enqueued, or outcomes to
// commit. No fixed polling interval decides how late a job starts.
//
// Delivery: at least once. A job whose outcome was committed never runs again; a
// job runs again only if its attempt was in flight (claimed, outcome not yet
// committed) when the process died or its lease expired. See docs/jobs.md.
//
// Lifecycle: construct, Start(), Stop(); or, single-threaded, RunOnce(). Store
// errors are retried after `store_retry_delay`; outcomes are never dropped.
// Thread-safety: NotifyEnqueued() may be called from any thread at any time.
#pragma once

#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "engine/backoff.h"
#include "engine/handler.h"
#include "engine/metrics.h"
#include "store/job_store.h"

namespace outflow {

struct EngineOptions {
  std::string node_id = "node-1";  // lease owner; stable across restarts of this node
  int workers = 4;
  int claim_batch = 1000;    // jobs claimed per store transaction at most
  int max_in_flight = 2000;  // claimed but not yet committed, at most
  Duration lease = std::chrono::minutes(5);
  BackoffPolicy backoff;
  Duration store_retry_delay = std::chrono::milliseconds(200);
  // The dispatcher wakes this long after the earliest due time, so that jobs
  // falling due close together are claimed in one transaction instead of one each
  // (at 10,000 jobs/s: ~10 per claim with 1 ms instead of ~1.1). Adds at most this
  // much to start lateness; never makes a job start early.
  Duration batch_window = Duration::zero();
};

class Engine {
 public:
  Engine(JobStore& store, Clock& clock, const HandlerRegistry& handlers, EngineMetrics& metrics, EngineOptions options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Recovers this node's leases left by a previous run, then starts the threads.
  Status Start();
  // Stops claiming, releases queued jobs that have not started, waits for running
  // handlers to finish, commits every outcome, and joins the threads. Idempotent.
  void Stop();
  bool running() const;

  // Tells the engine that a job due at `due_at` was committed; wakes it if that is
  // earlier than what it sleeps for.
  void NotifyEnqueued(Timestamp due_at);

  // One synchronous pass on the calling thread: recovers expired leases, claims up
  // to `limit` due jobs, runs them, commits. Returns how many ran.
  // REQUIRES: the engine is not running.
  Result<int> RunOnce(int limit);
  // The same, for jobs of the given kinds only (the cron verbs: import process, release run).
  Result<int> RunOnce(int limit, std::span<const std::string> kinds);

  // For tests: the time the dispatcher sleeps until (max() when idle).
  Timestamp SleepTargetForTest() const;

 private:
  JobOutcome Execute(const Job& job);
  // InvalidArgument naming the first follow-up that is invalid or of an unknown kind.
  Status CheckFollowUps(const std::vector<JobSpec>& follow_ups) const;
  Status CommitOutcomes(const std::vector<JobOutcome>& batch);
  void DispatchLoop();
  void WorkerLoop();
  // REQUIRES: mu_ held. Turns claimed-but-unstarted jobs into release outcomes.
  void ReleaseQueuedLocked();
  double Jitter();

  JobStore& store_;
  Clock& clock_;
  const HandlerRegistry& handlers_;
  EngineMetrics& metrics_;
  const EngineOptions options_;

  static constexpr Timestamp kNever = Timestamp::max();

  mutable std::mutex mu_;
  std::condition_variable dispatch_cv_;    // dispatcher waits: outcomes, enqueues, stop
  std::condition_variable work_cv_;        // workers wait: jobs, stop
  std::deque<Job> queue_;                  // claimed, not started
  std::vector<JobOutcome> outcomes_;       // finished, not committed
  int in_flight_ = 0;                      // claimed and not yet committed
  Timestamp next_due_ = Timestamp::min();  // unknown at start: look
  Timestamp next_lease_expiry_ = Timestamp::min();
  bool wake_times_known_ = false;    // next_due_ / next_lease_expiry_ read from the store
  Timestamp notified_due_ = kNever;  // earliest due notified since the last look
  Timestamp sleep_target_ = kNever;
  bool started_ = false;
  bool stopping_ = false;
  bool workers_stop_ = false;

  std::mutex rng_mu_;
  std::mt19937_64 rng_;

  std::thread dispatcher_;
  std::vector<std::thread> workers_;
};

}  // namespace outflow
