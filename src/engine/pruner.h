// JobPruner: deletes finished jobs (done, dead, cancelled) once they are older
// than a retention period, so that the jobs table holds recent history only.
//
// Each pass deletes everything that finished before now - retention, in chunks of
// `chunk` rows, one JobStore::Prune transaction each, so no single write holds the
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

#include "base/clock.h"
#include "store/job_store.h"

namespace outflow {

struct JobPrunerOptions {
  Duration retention = std::chrono::hours(24 * 30);
  Duration interval = std::chrono::hours(1);
  int chunk = 5000;  // rows a transaction
  // After a store error, the pass stops and the next one starts this much later.
  Duration retry_delay = std::chrono::minutes(1);
};

class JobPruner {
 public:
  JobPruner(JobStore& store, Clock& clock, JobPrunerOptions options);
  ~JobPruner();
  JobPruner(const JobPruner&) = delete;
  JobPruner& operator=(const JobPruner&) = delete;

  void Start();
  void Stop();  // idempotent

  // One pass: prunes chunk after chunk until a chunk comes back short. Returns the
  // rows deleted. REQUIRES: not started.
  Result<int64_t> RunPass();

 private:
  // One pass that gives up early when stopping; the rows deleted.
  Result<int64_t> Pass();
  void Loop();

  JobStore& store_;
  Clock& clock_;
  const JobPrunerOptions options_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace outflow
