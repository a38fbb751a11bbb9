#include "base/adaptive_batch.h"

#include <gtest/gtest.h>

namespace outflow {
namespace {

using std::chrono::milliseconds;

TEST(AdaptiveBatchTest, StartsWhereToldAndGrowsWhileUnitsAreQuick) {
  AdaptiveBatch b(500, 1000, 5000, milliseconds(40));
  EXPECT_EQ(b.size(), 1000);
  b.Observe(milliseconds(5));
  EXPECT_EQ(b.size(), 2000);
  for (int i = 0; i < 10; ++i) b.Observe(milliseconds(5));
  EXPECT_EQ(b.size(), 5000) << "never over max";
}

TEST(AdaptiveBatchTest, SlowUnitsHalveItDownToTheFloor) {
  AdaptiveBatch b(500, 5000, 5000, milliseconds(40));
  b.Observe(milliseconds(90));
  EXPECT_EQ(b.size(), 2500);
  for (int i = 0; i < 20; ++i) b.Observe(milliseconds(90));
  EXPECT_EQ(b.size(), 500) << "never under min";
}

TEST(AdaptiveBatchTest, UnitsNearTheTargetKeepTheSize) {
  AdaptiveBatch b(500, 5000, 5000, milliseconds(40));
  b.Observe(milliseconds(60));
  for (int i = 0; i < 5; ++i) b.Observe(milliseconds(30));
  EXPECT_EQ(b.size(), 2500) << "between a third of the target and the target: no change";
}

TEST(AdaptiveBatchTest, BoundsAreKeptSane) {
  AdaptiveBatch tiny(0, 0, 3, milliseconds(40));
  EXPECT_EQ(tiny.size(), 1) << "at least one row a unit";
  AdaptiveBatch inverted(10, 5, 2, milliseconds(40));
  EXPECT_EQ(inverted.size(), 10) << "max below min is min";
}

}  // namespace
}  // namespace outflow
