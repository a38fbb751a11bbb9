// SqliteAuditStore: the AuditStore over the embedded SQLite database (table
// audit_log, migration 15, which also refuses any UPDATE of a row). Reads use
// reader connections; the CLI opens the same file beside a running daemon (WAL).
#pragma once

#include <memory>
#include <string>

#include "store/audit_store.h"

namespace outflow {

namespace sqlite {
class Database;
}  // namespace sqlite

class SqliteAuditStore final : public AuditStore {
 public:
  explicit SqliteAuditStore(std::shared_ptr<sqlite::Database> db);
  // Opens (creating and migrating if needed) the database at `path` for the audit
  // log only, as the CLI does on a data directory, also while a daemon runs on it.
  static Result<std::unique_ptr<SqliteAuditStore>> Open(const std::string& path, Timestamp now);
  ~SqliteAuditStore() override;

  Status Append(std::span<const AuditEntry> entries) override;
  Result<AuditPage> List(const AuditFilter& filter) override;
  Result<int64_t> Prune(Timestamp before, int limit) override;

 private:
  std::shared_ptr<sqlite::Database> db_;
};

}  // namespace outflow
