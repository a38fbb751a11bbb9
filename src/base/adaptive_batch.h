// AdaptiveBatch: how many rows the next unit of chunked work takes (an import
// batch, a fan-out chunk, a segment fill chunk), so that each unit's transaction
// holds the SQLite writer for about `target` whatever a row costs on this machine
// today (rows that join many dynamic segments cost more, a loaded machine is
// slower). Starts at `start`; doubles after a unit that took less than a third of
// `target`, up to `max`; halves after one that took longer than `target`, down to
// `min`. Thread-safe (units of different jobs may report at once; a lost update
// only delays the adjustment by one unit).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>

namespace outflow {

class AdaptiveBatch {
 public:
  AdaptiveBatch(int min, int start, int max, std::chrono::steady_clock::duration target)
      : min_(std::max(1, min)), max_(std::max(min_, max)), target_(target), size_(std::clamp(start, min_, max_)) {}

  int size() const { return size_.load(std::memory_order_relaxed); }

  void Observe(std::chrono::steady_clock::duration took) {
    const int now = size();
    if (took > target_) {
      size_.store(std::max(min_, now / 2), std::memory_order_relaxed);
    } else if (took < target_ / 3) {
      size_.store(std::min(max_, now * 2), std::memory_order_relaxed);
    }
  }

 private:
  const int min_;
  const int max_;
  const std::chrono::steady_clock::duration target_;
  std::atomic<int> size_;
};

}  // namespace outflow
