// SendWindows: when something may happen, as weekdays and local hours in a
// named IANA time zone ("Mon-Fri 09:00-12:00 and 14:00-17:00, Europe/Berlin").
//
// The window rule (docs/sending.md "Local times: two rules"): a window is open at the
// instants at which the local clock reads a time inside it. A daylight-saving gap
// removes the part that does not exist (02:30-03:30 on Berlin's spring-forward night
// is 03:00-03:30 CEST; 02:10-02:40 is not open that night); an overlap is open each
// time the clock passes through the window. Uses Howard Hinnant's date/tz with the
// system's tz database. Thread-safe after construction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"

namespace date {
class time_zone;
}

namespace outflow {

struct Window {
  uint8_t weekdays = 0x7f;  // bit 0 = Monday ... bit 6 = Sunday
  int start_minute = 0;     // local minutes after midnight, inclusive
  int end_minute = 24 * 60; // exclusive; > start_minute
};

// "mon,tue" / "mon-fri" / "all" -> mask. "09:00" -> minutes. Errors name `field`.
Result<uint8_t> ParseWeekdays(std::string_view text, std::string_view field);
Result<int> ParseLocalTime(std::string_view text, std::string_view field);
std::string FormatWeekdays(uint8_t mask);
std::string FormatLocalTime(int minute);

class SendWindows {
 public:
  // No windows: always open.
  static Result<SendWindows> Create(const std::string& time_zone, std::vector<Window> windows);
  bool IsOpen(Timestamp t) const;
  // The first instant >= t at which a window is open.
  Timestamp NextOpen(Timestamp t) const;
  const std::string& time_zone() const { return zone_name_; }
  const std::vector<Window>& windows() const { return windows_; }
  // Whole days since `from`, counted in local calendar days of this zone.
  int64_t LocalDaysBetween(Timestamp from, Timestamp to) const;

 private:
  std::string zone_name_;
  const date::time_zone* zone_ = nullptr;
  std::vector<Window> windows_;
};

}  // namespace outflow
