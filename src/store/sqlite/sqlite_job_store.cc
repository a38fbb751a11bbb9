#include "store/sqlite/sqlite_job_store.h"

#include <algorithm>

#include "store/sqlite/database.h"
#include "store/sqlite/job_rows.h"

namespace outflow {

using sqlite::Connection;
using sqlite::Stmt;
using sqlite::Transaction;

namespace {

constexpr std::string_view kJobColumns =
    "id, kind, state, due_at, attempts, max_attempts, lease_owner, lease_expires_at, idempotency_key, "
    "payload, last_error, created_at, updated_at, started_at, finished_at";

std::optional<Timestamp> OptTime(const Stmt& s, int col) {
  if (s.IsNull(col)) return std::nullopt;
  return FromMicros(s.Int(col));
}

// Reads a row selected with kJobColumns.
Result<Job> ReadJob(const Stmt& s) {
  Job j;
  j.id = JobId(s.Int(0));
  j.kind = std::string(s.Text(1));
  auto state = ParseJobState(s.Text(2));
  if (!state)
    return Status::Corruption("job " + std::to_string(j.id.value()) + " has unknown state '" + std::string(s.Text(2)) +
                              "'");
  j.state = *state;
  j.due_at = FromMicros(s.Int(3));
  j.attempts = static_cast<int>(s.Int(4));
  j.max_attempts = static_cast<int>(s.Int(5));
  j.lease_owner = s.OptText(6);
  j.lease_expires_at = OptTime(s, 7);
  j.idempotency_key = s.OptText(8);
  j.payload = std::string(s.Text(9));
  j.last_error = s.OptText(10);
  j.created_at = FromMicros(s.Int(11));
  j.updated_at = FromMicros(s.Int(12));
  j.started_at = OptTime(s, 13);
  j.finished_at = OptTime(s, 14);
  return j;
}

std::string Sql(std::string_view head, std::string_view tail = {}) {
  std::string s(head);
  s += kJobColumns;
  s += tail;
  return s;
}

}  // namespace

SqliteJobStore::SqliteJobStore(std::shared_ptr<sqlite::Database> db) : db_(std::move(db)) {}

SqliteJobStore::~SqliteJobStore() = default;

Result<std::unique_ptr<SqliteJobStore>> SqliteJobStore::Open(const std::string& path, const Options& options,
                                                             Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(auto db, sqlite::Database::Open(path, options, now));
  return std::make_unique<SqliteJobStore>(std::move(db));
}

int SqliteJobStore::LatestSchemaVersion() {
  return sqlite::Database::LatestSchemaVersion();
}

Result<int> SqliteJobStore::ReadSchemaVersion(const std::string& path) {
  return sqlite::Database::ReadSchemaVersion(path);
}

const MigrationReport& SqliteJobStore::migration_report() const {
  return db_->migration_report();
}

Status SqliteJobStore::ExecOnWriterForTest(const std::string& sql) {
  return db_->Writer()->Exec(sql);
}

Result<std::vector<EnqueueResult>> SqliteJobStore::Enqueue(std::span<const JobSpec> specs, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("enqueue"));
  OUTFLOW_ASSIGN_OR_RETURN(auto out, sqlite::InsertJobs(c, specs, now));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("enqueue"));
  return out;
}

Result<Job> SqliteJobStore::GetOn(Connection& c, JobId id) {
  static const std::string kSql = Sql("SELECT ", " FROM jobs WHERE id = ?1");
  return sqlite::ReadOneById<Job>(c, kSql, id.value(), "job", ReadJob);
}

Result<Job> SqliteJobStore::Get(JobId id) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  return GetOn(*reader, id);
}

Result<JobPage> SqliteJobStore::List(const JobFilter& f) {
  std::string sql = Sql("SELECT ", " FROM jobs WHERE id > ?1");
  if (!f.states.empty()) {
    sql += " AND state IN (";
    for (size_t i = 0; i < f.states.size(); ++i) {
      if (i) sql += ',';
      sql += '\'';
      sql += JobStateName(f.states[i]);  // fixed names, no user text
      sql += '\'';
    }
    sql += ')';
  }
  if (f.kind) sql += " AND kind = ?2";
  if (f.due_from) sql += " AND due_at >= ?3";
  if (f.due_until) sql += " AND due_at < ?4";
  sql += " ORDER BY id LIMIT ?5";
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, reader->Prepare(sql));
  s->Bind(1, f.after.value());
  if (f.kind) s->Bind(2, std::string_view(*f.kind));
  if (f.due_from) s->Bind(3, ToMicros(*f.due_from));
  if (f.due_until) s->Bind(4, ToMicros(*f.due_until));
  s->Bind(5, f.limit + 1);
  JobPage page;
  OUTFLOW_ASSIGN_OR_RETURN(page.jobs, sqlite::ReadRows<Job>(*reader, *s, "list jobs", ReadJob));
  if (static_cast<int>(page.jobs.size()) > f.limit) {
    page.jobs.pop_back();
    page.next_after = page.jobs.back().id;
  }
  return page;
}

// One conditional statement: of two concurrent cancels (or a cancel and a claim),
// exactly one changes the row; the loser reads the state that beat it.
Result<Job> SqliteJobStore::Cancel(JobId id, Timestamp now) {
  static const std::string kSql =
      Sql("UPDATE jobs SET state = 'cancelled', finished_at = ?2, updated_at = ?2 "
          "WHERE id = ?1 AND state IN ('ready','retrying') RETURNING ");
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("cancel"));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare(kSql));
  s->Bind(1, id.value());
  s->Bind(2, ToMicros(now));
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<Job> changed, sqlite::ReadRows<Job>(c, *s, "cancel", ReadJob));
  if (changed.empty()) {
    OUTFLOW_ASSIGN_OR_RETURN(Job job, GetOn(c, id));
    return Status::Conflict("job " + std::to_string(id.value()) + " is " + std::string(JobStateName(job.state)) +
                            "; only ready or retrying jobs can be cancelled");
  }
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("cancel"));
  return changed.front();
}

Result<std::vector<Job>> SqliteJobStore::Claim(std::string_view owner, Timestamp now, Duration lease, int limit) {
  return ClaimWhere(owner, now, lease, limit, {});
}

Result<std::vector<Job>> SqliteJobStore::ClaimKinds(std::string_view owner, Timestamp now, Duration lease, int limit,
                                                    std::span<const std::string> kinds) {
  if (kinds.empty()) return std::vector<Job>();
  return ClaimWhere(owner, now, lease, limit, kinds);
}

Result<std::vector<Job>> SqliteJobStore::ClaimWhere(std::string_view owner, Timestamp now, Duration lease, int limit,
                                                    std::span<const std::string> kinds) {
  static const std::string kAll =
      Sql("UPDATE jobs SET state = 'leased', lease_owner = ?1, lease_expires_at = ?2, attempts = attempts + 1, "
          "started_at = ?3, updated_at = ?3 "
          "WHERE id IN (SELECT id FROM jobs WHERE state IN ('ready','retrying') AND due_at <= ?3 "
          "             ORDER BY due_at, id LIMIT ?4) "
          "RETURNING ");
  std::string sql = kAll;
  if (!kinds.empty()) {  // ?5, ?6, ...: only these kinds
    std::string in;
    for (size_t k = 0; k < kinds.size(); ++k) in += (k ? ", ?" : "?") + std::to_string(k + 5);
    sql =
        Sql("UPDATE jobs SET state = 'leased', lease_owner = ?1, lease_expires_at = ?2, attempts = attempts + 1, "
            "started_at = ?3, updated_at = ?3 "
            "WHERE id IN (SELECT id FROM jobs WHERE state IN ('ready','retrying') AND due_at <= ?3 AND kind IN (" +
            in + ") ORDER BY due_at, id LIMIT ?4) RETURNING ");
  }
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("claim"));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare(sql));
  s->BindStatic(1, owner);
  s->Bind(2, ToMicros(now + lease));
  s->Bind(3, ToMicros(now));
  s->Bind(4, limit);
  for (size_t k = 0; k < kinds.size(); ++k) s->Bind(static_cast<int>(k) + 5, std::string_view(kinds[k]));
  // ReadRows resets the statement on every path, a row it cannot read included.
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<Job> jobs, sqlite::ReadRows<Job>(c, *s, "claim", ReadJob));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("claim"));
  std::sort(jobs.begin(), jobs.end(),
            [](const Job& a, const Job& b) { return a.due_at != b.due_at ? a.due_at < b.due_at : a.id < b.id; });
  return jobs;
}

Result<CommitStats> SqliteJobStore::Commit(std::string_view owner, std::span<const JobOutcome> outcomes,
                                           Timestamp now) {
  CommitStats stats;
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("commit outcomes"));
  // ?1 id, ?2 owner, ?3 now, ?4 retry time, ?5 error. Each applies only while the lease is ours.
  constexpr std::string_view kGuard = " WHERE id = ?1 AND state = 'leased' AND lease_owner = ?2";
  static const std::string kDone =
      std::string(
          "UPDATE jobs SET state = 'done', lease_owner = NULL, lease_expires_at = NULL, last_error = NULL, "
          "finished_at = ?3, updated_at = ?3") +
      std::string(kGuard);
  static const std::string kRetry =
      std::string(
          "UPDATE jobs SET state = 'retrying', due_at = ?4, last_error = ?5, lease_owner = NULL, "
          "lease_expires_at = NULL, updated_at = ?3") +
      std::string(kGuard);
  static const std::string kDead =
      std::string(
          "UPDATE jobs SET state = 'dead', last_error = ?5, lease_owner = NULL, lease_expires_at = NULL, "
          "finished_at = ?3, updated_at = ?3") +
      std::string(kGuard);
  static const std::string kRelease =
      std::string(
          "UPDATE jobs SET state = CASE WHEN attempts > 1 THEN 'retrying' ELSE 'ready' END, "
          "attempts = attempts - 1, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?3") +
      std::string(kGuard);
  for (const JobOutcome& o : outcomes) {
    const std::string* sql = nullptr;
    switch (o.kind) {
      case JobOutcome::Kind::kDone: sql = &kDone; break;
      case JobOutcome::Kind::kRetry: sql = &kRetry; break;
      case JobOutcome::Kind::kDead: sql = &kDead; break;
      case JobOutcome::Kind::kRelease: sql = &kRelease; break;
    }
    OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare(*sql));
    s->Bind(1, o.id.value());
    s->BindStatic(2, owner);
    s->Bind(3, ToMicros(now));
    if (o.kind == JobOutcome::Kind::kRetry) s->Bind(4, ToMicros(o.retry_at));
    if (o.kind == JobOutcome::Kind::kRetry || o.kind == JobOutcome::Kind::kDead) s->BindStatic(5, o.error);
    OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "commit outcome"));
    const bool applied = c.Changes() == 1;
    stats.applied_mask.push_back(applied);
    ++(applied ? stats.applied : stats.stale);
    if (applied && !o.follow_ups.empty()) {
      OUTFLOW_ASSIGN_OR_RETURN(auto enqueued, sqlite::InsertJobs(c, o.follow_ups, now));
      for (const EnqueueResult& e : enqueued) stats.follow_ups_created += e.created ? 1 : 0;
    }
  }
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("commit outcomes"));
  return stats;
}

Result<RecoverStats> SqliteJobStore::RecoverLeases(Timestamp now, std::optional<std::string_view> owner) {
  RecoverStats stats;
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("recover leases"));
  // Two statements so that each can use its index: expired leases, then the owner's.
  constexpr const char* kExpired =
      "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'ready' END, "
      "finished_at = CASE WHEN attempts >= max_attempts THEN ?1 ELSE NULL END, "
      "last_error = 'lease lost: the worker running this attempt stopped or timed out', "
      "lease_owner = NULL, lease_expires_at = NULL, updated_at = ?1 "
      "WHERE state = 'leased' AND lease_expires_at <= ?1 RETURNING state";
  constexpr const char* kOwned =
      "UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'ready' END, "
      "finished_at = CASE WHEN attempts >= max_attempts THEN ?1 ELSE NULL END, "
      "last_error = 'lease lost: the worker running this attempt stopped or timed out', "
      "lease_owner = NULL, lease_expires_at = NULL, updated_at = ?1 "
      "WHERE state = 'leased' AND lease_owner = ?2 RETURNING state";
  for (const char* sql : {kExpired, kOwned}) {
    if (sql == kOwned && !owner) break;
    OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare(sql));
    s->Bind(1, ToMicros(now));
    if (sql == kOwned) s->BindStatic(2, *owner);
    int rc;
    while ((rc = s->Step()) == SQLITE_ROW) {
      if (s->Text(0) == "dead")
        ++stats.to_dead;
      else
        ++stats.to_ready;
    }
    s->Reset();
    if (rc != SQLITE_DONE) return c.Error(rc, "recover leases");
  }
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("recover leases"));
  return stats;
}

Result<WakeTimes> SqliteJobStore::NextWakeTimes() {
  // A reader: in WAL mode each statement reads the latest commit, and the engine's
  // wake-up need not wait for a long write (a fill's chunk, an import batch).
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  Connection& c = *reader;
  WakeTimes w;
  struct Query {
    const char* sql;
    std::optional<Timestamp>* out;
  };
  for (const Query& q :
       {Query{"SELECT due_at FROM jobs WHERE state IN ('ready','retrying') ORDER BY due_at LIMIT 1", &w.next_due},
        Query{"SELECT lease_expires_at FROM jobs WHERE state = 'leased' ORDER BY lease_expires_at LIMIT 1",
              &w.next_lease_expiry}}) {
    OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare(q.sql));
    int rc = s->Step();
    if (rc == SQLITE_ROW) *q.out = FromMicros(s->Int(0));
    s->Reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return c.Error(rc, "next wake time");
  }
  return w;
}

Result<StateCounts> SqliteJobStore::CountByState() {
  StateCounts counts{};
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  // Six rows kept by the triggers of migration 9, not a scan of jobs.
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, reader->Prepare("SELECT state, n FROM job_counts"));
  int rc;
  while ((rc = s->Step()) == SQLITE_ROW) {
    auto st = ParseJobState(s->Text(0));
    if (st) counts[static_cast<size_t>(*st)] = s->Int(1);
  }
  s->Reset();
  if (rc != SQLITE_DONE) return reader->Error(rc, "count jobs");
  return counts;
}

Result<int64_t> SqliteJobStore::Prune(Timestamp before, int limit) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("prune jobs"));
  // The subquery walks jobs_finished (finished_at IS NOT NULL exactly for done, dead
  // and cancelled jobs); the state test guards against a row that breaks that rule.
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s, c.Prepare("DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE finished_at IS NOT NULL AND "
                          "finished_at < ?1 AND (state = 'done' OR state = 'dead' OR state = 'cancelled') "
                          "ORDER BY finished_at LIMIT ?2)"));
  s->Bind(1, ToMicros(before));
  s->Bind(2, limit);
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "prune jobs"));
  const int64_t deleted = c.Changes();
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("prune jobs"));
  return deleted;
}

}  // namespace outflow
