// Users of the web UI and their sessions, as the rest of Outflow sees them: pure
// data, no I/O. How passwords are hashed, sessions made and logins throttled is in
// auth/ (docs/security.md "Users and sessions").
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/strong_id.h"
#include "base/time.h"
#include "domain/api_key.h"
#include "domain/contact.h"

namespace outflow {

struct UserTag;
using UserId = StrongId<UserTag>;

// One person who logs in to the web UI. `email` is kept normalised
// (NormalizeEmail, domain/contact.h: trimmed, lower case) and is unique. `password_hash` is an Argon2id string
// (crypto/password.h), empty until the user has set a password through a setup
// link. A disabled user cannot log in and its sessions are ended.
struct User {
  UserId id;
  std::string email;
  Role role = Role::kViewer;
  std::string password_hash;
  Timestamp created_at{};
  Timestamp updated_at{};
  std::optional<Timestamp> disabled_at;
  std::optional<Timestamp> password_set_at;
  std::optional<Timestamp> last_login_at;

  bool disabled() const { return disabled_at.has_value(); }
  bool has_password() const { return !password_hash.empty(); }
};

// A login. `id_hash` is the hex SHA-256 of the random session id that only the
// browser's cookie holds. Ends at `expires_at` (the absolute limit), or when it
// has not been seen for the idle timeout (a daemon setting, not stored).
struct Session {
  std::string id_hash;
  UserId user_id;
  Timestamp created_at{};
  Timestamp last_seen_at{};
  Timestamp expires_at{};
};

// A one-time link that lets a user set a password (first run, a new user, a
// reset). `hash` is the hex SHA-256 of the token in the link. A token without a
// user (first run) creates the first admin, with the email given when it is used.
struct SetupToken {
  std::string hash;
  std::optional<UserId> user_id;
  Timestamp created_at{};
  Timestamp expires_at{};
  std::optional<Timestamp> used_at;
};

// The failed logins counted against one normalised email (NormalizeEmail in
// domain/contact.h, whether or not a user has it). `count` is 0 when none are stored.
struct LoginFailures {
  int count = 0;
  std::optional<Timestamp> last_failed_at;
  std::optional<Timestamp> locked_until;
};

}  // namespace outflow
