// For API tests: an Authenticator over a key store in the test's directory, with
// an admin, an editor and a viewer key, and web UI users of the same roles, so
// tests call the API as a client or a browser does.
#pragma once

#include <memory>
#include <string>

#include "auth/api_keys.h"
#include "auth/authenticator.h"
#include "auth/user_auth.h"
#include "store/sqlite/sqlite_key_store.h"
#include "store/sqlite/sqlite_user_store.h"

namespace outflow::api {

struct TestAuth {
  std::unique_ptr<SqliteKeyStore> store;
  std::unique_ptr<SqliteUserStore> user_store;
  std::unique_ptr<crypto::PasswordHasher> hasher;
  std::unique_ptr<auth::UserAuth> users;
  std::unique_ptr<auth::Authenticator> auth;
  std::string admin, editor, viewer;  // "Bearer <key>" header values
  static constexpr std::string_view kPassword = "test password 123";

  // `key_rate` high by default: a FakeClock that stands still never refills a bucket.
  static TestAuth Open(const std::string& db_path, const Clock& clock, double key_rate = 1e9) {
    TestAuth t;
    t.store = std::move(SqliteKeyStore::Open(db_path, clock.Now())).value();
    t.user_store = std::move(SqliteUserStore::Open(db_path, clock.Now())).value();
    t.hasher = std::make_unique<crypto::PasswordHasher>(crypto::PasswordCost::Minimum());
    t.users = std::make_unique<auth::UserAuth>(*t.user_store, clock, *t.hasher);
    t.auth = std::make_unique<auth::Authenticator>(*t.store, clock, auth::AuthOptions{.key_rate = key_rate});
    t.auth->SetUsers(t.users.get());
    auto make = [&](Role role) {
      auto k = auth::CreateKey(*t.store, {.name = std::string(RoleName(role)), .role = role}, clock.Now());
      auto u = t.users->CreateUser(std::string(RoleName(role)) + "@example.com", role);
      (void)t.users->CompleteSetup(u.value().link.token, "", kPassword).value();
      return "Bearer " + k.value().secret;
    };
    t.admin = make(Role::kAdmin);
    t.editor = make(Role::kEditor);
    t.viewer = make(Role::kViewer);
    return t;
  }

  // A new session of the user with `role`: the Cookie header and its CSRF token.
  struct Session {
    std::string cookie, csrf;
  };
  Session LogIn(Role role) const {
    auto r = users->Login(std::string(RoleName(role)) + "@example.com", kPassword).value();
    return {std::string(auth::kSessionCookie) + "=" + r.session_id, r.session.csrf_token};
  }
};

}  // namespace outflow::api
