#include "time/send_window.h"

#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace outflow {
namespace {

Timestamp T(const char* s) { return ParseRfc3339(s).value(); }

TEST(SendWindows, OfficeHoursInBerlin) {
  // Mon-Fri 09:00-12:00 and 14:00-17:00 local time.
  ASSERT_OK_AND_ASSIGN(auto w, SendWindows::Create("Europe/Berlin", {{0x1f, 9 * 60, 12 * 60}, {0x1f, 14 * 60, 17 * 60}}));
  // 2026-11-24 is a Tuesday; Berlin is UTC+1 in November.
  EXPECT_TRUE(w.IsOpen(T("2026-11-24T08:30:00Z")));                               // 09:30 local
  EXPECT_EQ(w.NextOpen(T("2026-11-24T11:30:00Z")), T("2026-11-24T13:00:00Z"));    // lunch -> 14:00 local
  EXPECT_EQ(w.NextOpen(T("2026-11-27T16:30:00Z")), T("2026-11-30T08:00:00Z"));    // Friday 17:30 -> Monday 09:00
}

TEST(SendWindows, DaylightSavingChanges) {
  ASSERT_OK_AND_ASSIGN(auto w, SendWindows::Create("Europe/Berlin", {{0x7f, 9 * 60, 10 * 60}}));
  // Before and after the change on 2026-03-29 the same local 09:00 is a different UTC hour.
  EXPECT_EQ(w.NextOpen(T("2026-03-28T12:00:00Z")), T("2026-03-29T07:00:00Z"));  // summer time: UTC+2
  EXPECT_EQ(w.NextOpen(T("2026-03-27T12:00:00Z")), T("2026-03-28T08:00:00Z"));  // winter time: UTC+1
  // A window starting in the skipped hour (02:00-03:00 does not exist that night) opens at 03:00.
  ASSERT_OK_AND_ASSIGN(auto night, SendWindows::Create("Europe/Berlin", {{0x7f, 2 * 60 + 30, 4 * 60}}));
  EXPECT_EQ(night.NextOpen(T("2026-03-28T23:00:00Z")), T("2026-03-29T01:00:00Z"));
}

TEST(SendWindows, NoWindowsIsAlwaysOpenAndBadInputIsNamed) {
  ASSERT_OK_AND_ASSIGN(auto w, SendWindows::Create("UTC", {}));
  EXPECT_TRUE(w.IsOpen(T("2026-01-01T03:00:00Z")));
  EXPECT_NE(SendWindows::Create("Mars/Base", {}).status().message().find("not an IANA time zone"), std::string::npos);
  EXPECT_FALSE(SendWindows::Create("UTC", {{0x7f, 600, 600}}).ok());
  EXPECT_EQ(ParseWeekdays("mon-fri", "days").value(), 0x1f);
  EXPECT_EQ(ParseWeekdays("sat,sun", "days").value(), 0x60);
  EXPECT_EQ(ParseWeekdays("fri-mon", "days").value(), 0x10 | 0x20 | 0x40 | 0x01);
  EXPECT_FALSE(ParseWeekdays("funday", "days").ok());
  EXPECT_EQ(ParseLocalTime("09:30", "start").value(), 570);
  EXPECT_FALSE(ParseLocalTime("9:30", "start").ok());
  EXPECT_FALSE(ParseLocalTime("25:00", "start").ok());
}

TEST(SendWindows, LocalDays) {
  ASSERT_OK_AND_ASSIGN(auto w, SendWindows::Create("America/New_York", {}));
  EXPECT_EQ(w.LocalDaysBetween(T("2026-11-24T04:00:00Z"), T("2026-11-24T06:00:00Z")), 1);  // 23:00 -> 01:00 local
}

}  // namespace
}  // namespace outflow
