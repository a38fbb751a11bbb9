// Engine metrics: lock-free counters and a fixed-bucket histogram, read by the
// API's /metrics endpoint. Thread-safe: every member may be updated concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

namespace outflow {

class Histogram {
 public:
  // Upper bounds in seconds, ascending; an implicit +Inf bucket follows.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double seconds);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Read() const;

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<uint64_t>> buckets_;  // non-cumulative, last is +Inf
  std::atomic<int64_t> sum_micros_{0};
};

struct EngineMetrics {
  std::atomic<uint64_t> enqueued{0};   // jobs created (idempotent replays not counted)
  std::atomic<uint64_t> completed{0};  // -> done
  std::atomic<uint64_t> retried{0};    // -> retrying after a failed attempt
  std::atomic<uint64_t> dead{0};       // -> dead
  std::atomic<uint64_t> stale{0};      // outcomes dropped because the lease was lost
  std::atomic<uint64_t> recovered{0};  // leases recovered after a crash or timeout
  std::atomic<uint64_t> store_errors{0};
  // Handler start minus due time.
  Histogram start_lateness{{0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}};
};

}  // namespace outflow
