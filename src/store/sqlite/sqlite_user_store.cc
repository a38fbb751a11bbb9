#include "store/sqlite/sqlite_user_store.h"

#include "store/sqlite/database.h"

namespace outflow {

using sqlite::Connection;
using sqlite::Stmt;
using sqlite::Transaction;

namespace {

constexpr const char* kSelectUser =
    "SELECT id, email, role, password_hash, created_at, updated_at, disabled_at, password_set_at, last_login_at "
    "FROM users ";

std::optional<Timestamp> OptTime(const Stmt& s, int col) {
  if (s.IsNull(col)) return std::nullopt;
  return FromMicros(s.Int(col));
}

void BindOptTime(Stmt& s, int i, const std::optional<Timestamp>& t) {
  if (t) {
    s.Bind(i, ToMicros(*t));
  } else {
    s.BindNull(i);
  }
}

Result<User> ReadUser(const Stmt& s) {
  User u;
  u.id = UserId(s.Int(0));
  u.email = std::string(s.Text(1));
  std::optional<Role> role = ParseRole(s.Text(2));
  if (!role) {
    return Status::Corruption("user " + std::to_string(u.id.value()) + " has an unknown role '" +
                              std::string(s.Text(2)) + "'");
  }
  u.role = *role;
  u.password_hash = std::string(s.Text(3));
  u.created_at = FromMicros(s.Int(4));
  u.updated_at = FromMicros(s.Int(5));
  u.disabled_at = OptTime(s, 6);
  u.password_set_at = OptTime(s, 7);
  u.last_login_at = OptTime(s, 8);
  return u;
}

Result<User> GetUserOn(Connection& c, UserId id) {
  static const std::string kSql = std::string(kSelectUser) + "WHERE id = ?1";
  return sqlite::ReadOneById<User>(c, kSql, id.value(), "user", ReadUser);
}

Result<SetupToken> ReadToken(const Stmt& s) {
  SetupToken t;
  t.hash = std::string(s.Text(0));
  if (!s.IsNull(1)) t.user_id = UserId(s.Int(1));
  t.created_at = FromMicros(s.Int(2));
  t.expires_at = FromMicros(s.Int(3));
  t.used_at = OptTime(s, 4);
  return t;
}

Result<std::optional<SetupToken>> FindTokenOn(Connection& c, std::string_view hash) {
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s,
      c.PrepareStatic("SELECT hash, user_id, created_at, expires_at, used_at FROM setup_tokens WHERE hash = ?1"));
  s->Bind(1, hash);
  OUTFLOW_ASSIGN_OR_RETURN(auto rows, sqlite::ReadRows<SetupToken>(c, *s, "find setup token", ReadToken));
  if (rows.empty()) return std::optional<SetupToken>();
  return std::optional<SetupToken>(std::move(rows.front()));
}

// Runs a statement with one integer parameter.
Status RunWithId(Connection& c, const char* sql, int64_t id, std::string_view what) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic(sql));
  s->Bind(1, id);
  return c.Run(*s, what);
}

// Enabled admins other than `id`.
Result<int64_t> OtherEnabledAdmins(Connection& c, UserId id) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("SELECT count(*) FROM users WHERE role = 'admin' AND "
                                                     "disabled_at IS NULL AND id <> ?1"));
  s->Bind(1, id.value());
  OUTFLOW_ASSIGN_OR_RETURN(
      auto rows,
      sqlite::ReadRows<int64_t>(c, *s, "count admins", [](const Stmt& r) -> Result<int64_t> { return r.Int(0); }));
  return rows.empty() ? 0 : rows.front();
}

bool EnabledAdmin(Role role, bool disabled) {
  return role == Role::kAdmin && !disabled;
}

// FailedPrecondition when `before` is the last enabled admin and `after_*` is not one.
Status KeepAnAdmin(Connection& c, const User& before, Role after_role, bool after_disabled) {
  if (!EnabledAdmin(before.role, before.disabled()) || EnabledAdmin(after_role, after_disabled)) return Status::Ok();
  OUTFLOW_ASSIGN_OR_RETURN(int64_t others, OtherEnabledAdmins(c, before.id));
  if (others > 0) return Status::Ok();
  return Status::FailedPrecondition("user " + std::to_string(before.id.value()) +
                                    " is the last enabled admin: make another admin first");
}

Status SetPasswordOn(Connection& c, UserId id, std::string_view hash, Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("UPDATE users SET password_hash = ?2, password_set_at = ?3, "
                                                     "updated_at = ?3 WHERE id = ?1"));
  s->Bind(1, id.value());
  s->Bind(2, hash);
  s->Bind(3, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "set password"));
  if (c.Changes() == 0) return Status::NotFound("user " + std::to_string(id.value()) + " does not exist");
  return Status::Ok();
}

Status ClearFailuresOn(Connection& c, std::string_view email) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("DELETE FROM login_failures WHERE email = ?1"));
  s->Bind(1, email);
  return c.Run(*s, "clear failed logins");
}

// Spends a token: unused and unexpired at `now`, by one conditional update.
Status SpendToken(Connection& c, std::string_view hash, Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("UPDATE setup_tokens SET used_at = ?2 WHERE hash = ?1 AND "
                                                     "used_at IS NULL AND expires_at > ?2"));
  s->Bind(1, hash);
  s->Bind(2, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "use setup token"));
  if (c.Changes() == 0) return Status::FailedPrecondition("token: the setup link was used already or has expired");
  return Status::Ok();
}

Result<User> InsertUser(Connection& c, std::string_view email, Role role, Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("INSERT INTO users(email, role, created_at, updated_at) "
                                                     "VALUES(?1, ?2, ?3, ?3)"));
  s->Bind(1, email);
  s->Bind(2, RoleName(role));
  s->Bind(3, ToMicros(now));
  Status st = c.Run(*s, "create user");
  if (st.code() == Code::kConflict) return Status::Conflict("email: a user with this email exists");
  OUTFLOW_RETURN_IF_ERROR(st);
  return GetUserOn(c, UserId(c.LastInsertRowId()));
}

// A first-run link makes the first user only: FailedPrecondition once one exists.
Status NoUserYet(Connection& c) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("SELECT EXISTS (SELECT 1 FROM users)"));
  OUTFLOW_ASSIGN_OR_RETURN(
      auto rows,
      sqlite::ReadRows<int64_t>(c, *s, "any user", [](const Stmt& r) -> Result<int64_t> { return r.Int(0); }));
  if (!rows.empty() && rows.front() != 0) {
    return Status::FailedPrecondition("token: the first admin exists already; ask an admin for a setup link");
  }
  return Status::Ok();
}

}  // namespace

SqliteUserStore::SqliteUserStore(std::shared_ptr<sqlite::Database> db) : db_(std::move(db)) {}
SqliteUserStore::~SqliteUserStore() = default;

Result<std::unique_ptr<SqliteUserStore>> SqliteUserStore::Open(const std::string& path, Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(auto db, sqlite::Database::Open(path, SqliteOptions(), now));
  return std::make_unique<SqliteUserStore>(std::move(db));
}

Result<User> SqliteUserStore::CreateUser(std::string_view email, Role role, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("create user"));
  OUTFLOW_ASSIGN_OR_RETURN(User made, InsertUser(c, email, role, now));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit());
  return made;
}

Result<User> SqliteUserStore::GetUser(UserId id) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  return GetUserOn(*reader, id);
}

Result<User> SqliteUserStore::FindUserByEmail(std::string_view email) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  Connection& c = *reader;
  static const std::string kSql = std::string(kSelectUser) + "WHERE email = ?1";
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare(kSql));
  s->Bind(1, email);
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<User> rows, sqlite::ReadRows<User>(c, *s, "find user", ReadUser));
  if (rows.empty()) return Status::NotFound("no user with this email");
  return std::move(rows.front());
}

Result<std::vector<User>> SqliteUserStore::ListUsers() {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  Connection& c = *reader;
  static const std::string kSql = std::string(kSelectUser) + "ORDER BY id";
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare(kSql));
  return sqlite::ReadRows<User>(c, *s, "list users", ReadUser);
}

Result<int64_t> SqliteUserStore::CountUsers() {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  Connection& c = *reader;
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("SELECT count(*) FROM users"));
  OUTFLOW_ASSIGN_OR_RETURN(
      auto rows,
      sqlite::ReadRows<int64_t>(c, *s, "count users", [](const Stmt& r) -> Result<int64_t> { return r.Int(0); }));
  return rows.empty() ? 0 : rows.front();
}

Result<User> SqliteUserStore::UpdateUser(UserId id, const UserChange& change, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("change user"));
  OUTFLOW_ASSIGN_OR_RETURN(User before, GetUserOn(c, id));
  const Role role = change.role.value_or(before.role);
  const bool disabled = change.disabled.value_or(before.disabled());
  OUTFLOW_RETURN_IF_ERROR(KeepAnAdmin(c, before, role, disabled));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("UPDATE users SET role = ?2, updated_at = ?3, disabled_at = "
                                                     "CASE WHEN ?4 THEN coalesce(disabled_at, ?3) END WHERE id = ?1"));
  s->Bind(1, id.value());
  s->Bind(2, RoleName(role));
  s->Bind(3, ToMicros(now));
  s->Bind(4, disabled ? 1 : 0);
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "change user"));
  if (disabled)
    OUTFLOW_RETURN_IF_ERROR(RunWithId(c, "DELETE FROM sessions WHERE user_id = ?1", id.value(), "end sessions"));
  OUTFLOW_ASSIGN_OR_RETURN(User after, GetUserOn(c, id));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit());
  return after;
}

Status SqliteUserStore::DeleteUser(UserId id) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("delete user"));
  OUTFLOW_ASSIGN_OR_RETURN(User before, GetUserOn(c, id));
  OUTFLOW_RETURN_IF_ERROR(KeepAnAdmin(c, before, Role::kViewer, true));
  OUTFLOW_RETURN_IF_ERROR(RunWithId(c, "DELETE FROM users WHERE id = ?1", id.value(), "delete user"));
  OUTFLOW_RETURN_IF_ERROR(ClearFailuresOn(c, before.email));
  return tx.Commit();
}

Status SqliteUserStore::SetPassword(UserId id, std::string_view password_hash, Timestamp now,
                                    std::optional<std::string_view> keep_session) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("set password"));
  OUTFLOW_RETURN_IF_ERROR(SetPasswordOn(c, id, password_hash, now));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("DELETE FROM sessions WHERE user_id = ?1 AND id_hash <> ?2"));
  s->Bind(1, id.value());
  s->Bind(2, keep_session.value_or(std::string_view()));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "end other sessions"));
  return tx.Commit();
}

Status SqliteUserStore::RecordLogin(UserId id, Timestamp at) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("UPDATE users SET last_login_at = ?2 WHERE id = ?1 AND "
                                                     "(last_login_at IS NULL OR last_login_at < ?2)"));
  s->Bind(1, id.value());
  s->Bind(2, ToMicros(at));
  return c.Run(*s, "record login");
}

Status SqliteUserStore::CreateSession(const Session& session) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("INSERT INTO sessions(id_hash, user_id, created_at, "
                                                     "last_seen_at, expires_at) VALUES(?1, ?2, ?3, ?4, ?5)"));
  s->Bind(1, std::string_view(session.id_hash));
  s->Bind(2, session.user_id.value());
  s->Bind(3, ToMicros(session.created_at));
  s->Bind(4, ToMicros(session.last_seen_at));
  s->Bind(5, ToMicros(session.expires_at));
  return c.Run(*s, "create session");
}

Result<Session> SqliteUserStore::FindSession(std::string_view id_hash) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  Connection& c = *reader;
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("SELECT id_hash, user_id, created_at, last_seen_at, expires_at "
                                                     "FROM sessions WHERE id_hash = ?1"));
  s->Bind(1, id_hash);
  OUTFLOW_ASSIGN_OR_RETURN(auto rows,
                           sqlite::ReadRows<Session>(c, *s, "find session", [](const Stmt& r) -> Result<Session> {
                             return Session{std::string(r.Text(0)), UserId(r.Int(1)), FromMicros(r.Int(2)),
                                            FromMicros(r.Int(3)), FromMicros(r.Int(4))};
                           }));
  if (rows.empty()) return Status::NotFound("no such session");
  return std::move(rows.front());
}

Status SqliteUserStore::TouchSession(std::string_view id_hash, Timestamp at) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("UPDATE sessions SET last_seen_at = ?2 WHERE id_hash = ?1 AND "
                                                     "last_seen_at < ?2"));
  s->Bind(1, id_hash);
  s->Bind(2, ToMicros(at));
  return c.Run(*s, "touch session");
}

Status SqliteUserStore::DeleteSession(std::string_view id_hash) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("DELETE FROM sessions WHERE id_hash = ?1"));
  s->Bind(1, id_hash);
  return c.Run(*s, "end session");
}

Result<int64_t> SqliteUserStore::PruneSessions(Timestamp now, Timestamp idle_before) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("DELETE FROM sessions WHERE expires_at <= ?1 OR "
                                                     "last_seen_at < ?2"));
  s->Bind(1, ToMicros(now));
  s->Bind(2, ToMicros(idle_before));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "prune sessions"));
  return int64_t{c.Changes()};
}

Status SqliteUserStore::CreateSetupToken(const SetupToken& token) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("create setup token"));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * v, c.PrepareStatic("UPDATE setup_tokens SET used_at = ?2 WHERE used_at IS NULL AND "
                                                     "user_id IS ?1"));
  if (token.user_id) {
    v->Bind(1, token.user_id->value());
  } else {
    v->BindNull(1);
  }
  v->Bind(2, ToMicros(token.created_at));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*v, "void earlier setup tokens"));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("INSERT INTO setup_tokens(hash, user_id, created_at, expires_at) "
                                                     "VALUES(?1, ?2, ?3, ?4)"));
  s->Bind(1, std::string_view(token.hash));
  if (token.user_id) {
    s->Bind(2, token.user_id->value());
  } else {
    s->BindNull(2);
  }
  s->Bind(3, ToMicros(token.created_at));
  s->Bind(4, ToMicros(token.expires_at));
  Status st = c.Run(*s, "create setup token");
  if (st.code() == Code::kConflict && token.user_id) {
    return Status::NotFound("user " + std::to_string(token.user_id->value()) + " does not exist");
  }
  OUTFLOW_RETURN_IF_ERROR(st);
  return tx.Commit();
}

Result<SetupToken> SqliteUserStore::FindSetupToken(std::string_view hash) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_ASSIGN_OR_RETURN(std::optional<SetupToken> t, FindTokenOn(*reader, hash));
  if (!t) return Status::NotFound("token: no such setup link");
  return std::move(*t);
}

Result<User> SqliteUserStore::CompleteSetup(std::string_view token_hash, std::string_view password_hash,
                                            std::string_view email, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("complete setup"));
  OUTFLOW_ASSIGN_OR_RETURN(std::optional<SetupToken> token, FindTokenOn(c, token_hash));
  if (!token) return Status::NotFound("token: no such setup link");
  OUTFLOW_RETURN_IF_ERROR(SpendToken(c, token_hash, now));
  UserId id;
  if (token->user_id) {
    id = *token->user_id;
  } else {
    OUTFLOW_RETURN_IF_ERROR(NoUserYet(c));
    OUTFLOW_ASSIGN_OR_RETURN(User made, InsertUser(c, email, Role::kAdmin, now));
    id = made.id;
  }
  OUTFLOW_RETURN_IF_ERROR(SetPasswordOn(c, id, password_hash, now));
  OUTFLOW_RETURN_IF_ERROR(RunWithId(c, "DELETE FROM sessions WHERE user_id = ?1", id.value(), "end sessions"));
  OUTFLOW_ASSIGN_OR_RETURN(User user, GetUserOn(c, id));
  OUTFLOW_RETURN_IF_ERROR(ClearFailuresOn(c, user.email));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit());
  return user;
}

Result<LoginFailures> SqliteUserStore::GetLoginFailures(std::string_view email) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  Connection& c = *reader;
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("SELECT failures, last_failed_at, locked_until FROM "
                                                     "login_failures WHERE email = ?1"));
  s->Bind(1, email);
  OUTFLOW_ASSIGN_OR_RETURN(
      auto rows,
      sqlite::ReadRows<LoginFailures>(c, *s, "read failed logins", [](const Stmt& r) -> Result<LoginFailures> {
        return LoginFailures{static_cast<int>(r.Int(0)), FromMicros(r.Int(1)), OptTime(r, 2)};
      }));
  return rows.empty() ? LoginFailures{} : rows.front();
}

Result<bool> SqliteUserStore::AdvanceLoginFailures(std::string_view email, int expected_count,
                                                   const LoginFailures& next) {
  if (next.count < 1 || !next.last_failed_at) {
    return Status::InvalidArgument("failed logins: next needs a count of at least 1 and a time");
  }
  auto writer = db_->Writer();
  Connection& c = *writer;
  const char* sql = expected_count == 0
                        ? "INSERT INTO login_failures(email, failures, last_failed_at, locked_until) "
                          "VALUES(?1, ?3, ?4, ?5) ON CONFLICT(email) DO NOTHING"
                        : "UPDATE login_failures SET failures = ?3, last_failed_at = ?4, locked_until = ?5 "
                          "WHERE email = ?1 AND failures = ?2";
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic(sql));
  s->Bind(1, email);
  if (expected_count != 0) s->Bind(2, expected_count);
  s->Bind(3, next.count);
  s->Bind(4, ToMicros(*next.last_failed_at));
  BindOptTime(*s, 5, next.locked_until);
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "count a failed login"));
  return c.Changes() == 1;
}

Status SqliteUserStore::ClearLoginFailures(std::string_view email) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  return ClearFailuresOn(c, email);
}

Result<int64_t> SqliteUserStore::PruneLoginFailures(Timestamp before) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("DELETE FROM login_failures WHERE last_failed_at < ?1 AND "
                                                     "(locked_until IS NULL OR locked_until < ?1)"));
  s->Bind(1, ToMicros(before));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "prune failed logins"));
  return int64_t{c.Changes()};
}

}  // namespace outflow
