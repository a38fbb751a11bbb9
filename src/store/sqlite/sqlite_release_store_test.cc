// The release store over a real SQLite file: the conformance suite instantiated for
// SQLite, and what only the file can show (a damaged row).
#include "store/sqlite/sqlite_release_store.h"

#include <gtest/gtest.h>

#include "store/release_store_conformance.h"
#include "store/sqlite/db.h"
#include "store/sqlite/sqlite_store_set.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace outflow {
namespace {

const Timestamp kT0 = FromMicros(1'800'000'000'000'000);

INSTANTIATE_TEST_SUITE_P(Sqlite, ReleaseStoreConformance, ::testing::Values(SqliteStoreSet()), SqliteName);

TEST(SqliteReleaseStore, AnUnknownStateIsCorruptionNotCancelled) {
  testing::TempDir dir;
  auto opened = SqliteStores::Open(dir.File("outflow.db"), {}, kT0);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  ReleasePlan p;
  p.name = "warm-up";
  p.per_slot = 1;
  p.interval_seconds = 60;
  ASSERT_OK_AND_ASSIGN(ReleasePlan plan, (*opened)->releases().Create(p, kT0));
  ASSERT_OK_AND_ASSIGN(auto raw, sqlite::Connection::Open(dir.File("outflow.db"), {}));
  ASSERT_OK(raw->Exec("PRAGMA ignore_check_constraints = ON; UPDATE release_plans SET state = 'dormant'"));
  Result<ReleasePlan> got = (*opened)->releases().Get(plan.id);
  EXPECT_EQ(got.status().code(), Code::kCorruption);
  EXPECT_NE(got.status().message().find("unknown state 'dormant'"), std::string::npos) << got.status().message();
}

}  // namespace
}  // namespace outflow
