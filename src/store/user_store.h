// UserStore: users of the web UI, their sessions, their one-time setup tokens and
// the failed logins counted per email (domain/user.h). Passwords, session ids and
// tokens are stored only as hashes; this store never sees a secret.
//
// Contract (every implementation; store/user_store_conformance.h tests it):
//  - Each method is one transaction (or one read): it applies whole or not at all.
//    No method relies on there being one writer: each race below is decided by one
//    conditional statement, so several processes (a daemon and `outflow user`) or
//    nodes may call it at once.
//  - Emails are given normalised (NormalizeEmail) and are unique: CreateUser with an
//    email in use is Conflict.
//  - Reads see what is committed, by any process: a session ended, a user disabled
//    or a role changed elsewhere is seen by the next read (nothing is cached here).
//  - UpdateUser and DeleteUser never leave no enabled admin: a change that would
//    (demoting, disabling or deleting the last one) is FailedPrecondition and
//    changes nothing; the check is made in the same transaction as the change
//    (a PostgreSQL store locks the enabled admins' rows, SELECT ... FOR UPDATE, so
//    that two racing demotions cannot both pass).
//    Disabling a user or deleting it ends its sessions.
//  - SetPassword ends every session of the user except `keep` (if given).
//  - TouchSession only moves last_seen_at forward (max(old, at)).
//  - CreateSetupToken voids the earlier unused tokens of the same user (of the
//    first-run kind, for a token without a user): one live link per user.
//  - CompleteSetup uses a token at most once: the token is spent by a conditional
//    update (unused and not expired at `now`), in one transaction with setting the
//    password (a user-less token creates the admin `email` instead), ending the
//    user's sessions and clearing the email's failed logins. NotFound for an
//    unknown token; FailedPrecondition for a used or expired one, and for a
//    first-run token once any user exists (it makes the first admin only).
//  - Failed logins per email: AdvanceLoginFailures writes `next` only if the stored
//    count is still `expected_count` (compare and set; 0 means no row), and says
//    whether it did; of racing callers one wins and the others read again.
// Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "domain/user.h"

namespace outflow {

struct UserChange {
  std::optional<Role> role;
  std::optional<bool> disabled;
};

class UserStore {
 public:
  virtual ~UserStore() = default;

  // ---- users ----
  // Stores a user with no password (id, created_at = updated_at = now assigned).
  virtual Result<User> CreateUser(std::string_view email, Role role, Timestamp now) = 0;
  virtual Result<User> GetUser(UserId id) = 0;
  // NotFound when no user has this (normalised) email.
  virtual Result<User> FindUserByEmail(std::string_view email) = 0;
  // Every user, oldest first.
  virtual Result<std::vector<User>> ListUsers() = 0;
  virtual Result<int64_t> CountUsers() = 0;
  virtual Result<User> UpdateUser(UserId id, const UserChange& change, Timestamp now) = 0;
  virtual Status DeleteUser(UserId id) = 0;
  virtual Status SetPassword(UserId id, std::string_view password_hash, Timestamp now,
                             std::optional<std::string_view> keep_session) = 0;
  // Moves last_login_at forward.
  virtual Status RecordLogin(UserId id, Timestamp at) = 0;

  // ---- sessions ----
  virtual Status CreateSession(const Session& session) = 0;
  // NotFound when there is none (never made, ended, or pruned).
  virtual Result<Session> FindSession(std::string_view id_hash) = 0;
  virtual Status TouchSession(std::string_view id_hash, Timestamp at) = 0;
  // Ends it; ending one that does not exist is Ok.
  virtual Status DeleteSession(std::string_view id_hash) = 0;
  // Deletes the sessions past `expires_at` or unseen since `idle_before`; how many.
  virtual Result<int64_t> PruneSessions(Timestamp now, Timestamp idle_before) = 0;

  // ---- setup tokens ----
  virtual Status CreateSetupToken(const SetupToken& token) = 0;
  // NotFound when there is none (whether it is used or expired is in the token).
  virtual Result<SetupToken> FindSetupToken(std::string_view hash) = 0;
  // `email` is used only for a token without a user (first run).
  virtual Result<User> CompleteSetup(std::string_view token_hash, std::string_view password_hash,
                                     std::string_view email, Timestamp now) = 0;

  // ---- failed logins, per normalised email ----
  virtual Result<LoginFailures> GetLoginFailures(std::string_view email) = 0;
  virtual Result<bool> AdvanceLoginFailures(std::string_view email, int expected_count, const LoginFailures& next) = 0;
  virtual Status ClearLoginFailures(std::string_view email) = 0;
  // Deletes the counts whose last attempt is before `before` and that are not
  // locked past it; how many. (Unknown emails leave rows; this bounds them.)
  virtual Result<int64_t> PruneLoginFailures(Timestamp before) = 0;
};

}  // namespace outflow
