#include "app/cli_secrets.h"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <cstdlib>
#include <iostream>

#include "app/cli.h"
#include "app/cli_common.h"
#include "app/daemon.h"
#include "audit/audit_log.h"
#include "base/clock.h"
#include "campaigns/campaign_service.h"
#include "crypto/secret_box.h"
#include "store/sqlite/sqlite_store.h"

namespace outflow::cli {

struct SecretsCommands::State {
  CLI::App* secrets = nullptr;
  CLI::App* rotate = nullptr;
  std::string data_dir = "./data";
  std::string key_file;
};

namespace {

// Every stored credential must open with the key file as it is, before anything
// changes: a key file that does not belong to this database is refused here.
Status CheckEveryCredentialOpens(SqliteStores& stores, const SecretBox& ring) {
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<SendingAccount> accounts, stores.campaigns().ListAccounts());
  for (const SendingAccount& a : accounts) {
    OUTFLOW_ASSIGN_OR_RETURN(std::optional<std::string> sealed, stores.campaigns().AccountCredentials(a.id));
    if (!sealed) continue;
    Status st = ring.Open(*sealed, CredentialsAd(a.id)).status();
    if (!st.ok()) {
      return Status::FailedPrecondition("the credentials of account " + std::to_string(a.id.value()) +
                                        " do not open with this key file (" + st.message() + "); nothing was changed");
    }
  }
  return Status::Ok();
}

void Audit(SqliteStores& stores, const SecretBox& ring, int64_t resealed, Timestamp now) {
  const AuditEntry e = CliAuditEntry("secret_key.rotate", "secret_key", ring.KeyId(),
                                     boost::json::serialize(boost::json::object{
                                         {"resealed", resealed}, {"keys", static_cast<int64_t>(ring.KeyIds().size())}}),
                                     now);
  if (Status st = stores.audit().Append(std::span(&e, 1)); !st.ok()) {
    std::cerr << "outflow: warning: the audit entry was not written: " << st.ToString() << "\n";
  }
}

int Rotate(const SecretsCommands::State& s) {
  if (const char* env = std::getenv("OUTFLOW_SECRET_KEY"); env != nullptr && *env != '\0') {
    return Fail(Status::FailedPrecondition(
        "the secret key comes from OUTFLOW_SECRET_KEY, which this command cannot change; rotation works on a key "
        "file: unset OUTFLOW_SECRET_KEY and give --secret-key-file (docs/secrets.md)"));
  }
  const std::string path = s.key_file.empty() ? DefaultSecretKeyPath(s.data_dir) : s.key_file;
  const Timestamp now = SystemClock::Instance().Now();
  Result<SecretBox> before = SecretBox::FromKeyFile(path);
  if (!before.ok()) return Fail(before.status());
  auto stores = SqliteStores::Open(DatabasePath(s.data_dir), SqliteOptions(), now);
  if (!stores.ok()) return Fail(stores.status());
  if (Status st = CheckEveryCredentialOpens(**stores, *before); !st.ok()) return Fail(st);
  // The new key file first, keeping the old keys: whatever happens next, every
  // stored value still opens. Then every credential moves to the new key at once.
  Result<SecretBox> ring = SecretBox::RotateKeyFile(path);
  if (!ring.ok()) return Fail(ring.status());
  Result<int64_t> resealed = (*stores)->campaigns().ResealCredentials(
      [&](AccountId id, const std::string& sealed) -> Result<std::string> {
        OUTFLOW_ASSIGN_OR_RETURN(std::string plain, ring->Open(sealed, CredentialsAd(id)));
        return ring->Seal(plain, CredentialsAd(id));
      },
      now);
  if (!resealed.ok()) {
    return Fail(
        resealed.status().WithContext("the key file has the new key, but the credentials were not resealed "
                                      "(they still open with the old key, kept in the file); run again"));
  }
  Audit(**stores, *ring, *resealed, now);
  const std::vector<std::string> ids = ring->KeyIds();
  std::cout << "rotated the secret key in " << path << ": new key " << ids.front() << "; resealed " << *resealed
            << " account credential(s) under it.\n"
            << "kept " << ids.size() - 1
            << " older key(s) to open values and verify links made before (unsubscribe and tracking links).\n";
  return kExitOk;
}

}  // namespace

SecretsCommands::SecretsCommands(CLI::App& app) : s_(std::make_unique<State>()) {
  State& s = *s_;
  s.secrets = app.add_subcommand("secrets", "the secret key that seals account credentials");
  s.secrets->require_subcommand(1);
  s.rotate = s.secrets->add_subcommand(
      "rotate", "make a new secret key and reseal every stored credential under it, at once; old keys are kept");
  s.rotate->add_option("--data-dir", s.data_dir, "data directory")->envname("OUTFLOW_DATA_DIR")->capture_default_str();
  s.rotate->add_option("--secret-key-file", s.key_file, "the key file (default <data-dir>/secret.key)")
      ->envname("OUTFLOW_SECRET_KEY_FILE");
}

SecretsCommands::~SecretsCommands() = default;

std::optional<int> SecretsCommands::Run() {
  if (!*s_->secrets) return std::nullopt;
  return Rotate(*s_);
}

}  // namespace outflow::cli
