// SqliteStores: the embedded database as the app sees it: one SQLite file and
// every store facet over it (jobs, contacts, imports, segments, releases, campaigns, outbox, keys, users), without the
// sqlite3 API.
#pragma once

#include <memory>
#include <string>

#include "store/migration_report.h"
#include "store/sqlite/sqlite_audit_store.h"
#include "store/sqlite/sqlite_campaign_store.h"
#include "store/sqlite/sqlite_contact_store.h"
#include "store/sqlite/sqlite_import_store.h"
#include "store/sqlite/sqlite_job_store.h"
#include "store/sqlite/sqlite_key_store.h"
#include "store/sqlite/sqlite_options.h"
#include "store/sqlite/sqlite_outbox_store.h"
#include "store/sqlite/sqlite_release_store.h"
#include "store/sqlite/sqlite_segment_store.h"
#include "store/sqlite/sqlite_user_store.h"

namespace outflow {

namespace sqlite {
class Database;
}  // namespace sqlite

class SqliteStores {
 public:
  // Opens or creates the database at `path` and migrates it.
  static Result<std::unique_ptr<SqliteStores>> Open(const std::string& path, const SqliteOptions& options,
                                                    Timestamp now);
  ~SqliteStores();
  const MigrationReport& migration_report() const { return jobs_->migration_report(); }
  SqliteJobStore& jobs() { return *jobs_; }
  SqliteContactStore& contacts() { return *contacts_; }
  SqliteImportStore& imports() { return *imports_; }
  SqliteSegmentStore& segments() { return *segments_; }
  SqliteReleaseStore& releases() { return *releases_; }
  SqliteCampaignStore& campaigns() { return *campaigns_; }
  SqliteOutboxStore& outbox() { return *outbox_; }
  SqliteKeyStore& keys() { return *keys_; }
  SqliteAuditStore& audit() { return *audit_; }
  SqliteUserStore& users() { return *users_; }
  // Writer holds since open or the last reset (benchmarks: the longest write).
  WriterHoldStats writer_holds() const;
  void ResetWriterHolds();

 private:
  SqliteStores() = default;
  std::shared_ptr<sqlite::Database> db_;
  std::unique_ptr<SqliteJobStore> jobs_;
  std::unique_ptr<SqliteContactStore> contacts_;
  std::unique_ptr<SqliteImportStore> imports_;
  std::unique_ptr<SqliteSegmentStore> segments_;
  std::unique_ptr<SqliteReleaseStore> releases_;
  std::unique_ptr<SqliteCampaignStore> campaigns_;
  std::unique_ptr<SqliteOutboxStore> outbox_;
  std::unique_ptr<SqliteKeyStore> keys_;
  std::unique_ptr<SqliteAuditStore> audit_;
  std::unique_ptr<SqliteUserStore> users_;
};

}  // namespace outflow
