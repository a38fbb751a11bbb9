// Time values used everywhere in Outflow: UTC instants with microsecond precision.
//
// Stored in databases as INTEGER microseconds since the Unix epoch; shown to people
// and in the API as RFC 3339 ("2026-11-24T09:30:00.000000Z").
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace outflow {

using Duration = std::chrono::microseconds;
using Timestamp = std::chrono::time_point<std::chrono::system_clock, Duration>;

inline int64_t ToMicros(Timestamp t) {
  return t.time_since_epoch().count();
}
inline Timestamp FromMicros(int64_t us) {
  return Timestamp(Duration(us));
}

// The latest instant Outflow accepts as input: 9999-12-31T23:59:59.999999Z, the
// last one RFC 3339's four-digit year can write. Bounding input times here keeps
// arithmetic on them (waits, backoff, windows) far from the end of int64.
inline constexpr Timestamp kLatestTimestamp{Duration(253'402'300'800LL * 1'000'000 - 1)};

// Formats as RFC 3339 in UTC with microseconds: 2026-11-24T09:30:00.123456Z.
std::string FormatRfc3339(Timestamp t);

// Parses a strict RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM).
// 't'/'z' and a space separator are accepted as RFC 3339 allows. Fractions beyond
// microseconds are truncated. Returns InvalidArgument naming what is wrong.
Result<Timestamp> ParseRfc3339(std::string_view text);

}  // namespace outflow
