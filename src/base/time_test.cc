#include "base/time.h"

#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace outflow {
namespace {

TEST(Rfc3339, ParsesUtcAndOffsets) {
  ASSERT_OK_AND_ASSIGN(Timestamp t, ParseRfc3339("1970-01-01T00:00:00Z"));
  EXPECT_EQ(ToMicros(t), 0);
  ASSERT_OK_AND_ASSIGN(t, ParseRfc3339("2026-11-24T09:30:00.5+01:00"));
  ASSERT_OK_AND_ASSIGN(Timestamp utc, ParseRfc3339("2026-11-24T08:30:00.500000Z"));
  EXPECT_EQ(t, utc);
  ASSERT_OK_AND_ASSIGN(t, ParseRfc3339("2024-02-29t23:59:59.123456789z"));
  EXPECT_EQ(ToMicros(t) % 1'000'000, 123456);  // nanoseconds truncated
}

TEST(Rfc3339, FormatRoundTrips) {
  for (int64_t us : {int64_t{0}, int64_t{1'764'000'000'123'456}, int64_t{951'782'400'000'000}, int64_t{-1}}) {
    std::string s = FormatRfc3339(FromMicros(us));
    ASSERT_OK_AND_ASSIGN(Timestamp back, ParseRfc3339(s));
    EXPECT_EQ(ToMicros(back), us) << s;
  }
  EXPECT_EQ(FormatRfc3339(FromMicros(0)), "1970-01-01T00:00:00.000000Z");
}

TEST(Rfc3339, LatestTimestampIsTheLastFourDigitYearInstant) {
  EXPECT_EQ(FormatRfc3339(kLatestTimestamp), "9999-12-31T23:59:59.999999Z");
  EXPECT_EQ(ParseRfc3339("9999-12-31T23:59:59.999999Z").value(), kLatestTimestamp);
}

TEST(Rfc3339, RejectsWithReason) {
  struct Case {
    const char* text;
    const char* reason;
  };
  for (const Case& c :
       {Case{"", "empty"}, Case{"2026-13-01T00:00:00Z", "month"}, Case{"2026-02-29T00:00:00Z", "day"},
        Case{"2026-01-01", "missing 'T'"}, Case{"2026-01-01T25:00:00Z", "hour"}, Case{"2026-01-01T10:00:00", "offset"},
        Case{"2026-01-01T10:00:00+1:00", "offset"}, Case{"2026-01-01T10:00:00Zjunk", "unexpected"},
        Case{"tomorrow", "YYYY-MM-DD"}, Case{"2026-01-01T10:00:00.Z", "fraction"}}) {
    Result<Timestamp> r = ParseRfc3339(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.reason), std::string::npos) << r.status().message();
  }
}

}  // namespace
}  // namespace outflow
