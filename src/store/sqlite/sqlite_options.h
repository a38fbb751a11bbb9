// Options of the embedded SQLite database, shared by every store over one file.
#pragma once

#include <chrono>
#include <cstdint>

namespace outflow {

struct SqliteOptions {
  bool migrate = true;  // apply missing migrations on open (else refuse an old schema)
  int busy_timeout_ms = 5000;
  int writer_cache_kib = 32 * 1024;
  int reader_cache_kib = 8 * 1024;
  int readers = 4;  // reader connections at most; more concurrent reads wait
  // Rows per transaction of the work that is chunked so that no store call holds the
  // writer for long (docs/segments.md, docs/campaigns.md): contacts evaluated per
  // chunk of a dynamic segment's fill or refresh, recipients per chunk of a fan-out.
  // These are the largest chunks: each kind's size adapts to keep a chunk's hold of
  // the writer near `chunk_hold` (base/adaptive_batch.h: halved after a slower
  // chunk, down to a tenth; doubled back after quick ones).
  int segment_fill_chunk = 5'000;
  int fanout_chunk = 5'000;
  std::chrono::milliseconds chunk_hold{40};
};

// How long the one writer connection was held (sqlite::Database::WriterGuard).
struct WriterHoldStats {
  int64_t holds = 0;
  std::chrono::microseconds longest{0};
  std::chrono::microseconds total{0};
  std::chrono::microseconds longest_checkpoint{0};  // of which the checkpointer's pass under the writer
};

}  // namespace outflow
