#include "engine/backoff.h"

#include <algorithm>

namespace outflow {

Duration BackoffPolicy::Ceiling(int attempt) const {
  attempt = std::max(attempt, 1);
  // Double without overflow: stop once the cap is reached.
  Duration d = base;
  for (int i = 1; i < attempt && d < cap; ++i) d *= 2;
  return std::min(d, cap);
}

Duration BackoffPolicy::Delay(int attempt, double u) const {
  u = std::clamp(u, 0.0, 1.0);
  return Duration(static_cast<int64_t>(static_cast<double>(Ceiling(attempt).count()) * u));
}

}  // namespace outflow
