// SqliteUserStore: the UserStore over the embedded SQLite database (tables users,
// sessions, setup_tokens and login_failures, migration 14). Reads use reader
// connections, so a session check never waits for the writer; `outflow user`
// opens the same file beside a running daemon (WAL).
#pragma once

#include <memory>
#include <string>

#include "store/user_store.h"

namespace outflow {

namespace sqlite {
class Database;
}  // namespace sqlite

class SqliteUserStore final : public UserStore {
 public:
  explicit SqliteUserStore(std::shared_ptr<sqlite::Database> db);
  // Opens (creating and migrating if needed) the database at `path`, as the CLI
  // does on a data directory, also while a daemon runs on it.
  static Result<std::unique_ptr<SqliteUserStore>> Open(const std::string& path, Timestamp now);
  ~SqliteUserStore() override;

  Result<User> CreateUser(std::string_view email, Role role, Timestamp now) override;
  Result<User> GetUser(UserId id) override;
  Result<User> FindUserByEmail(std::string_view email) override;
  Result<std::vector<User>> ListUsers() override;
  Result<int64_t> CountUsers() override;
  Result<User> UpdateUser(UserId id, const UserChange& change, Timestamp now) override;
  Status DeleteUser(UserId id) override;
  Status SetPassword(UserId id, std::string_view password_hash, Timestamp now,
                     std::optional<std::string_view> keep_session) override;
  Status RecordLogin(UserId id, Timestamp at) override;

  Status CreateSession(const Session& session) override;
  Result<Session> FindSession(std::string_view id_hash) override;
  Status TouchSession(std::string_view id_hash, Timestamp at) override;
  Status DeleteSession(std::string_view id_hash) override;
  Result<int64_t> PruneSessions(Timestamp now, Timestamp idle_before) override;

  Status CreateSetupToken(const SetupToken& token) override;
  Result<SetupToken> FindSetupToken(std::string_view hash) override;
  Result<User> CompleteSetup(std::string_view token_hash, std::string_view password_hash, std::string_view email,
                             Timestamp now) override;

  Result<LoginFailures> GetLoginFailures(std::string_view email) override;
  Result<bool> AdvanceLoginFailures(std::string_view email, int expected_count, const LoginFailures& next) override;
  Status ClearLoginFailures(std::string_view email) override;
  Result<int64_t> PruneLoginFailures(Timestamp before) override;

 private:
  std::shared_ptr<sqlite::Database> db_;
};

}  // namespace outflow
