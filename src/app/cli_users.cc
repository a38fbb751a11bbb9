#include "app/cli_users.h"

#include <boost/json.hpp>

#include <iomanip>
#include <iostream>

#include "api/users_api.h"
#include "app/cli.h"
#include "app/cli_common.h"
#include "app/daemon.h"
#include "audit/audit_log.h"
#include "auth/user_auth.h"
#include "base/clock.h"
#include "store/sqlite/sqlite_user_store.h"

namespace outflow::cli {

namespace json = boost::json;

struct UserCommands::State {
  CLI::App* user = nullptr;
  std::string data_dir = "./data";
  std::string db_path;
  std::string public_url = "http://127.0.0.1:8080";
  bool json_out = false;
  std::string email, role;
  int64_t id = 0;
};

namespace {

void PrintLink(const std::string& public_url, const auth::SetupLink& link) {
  std::cout << "send this one-time link to the user to set a password (valid until " << FormatRfc3339(link.expires_at)
            << "):\n"
            << auth::SetupUrl(public_url, link.token) << std::endl;
}

int Create(auth::UserAuth& users, const UserCommands::State& s) {
  std::optional<Role> role = ParseRole(s.role);
  if (!role) return Fail(Status::InvalidArgument("--role: must be viewer, editor or admin"));
  Result<auth::CreatedUser> made = users.CreateUser(s.email, *role);
  if (!made.ok()) return Fail(made.status());
  RecordCliChange(s.db_path, CliAuditEntry("user.create", "user", std::to_string(made->user.id.value()),
                                           R"({"fields":["email","role"]})", SystemClock::Instance().Now()));
  std::cout << "created user " << made->user.id.value() << " " << made->user.email << " (" << RoleName(*role) << ")\n";
  PrintLink(s.public_url, made->link);
  return kExitOk;
}

int List(UserStore& store, bool json_out) {
  Result<std::vector<User>> all = store.ListUsers();
  if (!all.ok()) return Fail(all.status());
  if (json_out) {
    json::array arr;
    for (const User& u : *all) arr.push_back(api::UserToJson(u));
    std::cout << json::serialize(json::object{{"users", std::move(arr)}}) << "\n";
    return kExitOk;
  }
  std::cout << std::left << std::setw(5) << "ID" << std::setw(32) << "EMAIL" << std::setw(8) << "ROLE" << std::setw(10)
            << "PASSWORD" << std::setw(10) << "DISABLED"
            << "LAST LOGIN\n";
  for (const User& u : *all) {
    std::cout << std::setw(5) << u.id.value() << std::setw(32) << u.email << std::setw(8) << RoleName(u.role)
              << std::setw(10) << (u.has_password() ? "set" : "not set") << std::setw(10)
              << (u.disabled() ? "yes" : "no") << TimeOrDash(u.last_login_at) << "\n";
  }
  return kExitOk;
}

int NewLink(auth::UserAuth& users, const UserCommands::State& s) {
  Result<auth::SetupLink> link = users.NewSetupLink(UserId(s.id));
  if (!link.ok()) return Fail(link.status());
  RecordCliChange(s.db_path,
                  CliAuditEntry("user.setup-link", "user", std::to_string(s.id), "{}", SystemClock::Instance().Now()));
  PrintLink(s.public_url, *link);
  return kExitOk;
}

int Unlock(auth::UserAuth& users, const UserCommands::State& s) {
  Status st = users.Unlock(UserId(s.id));
  if (!st.ok()) return Fail(st);
  const int64_t id = s.id;
  RecordCliChange(s.db_path,
                  CliAuditEntry("user.unlock", "user", std::to_string(id), "{}", SystemClock::Instance().Now()));
  std::cout << "cleared the failed logins of user " << id << "\n";
  return kExitOk;
}

}  // namespace

UserCommands::UserCommands(CLI::App& app) : s_(std::make_unique<State>()) {
  State& s = *s_;
  s.user = app.add_subcommand("user",
                              "web UI users: create (prints a one-time setup link), list, setup-link, "
                              "unlock; on --data-dir directly");
  s.user->require_subcommand(1);
  s.user->add_option("--data-dir", s.data_dir, "data directory")->envname("OUTFLOW_DATA_DIR")->capture_default_str();
  s.user->add_option("--public-url", s.public_url, "where the daemon is reached, for setup links")
      ->envname("OUTFLOW_PUBLIC_URL")
      ->capture_default_str();
  auto* create = s.user->add_subcommand("create", "create a user; its one-time setup link is the last line");
  create->add_option("--email", s.email, "the user's email (the login)")->required();
  create->add_option("--role", s.role, "viewer, editor or admin")->required();
  s.user->add_subcommand("list", "every user: email, role, password set, disabled, last login")
      ->add_flag("--json", s.json_out, "print JSON");
  s.user->add_subcommand("setup-link", "a new one-time setup link for a user (a password reset)")
      ->add_option("id", s.id, "user id")
      ->required();
  s.user->add_subcommand("unlock", "clear the failed logins of a user's email")
      ->add_option("id", s.id, "user id")
      ->required();
}

UserCommands::~UserCommands() = default;

std::optional<int> UserCommands::Run() {
  State& s = *s_;
  if (!*s.user) return std::nullopt;
  while (!s.public_url.empty() && s.public_url.back() == '/') s.public_url.pop_back();
  s.db_path = DatabasePath(s.data_dir);
  auto store = SqliteUserStore::Open(s.db_path, SystemClock::Instance().Now());
  if (!store.ok()) return Fail(store.status());
  const std::string verb = s.user->get_subcommands().front()->get_name();
  if (verb == "list") return List(**store, s.json_out);
  crypto::PasswordHasher hasher;
  auth::UserAuth users(**store, SystemClock::Instance(), hasher);
  if (verb == "create") return Create(users, s);
  if (verb == "setup-link") return NewLink(users, s);
  return Unlock(users, s);
}

}  // namespace outflow::cli
