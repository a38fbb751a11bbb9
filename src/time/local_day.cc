#include "time/local_day.h"

#include <date/tz.h>

#include <cstdio>

namespace outflow {

namespace {

Result<const date::time_zone*> Zone(std::string_view time_zone) {
  try {
    return date::locate_zone(std::string(time_zone));
  } catch (const std::exception&) {
    return Status::InvalidArgument("time_zone: '" + std::string(time_zone) +
                                   "' is not an IANA time zone (e.g. Europe/Berlin)");
  }
}

date::local_days LocalDayOf(const date::time_zone* zone, Timestamp t) {
  return date::floor<date::days>(zone->to_local(t));
}

// The first instant of local day `day` that is after `after`; `after` only matters
// when local midnight occurs twice (a change from 01:00 back to 00:00), where the
// day starts at the first occurrence unless that is not after `after`.
Timestamp StartOf(const date::time_zone* zone, date::local_days day, Timestamp after) {
  date::local_seconds midnight(day);
  date::local_info info = zone->get_info(midnight);
  std::chrono::sys_seconds start;
  switch (info.result) {
    case date::local_info::nonexistent:
      start = info.first.end;  // the gap skips midnight: the day starts when it ends
      break;
    case date::local_info::ambiguous:
      start = std::chrono::sys_seconds((midnight - info.first.offset).time_since_epoch());
      if (Timestamp(start) <= after)
        start = std::chrono::sys_seconds((midnight - info.second.offset).time_since_epoch());
      break;
    default: start = std::chrono::sys_seconds((midnight - info.first.offset).time_since_epoch());
  }
  return Timestamp(start);
}

}  // namespace

Result<std::string> LocalDay(std::string_view time_zone, Timestamp t) {
  OUTFLOW_ASSIGN_OR_RETURN(const date::time_zone* zone, Zone(time_zone));
  date::year_month_day ymd(LocalDayOf(zone, t));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return std::string(buf);
}

Result<Timestamp> StartOfLocalDay(std::string_view time_zone, Timestamp t) {
  OUTFLOW_ASSIGN_OR_RETURN(const date::time_zone* zone, Zone(time_zone));
  return StartOf(zone, LocalDayOf(zone, t), Timestamp::min());
}

Result<Timestamp> StartOfNextLocalDay(std::string_view time_zone, Timestamp t) {
  OUTFLOW_ASSIGN_OR_RETURN(const date::time_zone* zone, Zone(time_zone));
  return StartOf(zone, LocalDayOf(zone, t) + date::days(1), t);
}

Result<Timestamp> ParseLocalDateTime(std::string_view time_zone, std::string_view text, std::string_view field) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(std::string(field) + ": '" + std::string(text) + "' " + why);
  };
  const size_t t = text.find_first_of("Tt ");
  if (t == std::string_view::npos) return bad("is not a date-time (YYYY-MM-DDTHH:MM[:SS])");
  const std::string_view clock = text.substr(t + 1);
  const bool has_offset = clock.find_first_of("Zz+-") != std::string_view::npos;
  if (has_offset) {
    Result<Timestamp> r = ParseRfc3339(text);
    if (!r.ok()) return bad(r.status().message());
    return r;
  }
  std::string as_utc(text);
  if (clock.size() == 5) as_utc += ":00";  // HH:MM
  as_utc += "Z";
  Result<Timestamp> wall = ParseRfc3339(as_utc);
  if (!wall.ok()) return bad("is not a date-time (YYYY-MM-DDTHH:MM[:SS]): " + wall.status().message());
  Result<const date::time_zone*> zone = Zone(time_zone);
  if (!zone.ok()) return zone.status();
  // The wall-clock reading as local time, split into seconds and the fraction.
  const auto secs = std::chrono::floor<std::chrono::seconds>(*wall);
  const Duration fraction = *wall - secs;
  date::local_seconds local(secs.time_since_epoch());
  date::local_info info = (*zone)->get_info(local);
  // Read with the offset before any change at this wall time: a time skipped by a
  // gap lands as far after the gap's end as it was after its start, and a time that
  // occurs twice is its first occurrence.
  const std::chrono::sys_seconds utc((local - info.first.offset).time_since_epoch());
  return Timestamp(utc) + fraction;
}

}  // namespace outflow
