#include "store/sqlite/sqlite_store.h"

#include "store/sqlite/database.h"
#include "store/sqlite/segment_rows.h"

namespace outflow {

Result<std::unique_ptr<SqliteStores>> SqliteStores::Open(const std::string& path, const SqliteOptions& options,
                                                         Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(auto db, sqlite::Database::Open(path, options, now));
  std::unique_ptr<SqliteStores> s(new SqliteStores());
  s->db_ = db;
  s->jobs_ = std::make_unique<SqliteJobStore>(db);
  auto dynamic = std::make_shared<sqlite::DynamicSegments>();  // one cache for every store that writes contacts
  s->contacts_ = std::make_unique<SqliteContactStore>(db, dynamic);
  s->imports_ = std::make_unique<SqliteImportStore>(db, dynamic);
  s->segments_ = std::make_unique<SqliteSegmentStore>(db, dynamic);
  s->releases_ = std::make_unique<SqliteReleaseStore>(db, dynamic);
  s->campaigns_ = std::make_unique<SqliteCampaignStore>(db);
  s->outbox_ = std::make_unique<SqliteOutboxStore>(db);
  s->keys_ = std::make_unique<SqliteKeyStore>(db);
  s->audit_ = std::make_unique<SqliteAuditStore>(db);
  s->users_ = std::make_unique<SqliteUserStore>(db);
  return s;
}

SqliteStores::~SqliteStores() = default;

WriterHoldStats SqliteStores::writer_holds() const {
  return db_->writer_stats();
}

void SqliteStores::ResetWriterHolds() {
  db_->ResetWriterStats();
}

}  // namespace outflow
