// Retry-After (RFC 9110 section 10.2.3): how long a server asks its client to wait
// before the next request. The one parser for every HTTP client in Outflow (the
// webhook handler, the HTTP providers). Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "base/time.h"

namespace outflow {

// The longest delay a Retry-After may ask for. A server asking for more (up to
// 999,999,999 s was once honoured) is retried after this instead, so one reply
// cannot park a job or a sending account for days.
inline constexpr Duration kMaxRetryAfter = std::chrono::hours(1);

// Parses a Retry-After field value: delay-seconds (1*DIGIT) or an HTTP-date in any
// of the three forms a recipient must accept (IMF-fixdate "Sun, 06 Nov 1994
// 08:49:37 GMT", the obsolete RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" and asctime
// "Sun Nov  6 08:49:37 1994"). Surrounding whitespace is ignored.
// Returns the delay from `now`, clamped to [0, max] (a date in the past is 0), or
// nullopt when the value is neither form (empty, negative, fractional, garbage).
std::optional<Duration> ParseRetryAfter(std::string_view value, Timestamp now, Duration max = kMaxRetryAfter);

}  // namespace outflow
