// Options of the embedded SQLite database, shared by every store over one file.
#pragma once

namespace outflow {

struct SqliteOptions {
  bool migrate = true;  // apply missing migrations on open (else refuse an old schema)
  int busy_timeout_ms = 5000;
  int writer_cache_kib = 32 * 1024;
  int reader_cache_kib = 8 * 1024;
  int readers = 4;  // reader connections at most; more concurrent reads wait
};

}  // namespace outflow
