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

}  // namespace outflow
