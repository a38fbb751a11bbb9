#include "time/send_window.h"

#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace outflow {
namespace {

Timestamp T(const char* s) {
  return ParseRfc3339(s).value();
}

TEST(SendWindows, OfficeHoursInBerlin) {
  // Mon-Fri 09:00-12:00 and 14:00-17:00 local time.
  ASSERT_OK_AND_ASSIGN(auto w,
                       SendWindows::Create("Europe/Berlin", {{0x1f, 9 * 60, 12 * 60}, {0x1f, 14 * 60, 17 * 60}}));
  // 2026-11-24 is a Tuesday; Berlin is UTC+1 in November.
  EXPECT_TRUE(w.IsOpen(T("2026-11-24T08:30:00Z")));                             // 09:30 local
  EXPECT_EQ(w.NextOpen(T("2026-11-24T11:30:00Z")), T("2026-11-24T13:00:00Z"));  // lunch -> 14:00 local
  EXPECT_EQ(w.NextOpen(T("2026-11-27T16:30:00Z")), T("2026-11-30T08:00:00Z"));  // Friday 17:30 -> Monday 09:00
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

// The window rule in the autumn overlap: on 2027-10-31 Berlin's clock reads 02:00-03:00
// twice (CEST until 01:00 UTC, then CET). A window is open whenever the clock reads a
// time inside it.
TEST(SendWindows, AnOverlapIsOpenEachTimeTheClockPassesThroughTheWindow) {
  ASSERT_OK_AND_ASSIGN(auto twice, SendWindows::Create("Europe/Berlin", {{0x7f, 2 * 60 + 15, 2 * 60 + 45}}));
  EXPECT_TRUE(twice.IsOpen(T("2027-10-31T00:15:00Z")));   // 02:15 CEST
  EXPECT_FALSE(twice.IsOpen(T("2027-10-31T00:45:00Z")));  // 02:45 CEST
  EXPECT_FALSE(twice.IsOpen(T("2027-10-31T01:00:00Z")));  // 02:00 CET
  EXPECT_TRUE(twice.IsOpen(T("2027-10-31T01:15:00Z")));   // 02:15 CET: the second pass
  EXPECT_TRUE(twice.IsOpen(T("2027-10-31T01:44:59Z")));
  EXPECT_FALSE(twice.IsOpen(T("2027-10-31T01:45:00Z")));
  EXPECT_EQ(twice.NextOpen(T("2027-10-31T00:50:00Z")), T("2027-10-31T01:15:00Z"));

  // 02:30-04:00: closed while the clock reads 02:00-02:30 the second time.
  ASSERT_OK_AND_ASSIGN(auto late, SendWindows::Create("Europe/Berlin", {{0x7f, 2 * 60 + 30, 4 * 60}}));
  EXPECT_TRUE(late.IsOpen(T("2027-10-31T00:30:00Z")));
  EXPECT_FALSE(late.IsOpen(T("2027-10-31T01:10:00Z")));  // 02:10 CET
  EXPECT_EQ(late.NextOpen(T("2027-10-31T01:00:00Z")), T("2027-10-31T01:30:00Z"));
  EXPECT_TRUE(late.IsOpen(T("2027-10-31T02:59:59Z")));  // 03:59:59 CET

  // 01:00-02:30: the clock change itself moves the reading back into the window.
  ASSERT_OK_AND_ASSIGN(auto early, SendWindows::Create("Europe/Berlin", {{0x7f, 60, 2 * 60 + 30}}));
  EXPECT_FALSE(early.IsOpen(T("2027-10-31T00:40:00Z")));                            // 02:40 CEST
  EXPECT_EQ(early.NextOpen(T("2027-10-31T00:40:00Z")), T("2027-10-31T01:00:00Z"));  // 02:00 CET
  EXPECT_TRUE(early.IsOpen(T("2027-10-31T01:29:59Z")));
  EXPECT_FALSE(early.IsOpen(T("2027-10-31T01:30:00Z")));
}

// The spring gap: 02:30-03:30 on 2027-03-28 in Berlin is 03:00-03:30 CEST, and a
// window wholly inside the gap is not open that night at all.
TEST(SendWindows, AGapRemovesWhatDoesNotExist) {
  ASSERT_OK_AND_ASSIGN(auto w, SendWindows::Create("Europe/Berlin", {{0x7f, 2 * 60 + 30, 3 * 60 + 30}}));
  EXPECT_EQ(w.NextOpen(T("2027-03-27T23:00:00Z")), T("2027-03-28T01:00:00Z"));  // 03:00 CEST
  EXPECT_TRUE(w.IsOpen(T("2027-03-28T01:29:59Z")));
  EXPECT_FALSE(w.IsOpen(T("2027-03-28T01:30:00Z")));  // 03:30 CEST
  ASSERT_OK_AND_ASSIGN(auto empty, SendWindows::Create("Europe/Berlin", {{0x7f, 2 * 60 + 10, 2 * 60 + 40}}));
  EXPECT_EQ(empty.NextOpen(T("2027-03-27T23:00:00Z")), T("2027-03-29T00:10:00Z")) << "the next night, 02:10 CEST";
  // Only on Sundays, and the Sunday's window is eaten by the gap: the next Sunday.
  ASSERT_OK_AND_ASSIGN(auto sundays, SendWindows::Create("Europe/Berlin", {{0x40, 2 * 60 + 10, 2 * 60 + 40}}));
  EXPECT_EQ(sundays.NextOpen(T("2027-03-27T23:00:00Z")), T("2027-04-04T00:10:00Z"));
}

}  // namespace
}  // namespace outflow
