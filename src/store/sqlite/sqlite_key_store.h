// SqliteKeyStore: the KeyStore over the embedded SQLite database (table api_keys,
// migration 13). Reads use reader connections, so a key check never waits for the
// writer; `outflow key create` opens the same file beside a running daemon (WAL).
#pragma once

#include <memory>
#include <string>

#include "store/key_store.h"

namespace outflow {

namespace sqlite {
class Database;
}  // namespace sqlite

class SqliteKeyStore final : public KeyStore {
 public:
  explicit SqliteKeyStore(std::shared_ptr<sqlite::Database> db);
  // Opens (creating and migrating if needed) the database at `path` for keys only,
  // as the CLI does on a data directory, also while a daemon runs on it.
  static Result<std::unique_ptr<SqliteKeyStore>> Open(const std::string& path, Timestamp now);
  ~SqliteKeyStore() override;

  Result<ApiKey> Create(const ApiKey& key, Timestamp now) override;
  Result<ApiKey> Get(ApiKeyId id) override;
  Result<ApiKey> FindByLookup(std::string_view lookup) override;
  Result<std::vector<ApiKey>> List() override;
  Result<ApiKey> Revoke(ApiKeyId id, Timestamp now) override;
  Status RecordUse(ApiKeyId id, Timestamp at) override;

 private:
  std::shared_ptr<sqlite::Database> db_;
};

}  // namespace outflow
