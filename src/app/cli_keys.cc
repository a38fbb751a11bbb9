#include "app/cli_keys.h"

#include <boost/json.hpp>

#include <iomanip>
#include <iostream>

#include "api/keys_api.h"
#include "app/cli.h"
#include "app/cli_common.h"
#include "app/daemon.h"
#include "audit/audit_log.h"
#include "auth/api_keys.h"
#include "base/clock.h"
#include "store/sqlite/sqlite_key_store.h"

namespace outflow::cli {

namespace json = boost::json;

struct KeyCommands::State {
  CLI::App* key = nullptr;
  std::string data_dir = "./data";
  std::string db_path;
  bool json_out = false;
  std::string name, role;
  std::optional<int> expires_in_days;
  int64_t id = 0;
};

namespace {

void Audit(const std::string& db_path, const std::string& verb, const ApiKey& k, const std::string& summary,
           Timestamp now) {
  RecordCliChange(db_path, CliAuditEntry("key." + verb, "key", std::to_string(k.id.value()), summary, now));
}

int Create(KeyStore& keys, const KeyCommands::State& s, Timestamp now) {
  std::optional<Role> role = ParseRole(s.role);
  if (!role) return Fail(Status::InvalidArgument("--role: must be viewer, editor or admin"));
  auth::NewKeySpec spec{.name = s.name, .role = *role, .expires_in_days = s.expires_in_days};
  Result<auth::CreatedKey> made = auth::CreateKey(keys, spec, now);
  if (!made.ok()) return Fail(made.status());
  const ApiKey& k = made->key;
  Audit(s.db_path, "create", k,
        s.expires_in_days ? R"({"fields":["expires_in_days","name","role"]})" : R"({"fields":["name","role"]})", now);
  std::cout << "created API key " << k.id.value() << " '" << k.name << "' (" << RoleName(k.role) << ", expires "
            << (k.expires_at ? FormatRfc3339(*k.expires_at) : "never") << ")\n"
            << "it is shown only now; send it as: Authorization: Bearer <key>\n"
            << made->secret << std::endl;
  return kExitOk;
}

int List(KeyStore& keys, bool json_out, Timestamp now) {
  Result<std::vector<ApiKey>> all = keys.List();
  if (!all.ok()) return Fail(all.status());
  if (json_out) {
    json::array arr;
    for (const ApiKey& k : *all) arr.push_back(api::KeyToJson(k, now));
    std::cout << json::serialize(json::object{{"keys", std::move(arr)}}) << "\n";
    return kExitOk;
  }
  std::cout << std::left << std::setw(5) << "ID" << std::setw(22) << "PREFIX" << std::setw(16) << "NAME" << std::setw(8)
            << "ROLE" << std::setw(22) << "CREATED" << std::setw(22) << "EXPIRES" << std::setw(22) << "REVOKED"
            << "LAST USED\n";
  for (const ApiKey& k : *all) {
    std::cout << std::setw(5) << k.id.value() << std::setw(22) << auth::DisplayPrefix(k) << std::setw(16) << k.name
              << std::setw(8) << RoleName(k.role) << std::setw(22) << FormatRfc3339(k.created_at) << std::setw(22)
              << TimeOrDash(k.expires_at) << std::setw(22) << TimeOrDash(k.revoked_at) << TimeOrDash(k.last_used_at)
              << "\n";
  }
  return kExitOk;
}

int Revoke(KeyStore& keys, const std::string& db_path, int64_t id, Timestamp now) {
  Result<ApiKey> k = keys.Revoke(ApiKeyId(id), now);
  if (!k.ok()) return Fail(k.status());
  Audit(db_path, "delete", *k, "{}", now);
  std::cout << "revoked API key " << id << " '" << k->name << "' (at " << FormatRfc3339(*k->revoked_at) << ")\n";
  return kExitOk;
}

}  // namespace

KeyCommands::KeyCommands(CLI::App& app) : s_(std::make_unique<State>()) {
  State& s = *s_;
  s.key = app.add_subcommand("key", "API keys: create (printed once), list, revoke; on --data-dir directly");
  s.key->require_subcommand(1);
  s.key->add_option("--data-dir", s.data_dir, "data directory")->envname("OUTFLOW_DATA_DIR")->capture_default_str();
  auto* create = s.key->add_subcommand("create", "create a key; the key is the last line of output");
  create->add_option("--name", s.name, "what the key is for")->required();
  create->add_option("--role", s.role, "viewer, editor or admin")->required();
  create->add_option("--expires-in-days", s.expires_in_days, "expire after this many days (default never)")
      ->check(CLI::Range(1, 3650));
  s.key->add_subcommand("list", "every key: prefix, name, role, created, expires, revoked, last used")
      ->add_flag("--json", s.json_out, "print JSON");
  s.key->add_subcommand("revoke", "revoke a key, at once")->add_option("id", s.id, "key id")->required();
}

KeyCommands::~KeyCommands() = default;

std::optional<int> KeyCommands::Run() {
  State& s = *s_;
  if (!*s.key) return std::nullopt;
  const Timestamp now = SystemClock::Instance().Now();
  s.db_path = DatabasePath(s.data_dir);
  auto keys = SqliteKeyStore::Open(s.db_path, now);
  if (!keys.ok()) return Fail(keys.status());
  const std::string verb = s.key->get_subcommands().front()->get_name();
  if (verb == "create") return Create(**keys, s, now);
  if (verb == "list") return List(**keys, s.json_out, now);
  return Revoke(**keys, s.db_path, s.id, now);
}

}  // namespace outflow::cli
