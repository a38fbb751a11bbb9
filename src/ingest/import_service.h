// ImportService: CSV imports of contacts. The API (and through it the CLI)
// creates an import from an uploaded file; the `import.process` job kind
// (ImportRunner) validates the whole file, then applies it in batches.
//
// Guarantees (docs/imports.md): a file-level error (unclosed quote, bad or
// duplicate header, mapping to an unknown field, no rows) fails the import
// before any row is applied; a bad row fails alone and is kept in the error
// report; a crash resumes after the last committed batch, with no row lost or
// applied twice; a cancel takes effect at the next batch. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "base/adaptive_batch.h"
#include "base/clock.h"
#include "contacts/contact_service.h"
#include "engine/handler.h"
#include "engine/job_service.h"
#include "store/import_store.h"

namespace outflow {

inline constexpr std::string_view kImportJobKind = "import.process";
// Rows per committed batch. Measured (bench/import_bench.py, 1M rows, every row
// joining a static segment): 5,000: 180k rows/s; 10,000: 191k; 20,000: 197k (215k
// with the contact text bound without copies); 40,000: 194k and 178 MB RSS. A batch
// holds the SQLite writer for its commit (~80 ms at 20,000, longer when rows join
// dynamic segments), which other writers (job claims, API writes) wait for: 5,000
// keeps it near the ~50 ms that every store call is held to (issue 10; engine_bench
// lateness-bulk, docs/benchmarks.md), for ~9% of the import's rate.
inline constexpr int kImportBatchRows = 5000;
inline constexpr int kMinImportBatchRows = 500;
inline constexpr std::chrono::milliseconds kImportBatchHold{40};

// Rows per import batch (base/adaptive_batch.h): the first is 1,000 rows (short
// whatever rows cost), then sized from each commit's time to keep its hold of the
// writer near the ~50 ms that every store call is held to.
inline AdaptiveBatch ImportBatchSizer() {
  return AdaptiveBatch(kMinImportBatchRows, 2 * kMinImportBatchRows, kImportBatchRows, kImportBatchHold);
}

class ImportService {
 public:
  // Uploaded files are kept under `imports_dir` (created if needed).
  ImportService(ImportStore& store, ContactService& contacts, JobService& jobs, Clock& clock, std::string imports_dir);

  // Takes the file at `upload_path` (moved into imports_dir), records the import
  // and its job in one transaction. An empty file is refused at once.
  Result<Import> Create(const std::string& upload_path, std::string file_name, ImportOptions options);
  Result<Import> Get(ImportId id) { return store_.Get(id); }
  Result<std::vector<Import>> List(int limit) { return store_.List(limit); }
  Result<Import> Cancel(ImportId id) { return store_.Cancel(id, clock_.Now()); }
  // The error report as CSV: row,column,value,reason.
  Result<std::string> ErrorReportCsv(ImportId id);

  const std::string& imports_dir() const { return imports_dir_; }

 private:
  ImportStore& store_;
  ContactService& contacts_;
  JobService& jobs_;
  Clock& clock_;
  std::string imports_dir_;
};

// The `import.process` job: runs one import to its end (or to a cancel), and
// resumes where the last committed batch left off when it runs again.
class ImportRunner final : public JobHandler {
 public:
  ImportRunner(ImportStore& store, ContactService& contacts, Clock& clock)
      : store_(store), contacts_(contacts), clock_(clock) {}
  RunResult Run(const Job& job) override;
  // Makes a running import stop after its current batch (it resumes at the next
  // start), so that the daemon's drain does not wait for a whole file.
  void RequestStop() { stop_requested_ = true; }
  Status ValidatePayload(std::string_view payload_json, std::string_view field) const override;
  std::string Description() const override;

 private:
  // Reads the whole file once: header, mapping, row count, file-level errors.
  Status Validate(Import& im);
  // Applies the rows from the resume point on, batch by batch.
  Status Apply(const Import& im);

  ImportStore& store_;
  ContactService& contacts_;
  Clock& clock_;
  std::atomic<bool> stop_requested_{false};
};

}  // namespace outflow
