// The key store over a real SQLite file: the conformance suite instantiated for
// SQLite, and what only the file can show (a damaged row).
#include "store/sqlite/sqlite_key_store.h"

#include <gtest/gtest.h>

#include "store/key_store_conformance.h"
#include "store/sqlite/db.h"
#include "testing/status_matchers.h"

namespace outflow {
namespace {

KeyStoreFactory SqliteKeys() {
  return {"sqlite", [](const std::string& dir, Timestamp now) -> Result<std::shared_ptr<KeyStore>> {
            auto s = SqliteKeyStore::Open(dir + "/outflow.db", now);
            if (!s.ok()) return s.status();
            return std::shared_ptr<KeyStore>(std::move(s).value());
          }};
}

std::string Name(const ::testing::TestParamInfo<KeyStoreFactory>& p) {
  return p.param.name;
}

INSTANTIATE_TEST_SUITE_P(Sqlite, KeyStoreConformance, ::testing::Values(SqliteKeys()), Name);

TEST(SqliteKeyStore, AnUnknownRoleIsCorruptionNotViewer) {
  testing::TempDir dir;
  const Timestamp t0 = FromMicros(1'800'000'000'000'000);
  ASSERT_OK_AND_ASSIGN(auto keys, SqliteKeyStore::Open(dir.File("outflow.db"), t0));
  ApiKey k;
  k.lookup = "ab";
  k.name = "x";
  k.hash = "h";
  ASSERT_OK(keys->Create(k, t0).status());
  ASSERT_OK_AND_ASSIGN(auto raw, sqlite::Connection::Open(dir.File("outflow.db"), {}));
  ASSERT_OK(raw->Exec("PRAGMA ignore_check_constraints = ON; UPDATE api_keys SET role = 'root'"));
  EXPECT_EQ(keys->FindByLookup("ab").status().code(), Code::kCorruption);
}

}  // namespace
}  // namespace outflow
