#include "time/local_day.h"

#include <gtest/gtest.h>

#include <random>

#include "testing/status_matchers.h"

namespace outflow {
namespace {

using std::chrono::hours;

Timestamp T(const char* s) {
  return ParseRfc3339(s).value();
}

std::string Day(const char* zone, const char* t) {
  return LocalDay(zone, T(t)).value();
}
Timestamp Start(const char* zone, const char* t) {
  return StartOfLocalDay(zone, T(t)).value();
}
Timestamp Next(const char* zone, const char* t) {
  return StartOfNextLocalDay(zone, T(t)).value();
}

TEST(LocalDay, BerlinSpringForwardIsA23HourDay) {
  // 2026-03-29: 02:00 CET -> 03:00 CEST. The day starts at 00:00 CET and ends at 00:00 CEST.
  EXPECT_EQ(Day("Europe/Berlin", "2026-03-28T22:59:59.999999Z"), "2026-03-28");
  EXPECT_EQ(Day("Europe/Berlin", "2026-03-28T23:00:00Z"), "2026-03-29");
  EXPECT_EQ(Day("Europe/Berlin", "2026-03-29T21:59:59.999999Z"), "2026-03-29");
  EXPECT_EQ(Day("Europe/Berlin", "2026-03-29T22:00:00Z"), "2026-03-30");
  EXPECT_EQ(Start("Europe/Berlin", "2026-03-29T10:00:00Z"), T("2026-03-28T23:00:00Z"));
  EXPECT_EQ(Next("Europe/Berlin", "2026-03-29T10:00:00Z"), T("2026-03-29T22:00:00Z"));
  EXPECT_EQ(Next("Europe/Berlin", "2026-03-29T10:00:00Z") - Start("Europe/Berlin", "2026-03-29T10:00:00Z"), hours(23));
  // The instant the day starts belongs to it; the next day starts strictly later.
  EXPECT_EQ(Next("Europe/Berlin", "2026-03-28T23:00:00Z"), T("2026-03-29T22:00:00Z"));
  EXPECT_EQ(Next("Europe/Berlin", "2026-03-28T22:59:59.999999Z"), T("2026-03-28T23:00:00Z"));
}

TEST(LocalDay, BerlinFallBackIsA25HourDay) {
  // 2026-10-25: 03:00 CEST -> 02:00 CET.
  EXPECT_EQ(Day("Europe/Berlin", "2026-10-24T21:59:59Z"), "2026-10-24");
  EXPECT_EQ(Day("Europe/Berlin", "2026-10-24T22:00:00Z"), "2026-10-25");
  EXPECT_EQ(Day("Europe/Berlin", "2026-10-25T22:59:59Z"), "2026-10-25");                 // 23:59:59 CET
  EXPECT_EQ(Start("Europe/Berlin", "2026-10-25T01:30:00Z"), T("2026-10-24T22:00:00Z"));  // the repeated hour
  EXPECT_EQ(Next("Europe/Berlin", "2026-10-25T01:30:00Z"), T("2026-10-25T23:00:00Z"));
  EXPECT_EQ(Next("Europe/Berlin", "2026-10-25T01:30:00Z") - Start("Europe/Berlin", "2026-10-25T01:30:00Z"), hours(25));
  // An ordinary day before and after.
  EXPECT_EQ(Next("Europe/Berlin", "2026-10-24T12:00:00Z") - Start("Europe/Berlin", "2026-10-24T12:00:00Z"), hours(24));
  EXPECT_EQ(Next("Europe/Berlin", "2026-10-26T12:00:00Z") - Start("Europe/Berlin", "2026-10-26T12:00:00Z"), hours(24));
}

TEST(LocalDay, NewYork) {
  // 2026-03-08: 02:00 EST -> 03:00 EDT; 2026-11-01: 02:00 EDT -> 01:00 EST.
  EXPECT_EQ(Start("America/New_York", "2026-03-08T12:00:00Z"), T("2026-03-08T05:00:00Z"));
  EXPECT_EQ(Next("America/New_York", "2026-03-08T12:00:00Z"), T("2026-03-09T04:00:00Z"));
  EXPECT_EQ(Start("America/New_York", "2026-11-01T12:00:00Z"), T("2026-11-01T04:00:00Z"));
  EXPECT_EQ(Next("America/New_York", "2026-11-01T12:00:00Z"), T("2026-11-02T05:00:00Z"));
  // UTC is already the next day, New York is not.
  EXPECT_EQ(Day("America/New_York", "2026-11-24T04:59:59Z"), "2026-11-23");
  EXPECT_EQ(Day("America/New_York", "2026-11-24T05:00:00Z"), "2026-11-24");
  EXPECT_EQ(Day("UTC", "2026-11-24T04:59:59Z"), "2026-11-24");
}

TEST(LocalDay, MidnightThatDaylightSavingSkips) {
  // 2018-11-04 in Sao Paulo: 00:00 -03 -> 01:00 -02, so that day starts at 01:00 local.
  EXPECT_EQ(Day("America/Sao_Paulo", "2018-11-04T02:59:59Z"), "2018-11-03");
  EXPECT_EQ(Day("America/Sao_Paulo", "2018-11-04T03:00:00Z"), "2018-11-04");
  EXPECT_EQ(Next("America/Sao_Paulo", "2018-11-03T12:00:00Z"), T("2018-11-04T03:00:00Z"));
  EXPECT_EQ(Start("America/Sao_Paulo", "2018-11-04T12:00:00Z"), T("2018-11-04T03:00:00Z"));
  EXPECT_EQ(Next("America/Sao_Paulo", "2018-11-04T12:00:00Z"), T("2018-11-05T02:00:00Z"));  // 23 hours
}

TEST(LocalDay, MidnightThatHappensTwice) {
  // 2019-11-03 in Havana: 01:00 -04 -> 00:00 -05, so local midnight occurs at 04:00Z
  // and again at 05:00Z. The day starts at the first; the hour between is already
  // the 3rd, and the day lasts 25 hours.
  EXPECT_EQ(Next("America/Havana", "2019-11-02T12:00:00Z"), T("2019-11-03T04:00:00Z"));
  EXPECT_EQ(Day("America/Havana", "2019-11-03T04:30:00Z"), "2019-11-03");
  EXPECT_EQ(Start("America/Havana", "2019-11-03T04:30:00Z"), T("2019-11-03T04:00:00Z"));
  EXPECT_EQ(Start("America/Havana", "2019-11-03T05:30:00Z"), T("2019-11-03T04:00:00Z"));
  EXPECT_EQ(Next("America/Havana", "2019-11-03T04:30:00Z"), T("2019-11-04T05:00:00Z"));
}

TEST(LocalDay, DayBoundsHoldEverywhere) {
  // For random instants: Start <= t < Next, Next is the following day, and the last
  // microsecond before Next is still t's day.
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> micros(ToMicros(T("1990-01-01T00:00:00Z")),
                                                ToMicros(T("2040-01-01T00:00:00Z")));
  for (const char* zone : {"Europe/Berlin", "America/New_York", "America/Sao_Paulo", "America/Havana",
                           "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Apia", "UTC"}) {
    for (int i = 0; i < 2000; ++i) {
      Timestamp t = FromMicros(micros(rng));
      ASSERT_OK_AND_ASSIGN(std::string day, LocalDay(zone, t));
      ASSERT_OK_AND_ASSIGN(Timestamp start, StartOfLocalDay(zone, t));
      ASSERT_OK_AND_ASSIGN(Timestamp next, StartOfNextLocalDay(zone, t));
      ASSERT_LE(start, t) << zone << " " << FormatRfc3339(t);
      ASSERT_LT(t, next) << zone << " " << FormatRfc3339(t);
      ASSERT_EQ(LocalDay(zone, start).value(), day) << zone << " " << FormatRfc3339(t);
      ASSERT_EQ(LocalDay(zone, next - Duration(1)).value(), day) << zone << " " << FormatRfc3339(t);
      ASSERT_NE(LocalDay(zone, next).value(), day) << zone << " " << FormatRfc3339(t);
      ASSERT_NE(LocalDay(zone, start - Duration(1)).value(), day) << zone << " " << FormatRfc3339(t);
      ASSERT_LE(next - start, hours(25)) << zone << " " << FormatRfc3339(t);
    }
  }
}

TEST(LocalDay, UnknownZoneIsNamed) {
  for (const Status& s : {LocalDay("Mars/Base", T("2026-01-01T00:00:00Z")).status(),
                          StartOfLocalDay("Mars/Base", T("2026-01-01T00:00:00Z")).status(),
                          StartOfNextLocalDay("Mars/Base", T("2026-01-01T00:00:00Z")).status()}) {
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
    EXPECT_EQ(s.message(), "time_zone: 'Mars/Base' is not an IANA time zone (e.g. Europe/Berlin)");
  }
}

TEST(ParseLocalDateTime, LocalTimeInAZone) {
  ASSERT_OK_AND_ASSIGN(Timestamp t, ParseLocalDateTime("Europe/Berlin", "2026-11-25T09:00", "send_at"));
  EXPECT_EQ(t, T("2026-11-25T08:00:00Z"));
  ASSERT_OK_AND_ASSIGN(t, ParseLocalDateTime("America/New_York", "2026-07-01T09:30:15.5", "send_at"));
  EXPECT_EQ(t, T("2026-07-01T13:30:15.5Z"));
}

TEST(ParseLocalDateTime, AnOffsetWins) {
  ASSERT_OK_AND_ASSIGN(Timestamp t, ParseLocalDateTime("Europe/Berlin", "2026-11-25T09:00:00Z", "send_at"));
  EXPECT_EQ(t, T("2026-11-25T09:00:00Z"));
  ASSERT_OK_AND_ASSIGN(t, ParseLocalDateTime("Europe/Berlin", "2026-11-25T09:00:00-05:00", "send_at"));
  EXPECT_EQ(t, T("2026-11-25T14:00:00Z"));
}

TEST(ParseLocalDateTime, SkippedTimeMovesForwardByTheGap) {
  // 2026-03-29 02:30 does not exist in Berlin (02:00 CET -> 03:00 CEST): 03:30 CEST.
  ASSERT_OK_AND_ASSIGN(Timestamp t, ParseLocalDateTime("Europe/Berlin", "2026-03-29T02:30", "send_at"));
  EXPECT_EQ(t, T("2026-03-29T01:30:00Z"));
}

TEST(ParseLocalDateTime, RepeatedTimeIsTheFirst) {
  // 2026-10-25 02:30 happens twice in Berlin; the first is CEST (+02:00).
  ASSERT_OK_AND_ASSIGN(Timestamp t, ParseLocalDateTime("Europe/Berlin", "2026-10-25T02:30", "send_at"));
  EXPECT_EQ(t, T("2026-10-25T00:30:00Z"));
}

TEST(ParseLocalDateTime, BadInputNamesTheField) {
  Result<Timestamp> r = ParseLocalDateTime("Europe/Berlin", "tomorrow", "send_at");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("send_at: 'tomorrow'"), std::string::npos) << r.status().message();
  r = ParseLocalDateTime("Europe/Berlin", "2026-13-01T09:00", "send_at");
  ASSERT_FALSE(r.ok());
  r = ParseLocalDateTime("Mars/Olympus", "2026-11-01T09:00", "send_at");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("Mars/Olympus"), std::string::npos);
}

}  // namespace
}  // namespace outflow
