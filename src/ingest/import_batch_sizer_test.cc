#include <gtest/gtest.h>

#include "ingest/import_service.h"

namespace outflow {
namespace {

using std::chrono::milliseconds;

TEST(ImportBatchSizerTest, StartsSmallAndGrowsWhileCommitsAreQuick) {
  ImportBatchSizer s;
  EXPECT_EQ(s.rows(), 2 * kMinImportBatchRows) << "the first commit is short whatever rows cost";
  for (int i = 0; i < 10; ++i) s.Observe(milliseconds(5));
  EXPECT_EQ(s.rows(), kImportBatchRows);
}

TEST(ImportBatchSizerTest, SlowCommitsHalveTheBatchDownToTheFloor) {
  ImportBatchSizer s;
  for (int i = 0; i < 10; ++i) s.Observe(milliseconds(5));
  ASSERT_EQ(s.rows(), kImportBatchRows);
  s.Observe(milliseconds(90));
  EXPECT_EQ(s.rows(), kImportBatchRows / 2);
  for (int i = 0; i < 20; ++i) s.Observe(milliseconds(90));
  EXPECT_EQ(s.rows(), kMinImportBatchRows);
}

TEST(ImportBatchSizerTest, QuickCommitsGrowItBackToTheCeiling) {
  ImportBatchSizer s;
  for (int i = 0; i < 10; ++i) s.Observe(milliseconds(5));
  for (int i = 0; i < 3; ++i) s.Observe(milliseconds(100));
  ASSERT_EQ(s.rows(), kImportBatchRows / 8);
  s.Observe(milliseconds(5));
  EXPECT_EQ(s.rows(), kImportBatchRows / 4);
  for (int i = 0; i < 10; ++i) s.Observe(milliseconds(5));
  EXPECT_EQ(s.rows(), kImportBatchRows);
}

TEST(ImportBatchSizerTest, CommitsNearTheTargetKeepTheSize) {
  ImportBatchSizer s;
  s.Observe(milliseconds(60));
  const int rows = s.rows();
  for (int i = 0; i < 5; ++i) s.Observe(milliseconds(30));
  EXPECT_EQ(s.rows(), rows) << "between a third of the target and the target: no change";
}

}  // namespace
}  // namespace outflow
