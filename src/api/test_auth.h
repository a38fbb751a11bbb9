// For API tests: an Authenticator over a key store in the test's directory, with
// an admin, an editor and a viewer key, so tests call the API as a client does.
#pragma once

#include <memory>
#include <string>

#include "auth/api_keys.h"
#include "auth/authenticator.h"
#include "store/sqlite/sqlite_key_store.h"

namespace outflow::api {

struct TestAuth {
  std::unique_ptr<SqliteKeyStore> store;
  std::unique_ptr<auth::Authenticator> auth;
  std::string admin, editor, viewer;  // "Bearer <key>" header values

  // `key_rate` high by default: a FakeClock that stands still never refills a bucket.
  static TestAuth Open(const std::string& db_path, const Clock& clock, double key_rate = 1e9) {
    TestAuth t;
    t.store = std::move(SqliteKeyStore::Open(db_path, clock.Now())).value();
    t.auth = std::make_unique<auth::Authenticator>(*t.store, clock, auth::AuthOptions{.key_rate = key_rate});
    auto make = [&](Role role) {
      auto k = auth::CreateKey(*t.store, {.name = std::string(RoleName(role)), .role = role}, clock.Now());
      return "Bearer " + k.value().secret;
    };
    t.admin = make(Role::kAdmin);
    t.editor = make(Role::kEditor);
    t.viewer = make(Role::kViewer);
    return t;
  }
};

}  // namespace outflow::api
