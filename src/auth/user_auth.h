// UserAuth: users of the web UI: passwords, logins, sessions, CSRF tokens and
// one-time setup links (docs/security.md "Users and sessions").
//
//  - Passwords: Argon2id (crypto/password.h), 10 to 1024 bytes. A login to an email
//    no user has (or a user without a password, or a disabled one) is checked
//    against a dummy hash: the same answer, in the same time.
//  - Failed logins: counted per normalised email in the store, slowed and then
//    locked (auth/login_throttle.h); a success clears them.
//  - Sessions: a random 32-byte id (64 hex characters) that only the cookie holds;
//    the store keeps its SHA-256. A session ends at logout, at its absolute limit
//    (`max`, from login), after `idle` without a request, or when its user is
//    disabled or deleted. Every request reads the session and its user from the
//    store (no cache), so an end in another process holds from the next request.
//    last_seen_at is written when it is older than min(touch_every, idle / 10):
//    one write a minute at most, and an idle end at most that much early.
//  - CSRF: a session's token is hex SHA-256("outflow-csrf:" + session id): only
//    who holds the cookie's value can know it, nothing more is stored, and it
//    differs from the stored hash. Cookie-authenticated changes must send it.
//  - Housekeeping: a login at most once an hour deletes ended sessions and the
//    failed-login counts older than a day that are not locked (UserStore::Prune*).
//  - Setup links: a random 32-byte token, stored hashed, valid `setup_valid`
//    (1 hour), used once. A token without a user (first run) creates the first
//    admin with the email given on the form, and only while no user exists.
//
// Thread-safe. The store, clock and hasher outlive this.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <string_view>

#include "auth/login_throttle.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/password.h"
#include "store/user_store.h"

namespace outflow::auth {

inline constexpr std::string_view kSessionCookie = "outflow_session";
inline constexpr std::string_view kCsrfHeader = "X-CSRF-Token";
inline constexpr size_t kMinPasswordBytes = 10;
inline constexpr size_t kMaxPasswordBytes = 1024;

struct SessionOptions {
  Duration idle = std::chrono::minutes(30);
  Duration max = std::chrono::hours(12);
  Duration touch_every = std::chrono::minutes(1);
  Duration setup_valid = std::chrono::hours(1);
  LockoutPolicy lockout;
};

// InvalidArgument naming `field` unless 10..1024 bytes.
Status ValidatePassword(std::string_view password, std::string_view field);
// The normalised email, or InvalidArgument naming "email".
Result<std::string> ValidateEmail(std::string_view email);
// "<public_url>/setup?token=<token>".
std::string SetupUrl(std::string_view public_url, std::string_view token);

// A session let in: its user as stored now, and the CSRF token for its changes.
struct SessionUser {
  User user;
  Session session;
  std::string csrf_token;
};

struct LoginResult {
  enum class Outcome { kOk, kWrong, kThrottled };
  Outcome outcome = Outcome::kWrong;
  Duration retry_after{};  // kThrottled
  // kOk:
  SessionUser session;
  std::string session_id;  // for the cookie; never stored
};

struct SetupLink {
  std::string token;  // for the link; never stored
  Timestamp expires_at{};
};

struct CreatedUser {
  User user;
  SetupLink link;
};

class UserAuth {
 public:
  UserAuth(UserStore& store, const Clock& clock, crypto::PasswordHasher& hasher, SessionOptions options = {});

  // kWrong for a wrong email or password (or a disabled user, or one without a
  // password); kThrottled while the email is slowed down or locked.
  Result<LoginResult> Login(std::string_view email, std::string_view password);
  // Unauthenticated for a malformed, unknown, ended, expired or idle session, or a
  // disabled or deleted user.
  Result<SessionUser> Authenticate(std::string_view session_id);
  Status Logout(const Session& session);
  // Checks `current` (counted as a login attempt of the user's email), sets `next`
  // and ends the user's other sessions. InvalidArgument naming the field.
  Status ChangePassword(const SessionUser& who, std::string_view current, std::string_view next);

  // A user with no password and a setup link for it. Conflict for an email in use.
  Result<CreatedUser> CreateUser(std::string_view email, Role role);
  // A new setup link for `user` (a reset: its earlier links are void), or for the
  // first admin when `user` is nullopt.
  Result<SetupLink> NewSetupLink(std::optional<UserId> user);
  // The token if it is usable now; InvalidArgument ("token: ...") otherwise.
  Result<SetupToken> CheckSetupToken(std::string_view token);
  // Uses a setup link: sets the password (and creates the first admin with
  // `email` for a first-run link). InvalidArgument naming the field.
  Result<User> CompleteSetup(std::string_view token, std::string_view email, std::string_view password);
  // Clears the failed logins of the user's email (an admin's unlock).
  Status Unlock(UserId user);

  static std::string CsrfToken(std::string_view session_id);
  UserStore& store() { return store_; }
  const Clock& clock() const { return clock_; }
  const SessionOptions& options() const { return options_; }

 private:
  // Lets one attempt for `email` in (counting it), or says how long to wait.
  Result<std::optional<Duration>> AdmitAttempt(const std::string& email, Timestamp now);
  Result<LoginResult> StartSession(const User& user, Timestamp now);
  // At most once per kSweepEvery, at a login: deletes ended sessions and failed
  // logins older than a day (not locked), so neither table grows without bound.
  void MaybeSweep(Timestamp now);
  Duration TouchEvery() const;

  UserStore& store_;
  const Clock& clock_;
  crypto::PasswordHasher& hasher_;
  const SessionOptions options_;
  std::atomic<int64_t> next_sweep_us_{0};
};

}  // namespace outflow::auth
