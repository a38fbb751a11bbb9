// engine_bench lateness-bulk: how late jobs start while a long store operation
// runs beside the engine on the same database, and the longest hold of the SQLite
// writer meanwhile (docs/benchmarks.md, issue 10 point 8).
//
// One database per process: N live contacts (every other one tier "pro", all in
// one static segment), an email account and a template. Each run, for each mode:
//   fill     a new dynamic segment "tier = pro" is created and filled to its end
//   fan-out  a new campaign to the static segment is started and fanned out to its end
//   import   --bulk-import-rows new contacts are committed as an import does, in
//            batches of --bulk-import-batch rows (default 0: sized from each
//            commit's time as ImportService does, ImportBatchSizer) vs 20,000,
//            joining the dynamic segments made so far
// while an Engine (workers 2, SystemClock, a no-op handler recording Now() - due_at)
// runs jobs falling due at --bulk-rate per second. The modes are the chunk sizes the
// stores are reopened with: the default (SqliteOptions) and "one transaction" (a
// chunk larger than the data: the code before chunking), alternating in each run.
// Reported per operation: its time, the longest writer hold while it ran (every
// holder: its own chunks, the engine's claims and commits, the checkpointer), and
// the lateness of the jobs due while it ran.
#pragma once

#include <cstdint>
#include <string>

namespace outflow::bench {

struct BulkLatenessConfig {
  int runs = 3;
  int64_t contacts = 1'000'000;
  int rate = 2000;            // jobs due per second
  int chunk = 0;              // 0: the SqliteOptions default
  int import_rows = 100'000;  // new contacts per import operation
  int import_batch = 0;       // rows per CommitBatch (0: as the import sizes them) against 20,000
  std::string tmp;
  bool keep = false;
};

void BenchBulkLateness(const BulkLatenessConfig& cfg);

}  // namespace outflow::bench
