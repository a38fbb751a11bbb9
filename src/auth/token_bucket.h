// TokenBucket: a request budget per API key: `rate` tokens a second, at most
// `capacity` saved up, one token per request.
//
// Why not engine/rate_limiter.h: that one is an exact sliding window for
// providers' hard ceilings; it keeps the last `limit` grant times per limiter
// (O(limit) memory per key, 800 KB at --key-rate 100000) and forbids bursts. An
// API budget wants the classic bucket: O(1) state, a burst of `capacity` after a
// quiet spell, and the wait for the next token as Retry-After.
//
// Not synchronised: the owner serialises calls (auth::Authenticator holds a mutex).
#pragma once

#include <optional>

#include "base/time.h"

namespace outflow::auth {

class TokenBucket {
 public:
  // REQUIRES: rate > 0, capacity >= 1. Starts full.
  TokenBucket(double rate, double capacity, Timestamp now)
      : rate_(rate), capacity_(capacity), tokens_(capacity), at_(now) {}
  // Takes a token at `now`: nullopt when granted, else how long until one is there.
  std::optional<Duration> Take(Timestamp now);

 private:
  double rate_;
  double capacity_;
  double tokens_;
  Timestamp at_;
};

}  // namespace outflow::auth
