// The user store over a real SQLite file: the conformance suite instantiated for
// SQLite, and what only the file can show (a damaged row, the cascade).
#include "store/sqlite/sqlite_user_store.h"

#include <gtest/gtest.h>

#include "store/sqlite/db.h"
#include "store/user_store_conformance.h"
#include "testing/status_matchers.h"

namespace outflow {
namespace {

UserStoreFactory SqliteUsers() {
  return {"sqlite", [](const std::string& dir, Timestamp now) -> Result<std::shared_ptr<UserStore>> {
            auto s = SqliteUserStore::Open(dir + "/outflow.db", now);
            if (!s.ok()) return s.status();
            return std::shared_ptr<UserStore>(std::move(s).value());
          }};
}

std::string Name(const ::testing::TestParamInfo<UserStoreFactory>& p) {
  return p.param.name;
}

INSTANTIATE_TEST_SUITE_P(Sqlite, UserStoreConformance, ::testing::Values(SqliteUsers()), Name);

TEST(SqliteUserStore, AnUnknownRoleIsCorruptionNotViewer) {
  testing::TempDir dir;
  const Timestamp t0 = FromMicros(1'800'000'000'000'000);
  ASSERT_OK_AND_ASSIGN(auto users, SqliteUserStore::Open(dir.File("outflow.db"), t0));
  ASSERT_OK(users->CreateUser("a@example.com", Role::kEditor, t0).status());
  ASSERT_OK_AND_ASSIGN(auto raw, sqlite::Connection::Open(dir.File("outflow.db"), {}));
  ASSERT_OK(raw->Exec("PRAGMA ignore_check_constraints = ON; UPDATE users SET role = 'root'"));
  EXPECT_EQ(users->FindUserByEmail("a@example.com").status().code(), Code::kCorruption);
}

TEST(SqliteUserStore, DeletingAUserDeletesItsSessionsAndTokens) {
  testing::TempDir dir;
  const Timestamp t0 = FromMicros(1'800'000'000'000'000);
  ASSERT_OK_AND_ASSIGN(auto users, SqliteUserStore::Open(dir.File("outflow.db"), t0));
  ASSERT_OK_AND_ASSIGN(User u, users->CreateUser("a@example.com", Role::kEditor, t0));
  ASSERT_OK(users->CreateSession(Session{"s", u.id, t0, t0, t0 + std::chrono::hours(1)}));
  ASSERT_OK(users->CreateSetupToken(SetupToken{"t", u.id, t0, t0 + std::chrono::hours(1), std::nullopt}));
  ASSERT_OK(users->DeleteUser(u.id));
  EXPECT_EQ(users->FindSession("s").status().code(), Code::kNotFound);
  EXPECT_EQ(users->FindSetupToken("t").status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace outflow
