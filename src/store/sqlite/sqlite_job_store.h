// SqliteJobStore: the JobStore over the embedded SQLite database (database.h
// holds the connections and the story of who writes). Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "store/job_store.h"
#include "store/migration_report.h"
#include "store/sqlite/sqlite_options.h"

namespace outflow {

namespace sqlite {
class Database;  // store/sqlite/database.h: only this adapter sees the sqlite3 API
class Connection;
}  // namespace sqlite

class SqliteJobStore final : public JobStore {
 public:
  using Options = SqliteOptions;
  // A job store over a database shared with other stores.
  explicit SqliteJobStore(std::shared_ptr<sqlite::Database> db);
  // Opens (creating and migrating) a database of its own at `path`.
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

  const MigrationReport& migration_report() const;
  // Runs a statement on the writer connection, for tests that make the database
  // full (PRAGMA max_page_count) or read-only (PRAGMA query_only).
  Status ExecOnWriterForTest(const std::string& sql);

  Result<std::vector<EnqueueResult>> Enqueue(std::span<const JobSpec> specs, Timestamp now) override;
  Result<Job> Get(JobId id) override;
  Result<JobPage> List(const JobFilter& filter) override;
  Result<Job> Cancel(JobId id, Timestamp now) override;
  Result<std::vector<Job>> Claim(std::string_view owner, Timestamp now, Duration lease, int limit) override;
  Result<std::vector<Job>> ClaimKinds(std::string_view owner, Timestamp now, Duration lease, int limit,
                                      std::span<const std::string> kinds) override;
  Result<CommitStats> Commit(std::string_view owner, std::span<const JobOutcome> outcomes, Timestamp now) override;
  Result<RecoverStats> RecoverLeases(Timestamp now, std::optional<std::string_view> owner) override;
  Result<WakeTimes> NextWakeTimes() override;
  Result<StateCounts> CountByState() override;
  Result<int64_t> Prune(Timestamp before, int limit) override;

 private:
  Result<Job> GetOn(sqlite::Connection& c, JobId id);
  Result<std::vector<Job>> ClaimWhere(std::string_view owner, Timestamp now, Duration lease, int limit,
                                      std::span<const std::string> kinds);

  std::shared_ptr<sqlite::Database> db_;
};

}  // namespace outflow
