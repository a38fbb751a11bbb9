// A CSV import: its options, its progress, and how its columns map to contact
// fields. Pure: the reading and writing live in ingest/ and store/.
//
// Lifecycle (docs/imports.md):
//   queued -> validating -> running -> completed
//                  |            |---> cancelled (between batches)
//                  '--> failed (a file-level error: nothing applied)
// A running import commits its rows in batches; each batch commits its contacts,
// its row errors and the byte offset it reached in one transaction, so a restart
// resumes after the last committed batch with no row lost or applied twice.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/strong_id.h"
#include "base/time.h"
#include "domain/contact.h"

namespace outflow {

struct ImportIdTag {};
using ImportId = StrongId<ImportIdTag>;

enum class ImportState { kQueued, kValidating, kRunning, kCompleted, kFailed, kCancelled };
std::string_view ImportStateName(ImportState s);
std::optional<ImportState> ParseImportState(std::string_view s);
inline bool IsFinished(ImportState s) {
  return s == ImportState::kCompleted || s == ImportState::kFailed || s == ImportState::kCancelled;
}

// What an existing contact (same external id or email) gets.
enum class OnExisting { kUpdate, kSkip, kFail };
std::string_view OnExistingName(OnExisting o);
std::optional<OnExisting> ParseOnExisting(std::string_view s);

struct ImportOptions {
  char delimiter = '\0';  // ',', ';', '\t', or '\0' to detect
  OnExisting on_existing = OnExisting::kUpdate;
  std::optional<std::string> owner;  // set on every row that does not give one
  bool staging = false;              // rows go to the staging area instead of live
  // Column header (as written in the file) -> field name, or "" to ignore the column.
  // Columns not named here are matched automatically by name.
  std::map<std::string, std::string> mapping;
  // An unmapped column becomes a new text custom field (else it is ignored).
  bool create_fields = false;
  // Every row goes into this static segment (created if needed); a segment_name
  // column overrides it per row.
  std::optional<std::string> segment;
};

struct ImportProgress {
  int64_t rows_read = 0;
  int64_t created = 0;
  int64_t updated = 0;
  int64_t skipped = 0;
  int64_t failed = 0;
  uint64_t bytes_done = 0;  // file offset after the last committed row
  int64_t next_line = 1;    // physical line there
  int64_t next_index = 1;   // record index there (0 is the header)
};

struct Import {
  ImportId id;
  std::string file_name;  // as uploaded, for people
  uint64_t bytes_total = 0;
  ImportOptions options;
  ImportState state = ImportState::kQueued;
  ImportProgress progress;
  int64_t rows_total = 0;            // known after validation
  std::vector<std::string> header;   // known after validation
  std::vector<std::string> columns;  // the field each column maps to ("" = ignored)
  char delimiter = '\0';             // known after validation
  std::optional<std::string> error;  // failed: why
  std::string file_path;             // where the uploaded file is kept (data directory)
  Timestamp created_at;
  Timestamp updated_at;
  std::optional<Timestamp> finished_at;
};

// One rejected row, for the error report.
struct ImportRowError {
  int64_t row = 0;     // physical line of the record in the file
  std::string column;  // header name, or "" for the whole row
  std::string value;
  std::string reason;
};

}  // namespace outflow
