#include "engine/backoff.h"

#include <gtest/gtest.h>

namespace outflow {
namespace {

using std::chrono::seconds;

TEST(Backoff, CeilingDoublesUpToCap) {
  BackoffPolicy p{seconds(1), seconds(60)};
  EXPECT_EQ(p.Ceiling(1), seconds(1));
  EXPECT_EQ(p.Ceiling(2), seconds(2));
  EXPECT_EQ(p.Ceiling(6), seconds(32));
  EXPECT_EQ(p.Ceiling(7), seconds(60));
  EXPECT_EQ(p.Ceiling(1000), seconds(60));  // no overflow
}

TEST(Backoff, FullJitterSpansZeroToCeiling) {
  BackoffPolicy p{seconds(1), seconds(60)};
  EXPECT_EQ(p.Delay(3, 0.0), Duration::zero());
  EXPECT_EQ(p.Delay(3, 0.5), seconds(2));
  EXPECT_EQ(p.Delay(3, 1.0), seconds(4));
  EXPECT_EQ(p.Delay(3, 7.0), seconds(4));  // clamped
}

}  // namespace
}  // namespace outflow
