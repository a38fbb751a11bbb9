// Clock: the only source of "now" in Outflow's logic, injected so tests advance
// time instead of sleeping.
//
// WaitUntil() blocks the caller on its own condition variable until `deadline`
// (by this clock), a notify on `cv`, or a spurious wake-up; callers loop and
// re-check their condition. SystemClock waits in real time (any deadline, up to
// Timestamp::max(), in slices of a day); FakeClock wakes its
// waiters whenever a test moves time. Thread-safety: all methods are safe to call
// concurrently.
#pragma once

#include <condition_variable>
#include <mutex>
#include <set>

#include "base/time.h"

namespace outflow {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp Now() const = 0;
  // REQUIRES: `lock` holds the mutex that notifiers of `cv` take before notifying.
  virtual void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, Timestamp deadline) = 0;
};

// SystemClock::WaitUntil waits at most this long at a time; a later deadline is
// reached in several slices, invisibly to the caller.
inline constexpr Duration kMaxWaitSlice = std::chrono::hours(24);

class SystemClock final : public Clock {
 public:
  Timestamp Now() const override;
  void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, Timestamp deadline) override;
  // A process-wide instance.
  static SystemClock& Instance();
};

// A clock that moves only when told to. Waiters are woken on every move.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(Timestamp start);
  Timestamp Now() const override;
  void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, Timestamp deadline) override;
  void Advance(Duration d);
  void Set(Timestamp t);

 private:
  struct Waiter {
    std::condition_variable* cv;
    std::mutex* mu;
    auto operator<=>(const Waiter&) const = default;
  };
  void WakeAll();

  mutable std::mutex mu_;
  Timestamp now_;
  std::set<Waiter> waiters_;
};

}  // namespace outflow
