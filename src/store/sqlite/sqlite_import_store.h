// SqliteImportStore: the ImportStore over the embedded SQLite database. Its
// CommitBatch upserts contacts on the shared writer, in the same transaction as
// the import's progress. Thread-safe.
#pragma once

#include <memory>

#include "store/import_store.h"

namespace outflow {

namespace sqlite {
class Database;
class DynamicSegments;
}  // namespace sqlite

class SqliteImportStore final : public ImportStore {
 public:
  explicit SqliteImportStore(std::shared_ptr<sqlite::Database> db,
                             std::shared_ptr<sqlite::DynamicSegments> segments = nullptr);
  ~SqliteImportStore() override;

  using ImportStore::Create;
  Result<Import> Create(const Import& import, const JobFn& job, Timestamp now) override;
  Result<Import> Get(ImportId id) override;
  Result<std::vector<Import>> List(int limit) override;
  Status SetState(ImportId id, ImportState from, ImportState to, Timestamp now) override;
  Status SetValidated(const Import& validated, Timestamp now) override;
  Status Fail(ImportId id, const std::string& error, Timestamp now) override;
  Result<Import> Cancel(ImportId id, Timestamp now) override;
  Result<Import> CommitBatch(ImportId id, const ImportBatch& batch, ExistingPolicy policy, Timestamp now) override;
  Result<std::vector<ImportRowError>> Errors(ImportId id, int64_t after_row, int limit) override;

 private:
  std::shared_ptr<sqlite::Database> db_;
  std::shared_ptr<sqlite::DynamicSegments> segments_;
};

}  // namespace outflow
