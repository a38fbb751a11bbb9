#include "base/retry_after.h"

#include <gtest/gtest.h>

namespace outflow {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

const Timestamp kNow = FromMicros(1795512600LL * 1'000'000);  // Tue, 24 Nov 2026 09:30:00 GMT

TEST(ParseRetryAfter, DelaySeconds) {
  EXPECT_EQ(ParseRetryAfter("0", kNow), Duration::zero());
  EXPECT_EQ(ParseRetryAfter("7", kNow), seconds(7));
  EXPECT_EQ(ParseRetryAfter(" 120\r\n", kNow), seconds(120));  // OWS and a header line's end
  EXPECT_EQ(ParseRetryAfter("3600", kNow), seconds(3600));
}

TEST(ParseRetryAfter, BigValuesAreCappedAtTheMaximum) {
  EXPECT_EQ(kMaxRetryAfter, hours(1));
  EXPECT_EQ(ParseRetryAfter("3601", kNow), kMaxRetryAfter);
  EXPECT_EQ(ParseRetryAfter("999999999", kNow), kMaxRetryAfter);
  EXPECT_EQ(ParseRetryAfter("99999999999999999999999999999999", kNow), kMaxRetryAfter);  // beyond int64
  EXPECT_EQ(ParseRetryAfter("90", kNow, seconds(60)), seconds(60));                      // a caller's own maximum
}

TEST(ParseRetryAfter, NegativesAndGarbageAreRefused) {
  for (std::string_view v : {"", " ", "-1", "-3600", "+5", "1.5", "5s", "0x10", "soon", "7 7", "Tue, 24 Nov 2026",
                             "Tue, 24 Nov 2026 09:32:00 UTC", "Tue, 31 Nov 2026 09:32:00 GMT",
                             "Tue, 24 Nov 2026 25:00:00 GMT", "Tue, 24 Foo 2026 09:32:00 GMT"}) {
    EXPECT_FALSE(ParseRetryAfter(v, kNow).has_value()) << "'" << v << "'";
  }
}

TEST(ParseRetryAfter, HttpDateInTheFutureIsTheDelayUntilIt) {
  EXPECT_EQ(ParseRetryAfter("Tue, 24 Nov 2026 09:32:00 GMT", kNow), seconds(120));    // IMF-fixdate
  EXPECT_EQ(ParseRetryAfter("Tuesday, 24-Nov-26 09:32:00 GMT", kNow), seconds(120));  // obsolete RFC 850
  EXPECT_EQ(ParseRetryAfter("Tue Nov 24 09:32:00 2026", kNow), seconds(120));         // obsolete asctime
  EXPECT_EQ(ParseRetryAfter("Sun Nov  6 08:49:37 1994", kNow), Duration::zero());     // asctime, one-digit day
  EXPECT_EQ(ParseRetryAfter("Wed, 25 Nov 2026 09:30:00 GMT", kNow), kMaxRetryAfter);  // a day ahead: capped
  EXPECT_EQ(ParseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", kNow), kMaxRetryAfter);
}

TEST(ParseRetryAfter, HttpDateInThePastIsNoDelay) {
  EXPECT_EQ(ParseRetryAfter("Tue, 24 Nov 2026 09:29:59 GMT", kNow), Duration::zero());
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kNow), Duration::zero());
  // A two-digit year is the latest such year not more than 50 years ahead (RFC 9110).
  EXPECT_EQ(ParseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", kNow), Duration::zero());
}

}  // namespace
}  // namespace outflow
