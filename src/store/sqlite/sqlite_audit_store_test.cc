// The audit store over a real SQLite file: the conformance suite instantiated for
// SQLite, and what only the file can show (the database refuses an UPDATE).
#include "store/sqlite/sqlite_audit_store.h"

#include <gtest/gtest.h>

#include "store/audit_store_conformance.h"
#include "store/sqlite/db.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/status_matchers.h"

namespace outflow {
namespace {

AuditStoreFactory SqliteAudit() {
  return {"sqlite", [](const std::string& dir, Timestamp now) -> Result<std::shared_ptr<AuditStore>> {
            auto s = SqliteStores::Open(dir + "/outflow.db", {}, now);
            if (!s.ok()) return s.status();
            std::shared_ptr<SqliteStores> owner(std::move(s).value());
            return std::shared_ptr<AuditStore>(owner, &owner->audit());
          }};
}

std::string Name(const ::testing::TestParamInfo<AuditStoreFactory>& p) {
  return p.param.name;
}

INSTANTIATE_TEST_SUITE_P(Sqlite, AuditStoreConformance, ::testing::Values(SqliteAudit()), Name);

TEST(SqliteAuditStore, TheDatabaseRefusesToEditAnEntry) {
  testing::TempDir dir;
  const Timestamp t0 = FromMicros(1'800'000'000'000'000);
  ASSERT_OK_AND_ASSIGN(auto stores, SqliteStores::Open(dir.File("outflow.db"), {}, t0));
  AuditEntry e;
  e.at = t0;
  e.actor = "key:1";
  e.action = "campaign.cancel";
  e.summary = "{}";
  ASSERT_OK(stores->audit().Append(std::vector{e}));
  ASSERT_OK_AND_ASSIGN(auto raw, sqlite::Connection::Open(dir.File("outflow.db"), {}));
  Status edit = raw->Exec("UPDATE audit_log SET actor = 'key:2'");
  EXPECT_FALSE(edit.ok());
  EXPECT_NE(edit.message().find("append-only"), std::string::npos) << edit.ToString();
  AuditFilter f;
  ASSERT_OK_AND_ASSIGN(AuditPage page, stores->audit().List(f));
  ASSERT_EQ(page.entries.size(), 1u);
  EXPECT_EQ(page.entries[0].actor, "key:1");
}

}  // namespace
}  // namespace outflow
