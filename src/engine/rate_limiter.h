// RateLimiter: an exact sliding-window limit on sends, a hard ceiling that a token
// bucket is not (a bucket of capacity b refilled at r/s lets b + r through in one
// second: BullMQ let 58 jobs start in one second under a 29/s limit).
//
// The rule. Number the grants 0, 1, 2, ... in the order they are made; g(n) is the
// time grant n is recorded at (non-decreasing, see "Time" below). Two rules hold:
//
//   window: g(n) - g(n - limit) >= window
//           <=> every half-open interval [s, s + window) holds at most `limit` grants.
//           A grant at exactly g(n - limit) + window is allowed, one microsecond
//           earlier is not.
//   burst:  g(n) - g(n - burst) >= burst_span, burst_span = ceil(window * burst / limit)
//           <=> every half-open interval [s, s + burst_span) holds at most `burst`
//           grants. burst == limit adds nothing to the window rule; burst == 1
//           spaces grants evenly, window / limit apart; in between, up to `burst`
//           sends go out back to back and the average rate over any `burst` grants
//           never exceeds limit / window.
//
// A grant is made exactly when both rules allow it, so under a backlog the limiter
// grants the full limit: `limit` per window (the microsecond rounding of burst_span
// costs at most limit/1e6 of the rate for a one-second window).
//
// It keeps the last `limit` grant times in a ring buffer: O(limit) memory, O(1) per
// grant.
//
// Time. Callers pass `now`; the limiter never reads a clock. A grant is recorded at
// max(now, latest recorded grant): several campaigns that read the clock on
// different threads may call in a different order than they read it, and a send
// granted "in the past" happens now anyway. So time never goes backwards inside the
// limiter; if the clock steps back, grants wait until it catches up with the latest
// recorded grant (safe: never over the limit; at worst a pause).
//
// Restarts. History is in memory only. After a restart the owner passes the times of
// the account's most recent sends to Seed(), so that the first second after a restart
// cannot exceed the limit either.
//
// Thread-safety: internally synchronised (one mutex); share one RateLimiter between
// all the campaigns sending through one account.
#pragma once

#include <mutex>
#include <span>
#include <vector>

#include "base/time.h"

namespace outflow {

class RateLimiter {
 public:
  // REQUIRES: limit >= 1, 1 <= burst <= limit, window > 0 (else std::invalid_argument:
  // a programmer error; configuration is validated before it gets here).
  RateLimiter(int limit, int burst, Duration window = std::chrono::seconds(1));

  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Grants up to `want` sends at `now` and records them; returns how many were
  // granted (0..want; 0 when want <= 0). At most `burst` can be granted in one call.
  int TryAcquire(int want, Timestamp now);

  // The earliest time at which at least one more grant is possible: `now` itself if
  // TryAcquire(1, now) would grant, else a later instant. Records nothing.
  Timestamp NextAvailable(Timestamp now) const;

  // Restores history after a restart: the times of the most recent sends, in any
  // order. They are merged with what is already recorded and only the latest `limit`
  // times are kept. Seeding `limit` sends at t blocks every grant until t + window.
  void Seed(std::span<const Timestamp> recent_sends);

  int limit() const { return limit_; }
  int burst() const { return burst_; }
  Duration window() const { return window_; }
  Duration burst_span() const { return burst_span_; }

 private:
  // The earliest time both rules allow the next grant; Timestamp::min() if neither
  // has enough history to constrain it. REQUIRES: mu_ held.
  Timestamp EarliestLocked() const;
  // REQUIRES: mu_ held; t >= every recorded time.
  void RecordLocked(Timestamp t);

  const int limit_;
  const int burst_;
  const Duration window_;
  const Duration burst_span_;

  mutable std::mutex mu_;
  std::vector<Timestamp> ring_;  // GUARDED_BY(mu_); grant n at ring_[n % limit_], size limit_
  int64_t count_ = 0;            // GUARDED_BY(mu_); grants recorded (history kept: min(count_, limit_))
  Timestamp latest_{};           // GUARDED_BY(mu_); the latest recorded grant, if count_ > 0
};

}  // namespace outflow
