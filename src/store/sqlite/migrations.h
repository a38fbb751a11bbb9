// Versioned, forward-only schema migrations for the SQLite store.
//
// Each migration runs in its own transaction and is recorded in
// schema_migrations(version, name, applied_at). A database whose recorded version
// is newer than this build knows is refused (FailedPrecondition): an older binary
// must not write to a schema it does not understand. The schema is described in
// docs/schema.md; a migration, once released, is never edited.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "store/migration_report.h"
#include "store/sqlite/db.h"

namespace outflow::sqlite {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// All migrations, in order; versions are 1, 2, 3, ...
const std::vector<Migration>& AllMigrations();
int LatestSchemaVersion();


// Reads the recorded version (0 for a new database).
Result<int> CurrentSchemaVersion(Connection& conn);
// Applies every missing migration. Refuses a database newer than this build.
Result<MigrationReport> Migrate(Connection& conn, Timestamp now);

}  // namespace outflow::sqlite
