#include "store/sqlite/db.h"

namespace outflow::sqlite {

Status ToStatus(int rc, sqlite3* db, std::string_view what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return Status::Ok();
  std::string msg(what);
  msg += ": ";
  msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return Status::Unavailable(msg + " (the database is locked by another writer)");
    case SQLITE_FULL: return Status::Unavailable(msg + " (the database or disk is full)");
    case SQLITE_READONLY: return Status::Unavailable(msg + " (the database is read-only)");
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL: return Status::Unavailable(msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return Status::Corruption(msg);
    case SQLITE_CONSTRAINT: return Status::Conflict(msg);
    default: return Status::Internal(msg);
  }
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path, const Options& options) {
  // SQLite's memory statistics cost about 12% of every statement (engine_bench); we do
  // not read them. Must precede SQLite's initialisation; later calls are no-ops.
  static const bool kNoMemStatus = [] { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK; }();
  (void)kNoMemStatus;
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  flags |= options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (options.create && !options.read_only) flags |= SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status st = ToStatus(rc, db, "open " + path);
    sqlite3_close_v2(db);
    return st;
  }
  std::unique_ptr<Connection> conn(new Connection(db));
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  sqlite3_extended_result_codes(db, 1);
  std::string pragmas =
      "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; "
      "PRAGMA cache_size=-" +
      std::to_string(options.cache_kib) + ";";
  // journal_size_limit: a WAL that grew during a burst is cut back when the log restarts.
  if (!options.read_only) pragmas = "PRAGMA journal_mode=WAL; PRAGMA journal_size_limit=67108864; " + pragmas;
  // The first statement reads the header: a file that is not a database fails here.
  OUTFLOW_RETURN_IF_ERROR(conn->Exec(pragmas).WithContext("open " + path));
  return conn;
}

Connection::~Connection() {
  static_cache_.clear();
  cache_.clear();
  sqlite3_close_v2(db_);
}

Status Connection::Exec(std::string_view sql) {
  char* err = nullptr;
  std::string s(sql);
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);
  return ToStatus(rc, db_, "exec");
}

Result<Stmt*> Connection::Prepare(std::string_view sql) {
  auto it = cache_.find(std::string(sql));
  if (it != cache_.end()) {
    it->second->Reset();
    return it->second.get();
  }
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s, nullptr);
  if (rc != SQLITE_OK) return ToStatus(rc, db_, "prepare");
  auto stmt = std::make_unique<Stmt>(s);
  Stmt* raw = stmt.get();
  cache_.emplace(std::string(sql), std::move(stmt));
  return raw;
}

Result<Stmt*> Connection::PrepareStatic(const char* sql) {
  auto it = static_cache_.find(sql);
  if (it != static_cache_.end()) {
    it->second->Reset();
    return it->second;
  }
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, Prepare(sql));
  static_cache_.emplace(sql, s);
  return s;
}

Status Connection::Run(Stmt& stmt, std::string_view what) {
  int rc;
  while ((rc = stmt.Step()) == SQLITE_ROW) {
  }
  Status st = ToStatus(rc, db_, what);
  stmt.Reset();
  return st;
}

Transaction::~Transaction() {
  if (open_) sqlite3_exec(c_.raw(), "ROLLBACK", nullptr, nullptr, nullptr);
}

Status Transaction::Begin() {
  OUTFLOW_RETURN_IF_ERROR(c_.Exec("BEGIN IMMEDIATE").WithContext("begin"));
  open_ = true;
  return Status::Ok();
}

Status Transaction::Commit() {
  Status st = c_.Exec("COMMIT").WithContext("commit");
  if (st.ok()) open_ = false;
  return st;
}

}  // namespace outflow::sqlite
