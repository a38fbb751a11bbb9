// Retry delays: exponential backoff with full jitter (AWS Architecture Blog,
// "Exponential Backoff And Jitter"): delay = uniform(0, min(cap, base * 2^(n-1)))
// after the n-th failed attempt. Full jitter spreads retries of jobs that failed
// together, so a provider that recovers is not hit by a synchronised wave.
#pragma once

#include "base/time.h"

namespace outflow {

struct BackoffPolicy {
  Duration base = std::chrono::seconds(1);
  Duration cap = std::chrono::hours(1);

  // `attempt` >= 1 is the attempt that just failed; `u` in [0, 1) is the jitter draw.
  Duration Delay(int attempt, double u) const;
  // The ceiling of the window for `attempt`, i.e. Delay(attempt, 1.0).
  Duration Ceiling(int attempt) const;
};

}  // namespace outflow
