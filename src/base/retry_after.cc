#include "base/retry_after.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace outflow {
namespace {

using std::chrono::seconds;

// A left-to-right reader of one field value; every method consumes on success only.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool AtEnd() const { return i_ == s_.size(); }
  bool Lit(std::string_view lit) {
    if (s_.substr(i_, lit.size()) != lit) return false;
    i_ += lit.size();
    return true;
  }
  // Exactly n digits.
  bool Digits(size_t n, int& out) {
    if (i_ + n > s_.size()) return false;
    int v = 0;
    for (size_t k = 0; k < n; ++k) {
      char c = s_[i_ + k];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    out = v;
    i_ += n;
    return true;
  }
  // One or more ASCII letters (a day name).
  bool Letters() {
    size_t j = i_;
    while (j < s_.size() && ((s_[j] >= 'a' && s_[j] <= 'z') || (s_[j] >= 'A' && s_[j] <= 'Z'))) ++j;
    if (j == i_) return false;
    i_ = j;
    return true;
  }
  bool Month(unsigned& out) {
    static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (unsigned m = 0; m < kMonths.size(); ++m) {
      if (Lit(kMonths[m])) {
        out = m + 1;
        return true;
      }
    }
    return false;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

struct DateTime {
  int year = 0, day = 0, hour = 0, minute = 0, second = 0;
  unsigned month = 0;
};

bool TimeOfDay(Reader& r, DateTime& d) {
  return r.Digits(2, d.hour) && r.Lit(":") && r.Digits(2, d.minute) && r.Lit(":") && r.Digits(2, d.second);
}

// IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
bool ImfFixdate(std::string_view s, DateTime& d) {
  Reader r(s);
  return r.Letters() && r.Lit(", ") && r.Digits(2, d.day) && r.Lit(" ") && r.Month(d.month) && r.Lit(" ") &&
         r.Digits(4, d.year) && r.Lit(" ") && TimeOfDay(r, d) && r.Lit(" GMT") && r.AtEnd();
}

// rfc850-date: Sunday, 06-Nov-94 08:49:37 GMT. The year is resolved by the caller.
bool Rfc850Date(std::string_view s, DateTime& d) {
  Reader r(s);
  return r.Letters() && r.Lit(", ") && r.Digits(2, d.day) && r.Lit("-") && r.Month(d.month) && r.Lit("-") &&
         r.Digits(2, d.year) && r.Lit(" ") && TimeOfDay(r, d) && r.Lit(" GMT") && r.AtEnd();
}

// asctime-date: Sun Nov  6 08:49:37 1994
bool AsctimeDate(std::string_view s, DateTime& d) {
  Reader r(s);
  if (!r.Letters() || !r.Lit(" ") || !r.Month(d.month) || !r.Lit(" ")) return false;
  if (!(r.Lit(" ") ? r.Digits(1, d.day) : r.Digits(2, d.day))) return false;
  return r.Lit(" ") && TimeOfDay(r, d) && r.Lit(" ") && r.Digits(4, d.year) && r.AtEnd();
}

std::optional<Timestamp> ToTimestamp(const DateTime& d) {
  std::chrono::year_month_day ymd{std::chrono::year(d.year), std::chrono::month(d.month),
                                  std::chrono::day(static_cast<unsigned>(d.day))};
  if (!ymd.ok() || d.hour > 23 || d.minute > 59 || d.second > 60) return std::nullopt;  // 60: a leap second
  auto t = std::chrono::sys_days(ymd) + std::chrono::hours(d.hour) + std::chrono::minutes(d.minute) + seconds(d.second);
  return std::chrono::time_point_cast<Duration>(t);
}

std::optional<Timestamp> HttpDate(std::string_view s, Timestamp now) {
  DateTime d;
  if (ImfFixdate(s, d) || AsctimeDate(s, d)) return ToTimestamp(d);
  if (!Rfc850Date(s, d)) return std::nullopt;
  // RFC 9110: a two-digit year more than 50 years ahead is the latest past year with those digits.
  const int this_year =
      static_cast<int>(std::chrono::year_month_day(std::chrono::floor<std::chrono::days>(now)).year());
  d.year += this_year - this_year % 100;
  if (d.year > this_year + 50) d.year -= 100;
  return ToTimestamp(d);
}

std::string_view TrimOws(std::string_view v) {
  constexpr std::string_view kSpace = " \t\r\n";
  size_t b = v.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return v.substr(b, v.find_last_not_of(kSpace) - b + 1);
}

}  // namespace

std::optional<Duration> ParseRetryAfter(std::string_view value, Timestamp now, Duration max) {
  value = TrimOws(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    const int64_t max_seconds = std::chrono::duration_cast<seconds>(max).count();
    int64_t n = 0;
    for (char c : value) {
      n = n * 10 + (c - '0');
      if (n >= max_seconds) return max;  // before it can overflow
    }
    return seconds(n);
  }
  std::optional<Timestamp> at = HttpDate(value, now);
  if (!at) return std::nullopt;
  return std::clamp<Duration>(*at - now, Duration::zero(), max);
}

}  // namespace outflow
