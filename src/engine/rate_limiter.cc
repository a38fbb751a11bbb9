#include "engine/rate_limiter.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace outflow {

namespace {

Duration BurstSpan(int limit, int burst, Duration window) {
  // ceil(window * burst / limit) in microseconds, so that the burst rule is never
  // looser than the rate it stands for.
  // window = q * limit + r, so window * burst / limit = q * burst + r * burst / limit,
  // with r * burst < limit * limit: no overflow.
  int64_t q = window.count() / limit;
  int64_t r = window.count() % limit;
  return Duration(q * burst + (r * burst + limit - 1) / limit);
}

int CheckedLimit(int limit, int burst, Duration window) {
  if (limit < 1) throw std::invalid_argument("RateLimiter: limit must be >= 1, got " + std::to_string(limit));
  if (burst < 1 || burst > limit) {
    throw std::invalid_argument("RateLimiter: burst must be in 1.." + std::to_string(limit) + ", got " +
                                std::to_string(burst));
  }
  if (window <= Duration::zero()) throw std::invalid_argument("RateLimiter: window must be positive");
  return limit;
}

}  // namespace

RateLimiter::RateLimiter(int limit, int burst, Duration window)
    : limit_(CheckedLimit(limit, burst, window)),
      burst_(burst),
      window_(window),
      burst_span_(BurstSpan(limit, burst, window)),
      ring_(static_cast<size_t>(limit)) {}

Timestamp RateLimiter::EarliestLocked() const {
  Timestamp earliest = Timestamp::min();
  if (count_ >= limit_) earliest = std::max(earliest, ring_[static_cast<size_t>((count_ - limit_) % limit_)] + window_);
  if (count_ >= burst_) {
    earliest = std::max(earliest, ring_[static_cast<size_t>((count_ - burst_) % limit_)] + burst_span_);
  }
  return earliest;
}

void RateLimiter::RecordLocked(Timestamp t) {
  ring_[static_cast<size_t>(count_ % limit_)] = t;
  ++count_;
  latest_ = t;
}

int RateLimiter::TryAcquire(int want, Timestamp now) {
  std::lock_guard<std::mutex> lock(mu_);
  Timestamp t = count_ > 0 ? std::max(now, latest_) : now;
  int granted = 0;
  while (granted < want && EarliestLocked() <= t) {
    RecordLocked(t);
    ++granted;
  }
  return granted;
}

Timestamp RateLimiter::NextAvailable(Timestamp now) const {
  std::lock_guard<std::mutex> lock(mu_);
  Timestamp t = count_ > 0 ? std::max(now, latest_) : now;
  Timestamp earliest = EarliestLocked();
  return earliest <= t ? now : earliest;
}

void RateLimiter::Seed(std::span<const Timestamp> recent_sends) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Timestamp> times(recent_sends.begin(), recent_sends.end());
  for (int64_t n = std::max<int64_t>(0, count_ - limit_); n < count_; ++n) {
    times.push_back(ring_[static_cast<size_t>(n % limit_)]);
  }
  std::sort(times.begin(), times.end());
  if (times.size() > static_cast<size_t>(limit_)) times.erase(times.begin(), times.end() - limit_);
  count_ = 0;
  for (Timestamp t : times) RecordLocked(t);
}

}  // namespace outflow
