#include "time/send_window.h"

#include <date/tz.h>

#include <algorithm>

namespace outflow {

namespace {

constexpr const char* kDays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

int DayIndex(std::string_view d) {
  for (int i = 0; i < 7; ++i) {
    if (d == kDays[i]) return i;
  }
  return -1;
}

// Monday = 0.
int WeekdayIndex(date::local_days d) {
  return static_cast<int>((date::weekday(d).c_encoding() + 6) % 7);
}

date::local_days LocalDay(const date::time_zone* z, Timestamp t) {
  auto local =
      z->to_local(std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::sys_time<std::chrono::seconds>(
          std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()))));
  return date::floor<date::days>(local);
}

}  // namespace

Result<uint8_t> ParseWeekdays(std::string_view text, std::string_view field) {
  std::string t;
  for (char c : text) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t == "all" || t == "daily" || t == "*") return static_cast<uint8_t>(0x7f);
  if (t == "weekdays") return static_cast<uint8_t>(0x1f);
  if (t == "weekends") return static_cast<uint8_t>(0x60);
  uint8_t mask = 0;
  size_t start = 0;
  while (start <= t.size()) {
    size_t comma = t.find(',', start);
    std::string part = t.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto dash = part.find('-');
    int a = DayIndex(part.substr(0, dash));
    int b = dash == std::string::npos ? a : DayIndex(part.substr(dash + 1));
    if (a < 0 || b < 0) {
      return Status::InvalidArgument(std::string(field) + ": '" + std::string(text) +
                                     "' is not a list of days (mon-fri, sat,sun, weekdays, all)");
    }
    for (int d = a;; d = (d + 1) % 7) {
      mask |= static_cast<uint8_t>(1 << d);
      if (d == b) break;
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return mask;
}

Result<int> ParseLocalTime(std::string_view text, std::string_view field) {
  auto bad = [&] {
    return Status::InvalidArgument(std::string(field) + ": '" + std::string(text) + "' is not a time of day HH:MM");
  };
  if (text.size() != 5 || text[2] != ':') return bad();
  if (text == "24:00") return 24 * 60;
  int h = (text[0] - '0') * 10 + (text[1] - '0');
  int m = (text[3] - '0') * 10 + (text[4] - '0');
  if (!std::isdigit(static_cast<unsigned char>(text[0])) || !std::isdigit(static_cast<unsigned char>(text[1])) ||
      !std::isdigit(static_cast<unsigned char>(text[3])) || !std::isdigit(static_cast<unsigned char>(text[4])) ||
      h > 23 || m > 59) {
    return bad();
  }
  return h * 60 + m;
}

std::string FormatWeekdays(uint8_t mask) {
  if (mask == 0x7f) return "all";
  std::string out;
  for (int i = 0; i < 7; ++i) {
    if (mask & (1 << i)) out += (out.empty() ? "" : ",") + std::string(kDays[i]);
  }
  return out;
}

std::string FormatLocalTime(int minute) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d", minute / 60, minute % 60);
  return buf;
}

Result<SendWindows> SendWindows::Create(const std::string& time_zone, std::vector<Window> windows) {
  SendWindows w;
  try {
    w.zone_ = date::locate_zone(time_zone);
  } catch (const std::exception&) {
    return Status::InvalidArgument("time_zone: '" + time_zone + "' is not an IANA time zone (e.g. Europe/Berlin)");
  }
  for (size_t i = 0; i < windows.size(); ++i) {
    const Window& x = windows[i];
    if (x.weekdays == 0 || x.start_minute < 0 || x.end_minute > 24 * 60 || x.start_minute >= x.end_minute) {
      return Status::InvalidArgument("windows[" + std::to_string(i) + "]: needs days and a start before its end");
    }
  }
  w.zone_name_ = time_zone;
  w.windows_ = std::move(windows);
  return w;
}

// The window rule: open at the instants at which the local clock reads a time inside
// a window (of that local day's weekday). The local reading of an instant is unique,
// so a gap removes what does not exist and an overlap is open each time the clock
// passes through the window.
bool SendWindows::IsOpen(Timestamp t) const {
  if (windows_.empty()) return true;
  const auto secs = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch());
  const date::local_seconds local = zone_->to_local(std::chrono::sys_seconds(secs));
  const date::local_days day = date::floor<date::days>(local);
  const int64_t second_of_day = (local - day).count();
  const int weekday = WeekdayIndex(day);
  for (const Window& w : windows_) {
    if ((w.weekdays & (1 << weekday)) && second_of_day >= int64_t{w.start_minute} * 60 &&
        second_of_day < int64_t{w.end_minute} * 60) {
      return true;
    }
  }
  return false;
}

namespace {

// Every instant at which the local clock reads `minute` of `day`: none in a gap (the
// gap's end stands for it, a candidate to check), two in an overlap.
void InstantsOf(const date::time_zone* z, date::local_days day, int minute, std::vector<Timestamp>& out) {
  const auto local = date::local_seconds(day) + std::chrono::minutes(minute);
  const date::local_info info = z->get_info(local);
  auto at = [](std::chrono::sys_seconds s) {
    return Timestamp(std::chrono::duration_cast<Duration>(s.time_since_epoch()));
  };
  if (info.result == date::local_info::nonexistent) {
    out.push_back(at(info.first.end));
    return;
  }
  out.push_back(at(std::chrono::sys_seconds((local - info.first.offset).time_since_epoch())));
  if (info.result == date::local_info::ambiguous) {
    out.push_back(at(std::chrono::sys_seconds((local - info.second.offset).time_since_epoch())));
  }
}

}  // namespace

Timestamp SendWindows::NextOpen(Timestamp t) const {
  if (IsOpen(t)) return t;
  // The window opens either where the clock reaches a window's start, or where a
  // clock change moves the reading into a window: collect both kinds of instants for
  // the next 16 local days (a weekly window whose day is eaten by a gap comes back a
  // week later) and take the first that is open.
  constexpr int kDaysAhead = 16;
  std::vector<Timestamp> candidates;
  date::local_days day = LocalDay(zone_, t) - date::days(1);
  for (int i = 0; i <= kDaysAhead; ++i, day += date::days(1)) {
    for (const Window& w : windows_) {
      if (w.weekdays & (1 << WeekdayIndex(day))) InstantsOf(zone_, day, w.start_minute, candidates);
    }
  }
  const auto horizon = t + std::chrono::hours(24 * (kDaysAhead + 1));
  auto sys = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch());
  for (date::sys_info info = zone_->get_info(std::chrono::sys_seconds(sys));;) {
    const Timestamp change(std::chrono::duration_cast<Duration>(info.end.time_since_epoch()));
    if (change > horizon || info.end <= info.begin) break;
    candidates.push_back(change);
    info = zone_->get_info(info.end);
  }
  std::sort(candidates.begin(), candidates.end());
  for (Timestamp c : candidates) {
    if (c > t && IsOpen(c)) return c;
  }
  // No window opens within the horizon (it cannot happen with a valid window): look
  // again a day later rather than claim that it is open now.
  return t + std::chrono::hours(24);
}

int64_t SendWindows::LocalDaysBetween(Timestamp from, Timestamp to) const {
  return (LocalDay(zone_, to) - LocalDay(zone_, from)).count();
}

}  // namespace outflow
