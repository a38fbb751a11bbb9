#include "base/clock.h"

#include <vector>

namespace outflow {

Timestamp SystemClock::Now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

void SystemClock::WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, Timestamp deadline) {
  // Waits on the steady clock (wait_for), so that a wall-clock step cannot stretch a
  // slice, and in slices of at most kMaxWaitSlice: wait_for adds its duration to the
  // steady clock in nanoseconds, which overflows (and returns at once) for a
  // deadline some 292 years away.
  while (true) {
    const Timestamp now = Now();
    if (now >= deadline) return;
    const Duration slice = deadline - now > kMaxWaitSlice ? kMaxWaitSlice : deadline - now;
    if (cv.wait_for(lock, slice) == std::cv_status::no_timeout) return;  // notified, or spurious
  }
}

SystemClock& SystemClock::Instance() {
  static SystemClock clock;
  return clock;
}

FakeClock::FakeClock(Timestamp start) : now_(start) {}

Timestamp FakeClock::Now() const {
  std::lock_guard g(mu_);
  return now_;
}

void FakeClock::WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, Timestamp deadline) {
  Waiter w{&cv, lock.mutex()};
  {
    std::lock_guard g(mu_);
    if (now_ >= deadline) return;
    waiters_.insert(w);
  }
  // The caller's mutex is held from the check above until wait() releases it, and
  // WakeAll() takes that mutex before notifying, so no move of time is missed.
  cv.wait(lock);
  std::lock_guard g(mu_);
  waiters_.erase(w);
}

void FakeClock::Advance(Duration d) {
  {
    std::lock_guard g(mu_);
    now_ += d;
  }
  WakeAll();
}

void FakeClock::Set(Timestamp t) {
  {
    std::lock_guard g(mu_);
    now_ = t;
  }
  WakeAll();
}

void FakeClock::WakeAll() {
  std::vector<Waiter> waiters;
  {
    std::lock_guard g(mu_);
    waiters.assign(waiters_.begin(), waiters_.end());
  }
  for (const Waiter& w : waiters) {
    std::lock_guard g(*w.mu);
    w.cv->notify_all();
  }
}

}  // namespace outflow
