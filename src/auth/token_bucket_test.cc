#include "auth/token_bucket.h"

#include <gtest/gtest.h>

namespace outflow::auth {
namespace {

const Timestamp kT0 = FromMicros(1'800'000'000'000'000);

TEST(TokenBucket, ABurstOfCapacityThenTheRateWithTheWaitToTheNextToken) {
  TokenBucket b(10, 10, kT0);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(b.Take(kT0)) << i;
  std::optional<Duration> wait = b.Take(kT0);
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, std::chrono::milliseconds(100));
  EXPECT_TRUE(b.Take(kT0 + std::chrono::milliseconds(99)));
  EXPECT_FALSE(b.Take(kT0 + std::chrono::milliseconds(100)));
  // A quiet spell refills only up to the capacity.
  const Timestamp later = kT0 + std::chrono::hours(1);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(b.Take(later)) << i;
  EXPECT_TRUE(b.Take(later));
}

}  // namespace
}  // namespace outflow::auth
