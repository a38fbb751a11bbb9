// ImportStore: CSV imports, their progress and their row errors.
//
// Contract:
//  - CommitBatch is the unit of progress: in one transaction it upserts the
//    batch's contacts, records its row errors, and moves the import's resume
//    point (byte offset, line, record index) and counters forward. After a crash
//    the import resumes from the last committed resume point: no row is lost or
//    applied twice.
//  - A contact with a segment name joins that static segment (created if
//    needed) in the same transaction; a staged contact's membership is recorded
//    and applied when a release makes it live.
//  - CommitBatch applies nothing unless the import is running (Conflict otherwise,
//    e.g. cancelled), so a cancel takes effect at the next batch; nor unless the
//    batch starts at the import's current resume point (Conflict: another run of
//    the import, e.g. after a lost lease, has committed past it). So two runs of
//    one import can never both apply the same rows. The check is the batch's first
//    statement, one conditional update of the import's row (a row lock where
//    writers run concurrently), not a read followed by a write: it holds with
//    more than one writer.
//  - Create stores the import's job in the same transaction, so no crash can leave
//    an import without the job that runs it.
//  - Cancel is one conditional transition: of two racing cancels exactly one wins.
// Thread-safety: all methods may be called concurrently from any thread.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "domain/import.h"
#include "domain/job.h"
#include "store/contact_store.h"

namespace outflow {

// One batch: the contacts to upsert (with the file line of each), the rows that
// failed before reaching the store, and where the file stands after the batch.
struct ImportBatch {
  uint64_t start_offset = 0;  // the resume point this batch continues from
  std::vector<Contact> contacts;
  std::vector<int64_t> contact_rows;          // file line of each contact, for its errors
  std::vector<std::string> contact_segments;  // static segment each contact joins ("" = none)
  std::vector<ImportRowError> errors;
  uint64_t bytes_done = 0;
  int64_t next_line = 1;
  int64_t next_index = 1;
  int64_t rows_read = 0;  // rows in this batch, good and bad
  bool last = false;      // the file is done: the import completes
};

class ImportStore {
 public:
  virtual ~ImportStore() = default;

  // The job to enqueue with a new import, given the import as written (its id set).
  // An error aborts the create.
  using JobFn = std::function<Result<JobSpec>(const Import&)>;

  // Records a new import in state queued, and the job `job` returns for it (none
  // when empty) in the same transaction.
  virtual Result<Import> Create(const Import& import, const JobFn& job, Timestamp now) = 0;
  Result<Import> Create(const Import& import, Timestamp now) { return Create(import, {}, now); }
  virtual Result<Import> Get(ImportId id) = 0;
  // Newest first.
  virtual Result<std::vector<Import>> List(int limit) = 0;
  // validating -> running, with what the validation pass learned (header, column
  // mapping, delimiter, rows_total); from queued -> validating with `state`.
  virtual Status SetState(ImportId id, ImportState from, ImportState to, Timestamp now) = 0;
  virtual Status SetValidated(const Import& validated, Timestamp now) = 0;
  // -> failed with the reason, from any unfinished state. Nothing is undone: a
  // file-level error is found by validation, before any row is applied.
  virtual Status Fail(ImportId id, const std::string& error, Timestamp now) = 0;
  // -> cancelled, from any unfinished state. Conflict once finished.
  virtual Result<Import> Cancel(ImportId id, Timestamp now) = 0;
  // See the contract above. Returns the import as committed.
  virtual Result<Import> CommitBatch(ImportId id, const ImportBatch& batch, ExistingPolicy policy, Timestamp now) = 0;
  // Row errors in file order, after `after_row`, at most `limit`.
  virtual Result<std::vector<ImportRowError>> Errors(ImportId id, int64_t after_row, int limit) = 0;
};

}  // namespace outflow
