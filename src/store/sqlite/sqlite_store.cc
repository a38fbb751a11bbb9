#include "store/sqlite/sqlite_store.h"

#include "store/sqlite/database.h"

namespace outflow {

Result<std::unique_ptr<SqliteStores>> SqliteStores::Open(const std::string& path, const SqliteOptions& options,
                                                         Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(auto db, sqlite::Database::Open(path, options, now));
  std::unique_ptr<SqliteStores> s(new SqliteStores());
  s->jobs_ = std::make_unique<SqliteJobStore>(db);
  s->contacts_ = std::make_unique<SqliteContactStore>(db);
  s->imports_ = std::make_unique<SqliteImportStore>(db);
  return s;
}

SqliteStores::~SqliteStores() = default;

}  // namespace outflow
