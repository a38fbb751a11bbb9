// SqliteJobStore: the embedded JobStore, one SQLite file in WAL mode.
//
// Who writes: every write (enqueue, claim, commit, cancel, recover) runs on one
// writer connection under writer_mu_, each as one BEGIN IMMEDIATE transaction.
// Other processes (a second daemon, the sqlite3 shell) may hold the file's write
// lock; we wait busy_timeout and then return Unavailable. Reads (get, list,
// counts) use a small pool of reader connections and never block the writer.
// With synchronous=NORMAL a commit survives a process crash; a power loss may
// undo the last commits (WAL not yet checkpointed), never corrupt the file.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <condition_variable>

#include "store/job_store.h"
#include "store/migration_report.h"

namespace outflow {

namespace sqlite {
class Connection;  // store/sqlite/db.h: only this adapter sees the sqlite3 API
}

class SqliteJobStore final : public JobStore {
 public:
  struct Options {
    bool migrate = true;  // apply missing migrations on open (else refuse an old schema)
    int busy_timeout_ms = 5000;
    int writer_cache_kib = 32 * 1024;
    int reader_cache_kib = 8 * 1024;
    int readers = 4;  // reader connections at most; more concurrent reads wait
  };
  // Opens or creates the database at `path`. Fails with Corruption for a file that
  // is not a database, FailedPrecondition for a schema newer than this build.
  static Result<std::unique_ptr<SqliteJobStore>> Open(const std::string& path, const Options& options, Timestamp now);
  static Result<std::unique_ptr<SqliteJobStore>> Open(const std::string& path, Timestamp now) {
    return Open(path, Options(), now);
  }

  ~SqliteJobStore() override;

  // The schema version recorded in the database at `path`, read without creating or
  // changing anything (0 for a database with no schema yet). NotFound if no file.
  static Result<int> ReadSchemaVersion(const std::string& path);
  // The newest schema version this build knows.
  static int LatestSchemaVersion();

  const MigrationReport& migration_report() const { return migration_report_; }
  // Runs a statement on the writer connection, for tests that make the database
  // full (PRAGMA max_page_count) or read-only (PRAGMA query_only).
  Status ExecOnWriterForTest(const std::string& sql);

  Result<std::vector<EnqueueResult>> Enqueue(std::span<const JobSpec> specs, Timestamp now) override;
  Result<Job> Get(JobId id) override;
  Result<JobPage> List(const JobFilter& filter) override;
  Result<Job> Cancel(JobId id, Timestamp now) override;
  Result<std::vector<Job>> Claim(std::string_view owner, Timestamp now, Duration lease, int limit) override;
  Result<CommitStats> Commit(std::string_view owner, std::span<const JobOutcome> outcomes, Timestamp now) override;
  Result<RecoverStats> RecoverLeases(Timestamp now, std::optional<std::string_view> owner) override;
  Result<WakeTimes> NextWakeTimes() override;
  Result<StateCounts> CountByState() override;

 private:
  SqliteJobStore() = default;

  // A reader connection, returned to the pool on destruction.
  class ReaderLease;
  Result<ReaderLease> AcquireReader();
  Result<Job> GetOn(sqlite::Connection& c, JobId id);

  std::string path_;
  Options options_;
  MigrationReport migration_report_;

  std::mutex writer_mu_;
  std::unique_ptr<sqlite::Connection> writer_;  // GUARDED_BY(writer_mu_)

  std::mutex readers_mu_;
  std::condition_variable reader_returned_;
  std::vector<std::unique_ptr<sqlite::Connection>> idle_readers_;  // GUARDED_BY(readers_mu_)
  int open_readers_ = 0;                                           // GUARDED_BY(readers_mu_)
};

}  // namespace outflow
