// sqlite::Database: one SQLite file in WAL mode, shared by every store facet
// (jobs, contacts, ...) so that one transaction can span them.
//
// Who writes: all writes go through the one writer connection, held exclusively
// while a WriterGuard lives; each store method takes it for one BEGIN IMMEDIATE
// transaction. A long job done as a sequence of short transactions takes it with
// PoliteWriter, which first lets in any writer already waiting, so that the
// sequence does not keep the writer from the others. Another process holding the file's write lock makes a write wait
// busy_timeout and then fail with Unavailable. Reads use a pool of at most
// `readers` connections and never block the writer (WAL).
// With synchronous=NORMAL a commit survives a process crash; a power loss may
// undo the last commits (WAL not yet checkpointed), never corrupt the file.
// Checkpoints run on a background thread of their own (PASSIVE: they never block
// the writer), woken by the writer's WAL hook once the log passes
// kCheckpointPages, at most once per kCheckpointInterval. A pass that cannot reach
// the end of the log (the writer kept committing) is repeated; the log is
// restarted under the writer lock once a pass has left nothing to copy (cheap: no
// copy, no fsync), or after kCheckpointTries passes by copying the tail there, so
// the WAL stays bounded (journal_size_limit trims the file). Measured with bench/segment_bench (update p99),
// engine_bench (lateness) and the WAL size / fsync counts in docs/benchmarks.md. Thread-safety: all methods may be
// called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "store/migration_report.h"
#include "store/sqlite/db.h"
#include "store/sqlite/sqlite_options.h"

namespace outflow::sqlite {

class Database : public std::enable_shared_from_this<Database> {
 public:
  // Opens or creates the database at `path` and migrates it. Corruption for a file
  // that is not a database, FailedPrecondition for a schema newer than this build.
  static Result<std::shared_ptr<Database>> Open(const std::string& path, const SqliteOptions& options, Timestamp now);
  // The schema version recorded at `path`, read without creating or changing anything.
  static Result<int> ReadSchemaVersion(const std::string& path);
  static int LatestSchemaVersion();
  ~Database();
  static constexpr int kCheckpointPages = 1000;
  static constexpr std::chrono::milliseconds kCheckpointInterval{100};
  // PASSIVE passes per cycle before the tail is copied under the writer.
  static constexpr int kCheckpointTries = 4;

  const MigrationReport& migration_report() const { return migration_report_; }
  const SqliteOptions& options() const { return options_; }

  // Exclusive use of the writer connection for as long as the guard lives. Each
  // hold is timed into writer_stats() (two clock reads a hold).
  class WriterGuard {
   public:
    explicit WriterGuard(Database& db)
        : db_(db), lock_(db.AcquireWriter()), conn_(*db.writer_), since_(std::chrono::steady_clock::now()) {}
    ~WriterGuard() { db_.RecordHold(std::chrono::steady_clock::now() - since_); }
    WriterGuard(const WriterGuard&) = delete;
    WriterGuard& operator=(const WriterGuard&) = delete;
    Connection& operator*() { return conn_; }
    Connection* operator->() { return &conn_; }

   private:
    Database& db_;
    std::unique_lock<std::mutex> lock_;
    Connection& conn_;
    std::chrono::steady_clock::time_point since_;
  };
  WriterGuard Writer() { return WriterGuard(*this); }
  // The writer for one step of a long job run as a sequence of short transactions
  // (a segment's fill, a fan-out): when other threads wait for the writer, one of
  // them gets it first. std::mutex lets the thread that just unlocked take it again
  // at once, so without this a loop of short transactions kept the engine's claims
  // out nearly as well as one long one (measured: jobs 200 ms late beside 48 ms holds).
  WriterGuard PoliteWriter();

  // How long the writer was held, over every WriterGuard since the last reset: the
  // bound on how long any write (a job claim, an API call) can wait for another.
  WriterHoldStats writer_stats() const;
  void ResetWriterStats();

  // A reader connection, returned to the pool when the lease is destroyed.
  class ReaderLease {
   public:
    ReaderLease(Database* db, std::unique_ptr<Connection> c) : db_(db), c_(std::move(c)) {}
    ReaderLease(ReaderLease&&) = default;
    ~ReaderLease();
    Connection& operator*() { return *c_; }
    Connection* operator->() { return c_.get(); }

   private:
    Database* db_;
    std::unique_ptr<Connection> c_;
  };
  // Waits while `readers` connections are all in use.
  Result<ReaderLease> Reader();

 private:
  Database() = default;

  std::string path_;
  SqliteOptions options_;
  MigrationReport migration_report_;

  std::mutex writer_mu_;
  std::unique_ptr<Connection> writer_;  // GUARDED_BY(writer_mu_)
  std::unique_lock<std::mutex> AcquireWriter();
  std::atomic<int> writer_waiters_{0};      // threads in AcquireWriter, not yet holding it
  std::atomic<uint64_t> writer_grants_{0};  // acquisitions so far
  void RecordHold(std::chrono::steady_clock::duration held);
  std::atomic<int64_t> holds_{0};
  std::atomic<int64_t> longest_hold_us_{0};
  std::atomic<int64_t> total_hold_us_{0};
  std::atomic<int64_t> longest_checkpoint_us_{0};  // the checkpointer's RESTART pass, under the writer
  std::atomic<int> wal_frames_{0};                 // the log's size in frames after our last commit

  // The background checkpointer (see the file comment).
  static int OnWalCommit(void* self, sqlite3* db, const char* name, int pages);
  void CheckpointLoop();
  void CheckpointCycle();  // one checkpoint: PASSIVE passes, then RESTART under the writer
  static int OnCheckpointBusy(void* unused, int count);
  std::unique_ptr<Connection> checkpointer_conn_;
  std::thread checkpointer_;
  std::mutex ckpt_mu_;
  std::condition_variable ckpt_cv_;
  bool ckpt_wanted_ = false;  // GUARDED_BY(ckpt_mu_)
  bool ckpt_stop_ = false;    // GUARDED_BY(ckpt_mu_)

  std::mutex readers_mu_;
  std::condition_variable reader_returned_;
  std::vector<std::unique_ptr<Connection>> idle_readers_;  // GUARDED_BY(readers_mu_)
  int open_readers_ = 0;                                   // GUARDED_BY(readers_mu_)
};

}  // namespace outflow::sqlite
