#include "auth/token_bucket.h"

#include <algorithm>
#include <cmath>

namespace outflow::auth {

std::optional<Duration> TokenBucket::Take(Timestamp now) {
  if (now > at_) {
    const double seconds = std::chrono::duration<double>(now - at_).count();
    tokens_ = std::min(capacity_, tokens_ + seconds * rate_);
    at_ = now;
  }
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return std::nullopt;
  }
  const double wait_us = std::ceil((1.0 - tokens_) / rate_ * 1e6);
  return Duration(static_cast<int64_t>(wait_us));
}

}  // namespace outflow::auth
