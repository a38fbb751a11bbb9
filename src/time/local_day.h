// Local calendar days in a named IANA time zone, for daily caps ("at most 500 sends
// per local day of the account's time zone").
//
// A local day runs from its local midnight (inclusive) to the next one (exclusive),
// so it lasts 23 or 25 hours on the days daylight saving starts or ends. Where a
// change skips midnight itself (America/Sao_Paulo until 2019: 00:00 -> 01:00), the
// day starts at the first instant after the gap. Uses Howard Hinnant's date/tz with
// the system's tz database, like send_window.h. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "base/time.h"

namespace outflow {

// The local calendar day `t` falls on in `time_zone`, as "YYYY-MM-DD": the key a
// daily counter is stored under. InvalidArgument if `time_zone` is not an IANA zone.
Result<std::string> LocalDay(std::string_view time_zone, Timestamp t);

// The first instant of the local day `t` falls on (<= t): count today's sends from here.
Result<Timestamp> StartOfLocalDay(std::string_view time_zone, Timestamp t);

// The first instant of the next local day (> t): when a daily cap that is used up
// opens again.
Result<Timestamp> StartOfNextLocalDay(std::string_view time_zone, Timestamp t);

}  // namespace outflow
