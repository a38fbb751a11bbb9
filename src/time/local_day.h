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

// The instant of a date-time given in a time zone: "2026-03-29T09:00" or
// "2026-03-29T09:00:00" is local time in `time_zone`; a value with an offset or Z
// (RFC 3339) is taken as is. A local time that does not exist (skipped by a DST
// change) moves forward by the gap (02:30 -> 03:30); one that occurs twice is the
// first. InvalidArgument naming `field` otherwise.
Result<Timestamp> ParseLocalDateTime(std::string_view time_zone, std::string_view text, std::string_view field);

}  // namespace outflow
