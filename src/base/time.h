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

// Formats as RFC 3339 in UTC with microseconds: 2026-11-24T09:30:00.123456Z.
std::string FormatRfc3339(Timestamp t);

// Parses a strict RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM).
// 't'/'z' and a space separator are accepted as RFC 3339 allows. Fractions beyond
// microseconds are truncated. Returns InvalidArgument naming what is wrong.
Result<Timestamp> ParseRfc3339(std::string_view text);

}  // namespace outflow
