// Pruner: deletes rows once they are older than a retention period, so that a
// table holds recent history only: finished jobs (done, dead, cancelled; the
// JobStore's Prune) and audit entries (the AuditStore's Prune).
//
// Each pass deletes everything older than now - retention, in chunks of `chunk`
// rows, one `prune` call (one transaction) each, so no single write holds the
// store's writer for long (5,000 rows: 12 ms median, 36 ms p99 over 10M rows,
// docs/benchmarks.md); other writers get the writer between chunks. A pass runs
// at Start() and then every `interval` after the previous one began.
//
// Lifecycle: construct, Start(), Stop() (waits for the chunk in progress, never a
// whole pass); or RunPass() on the calling thread (tests, tools).
// Thread-safety: Start/Stop from one owner thread; RunPass while not started.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include <functional>
#include <string>

#include "base/clock.h"
#include "base/status.h"
#include "store/job_store.h"

namespace outflow {

struct PrunerOptions {
  Duration retention = std::chrono::hours(24 * 30);
  Duration interval = std::chrono::hours(1);
  int chunk = 5000;  // rows a transaction
  // After a store error, the pass stops and the next one starts this much later.
  Duration retry_delay = std::chrono::minutes(1);
};

class Pruner {
 public:
  // Deletes up to `limit` rows older than `before` in one transaction; how many.
  using PruneFn = std::function<Result<int64_t>(Timestamp before, int limit)>;

  // `what` names the rows in the log ("finished jobs").
  Pruner(std::string what, PruneFn prune, Clock& clock, PrunerOptions options);
  ~Pruner();
  Pruner(const Pruner&) = delete;
  Pruner& operator=(const Pruner&) = delete;

  void Start();
  void Stop();  // idempotent

  // One pass: prunes chunk after chunk until a chunk comes back short. Returns the
  // rows deleted. REQUIRES: not started.
  Result<int64_t> RunPass();

 private:
  // One pass that gives up early when stopping; the rows deleted.
  Result<int64_t> Pass();
  void Loop();

  const std::string what_;
  const PruneFn prune_;
  Clock& clock_;
  const PrunerOptions options_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

// The prune function of finished jobs (JobStore::Prune).
inline Pruner::PruneFn PruneFinishedJobs(JobStore& store) {
  return [&store](Timestamp before, int limit) { return store.Prune(before, limit); };
}

}  // namespace outflow
