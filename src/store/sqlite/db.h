// A thin RAII layer over the sqlite3 C API: connections with a prepared-statement
// cache, statements with typed bind/column helpers, and the mapping of SQLite
// result codes to Status codes (busy/locked/full/read-only/I/O -> Unavailable,
// corrupt/not-a-database -> Corruption, constraint -> Conflict).
//
// Thread-safety: a Connection and its statements belong to one thread at a time;
// callers serialise access (SqliteJobStore holds a mutex per connection).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace outflow::sqlite {

// Maps a SQLite result code (and the connection's message) to a Status.
Status ToStatus(int rc, sqlite3* db, std::string_view what);

class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Clears bindings and state for the next use.
  void Reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void Bind(int i, int v) { sqlite3_bind_int64(s_, i, v); }
  void Bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  // Binds text that outlives the statement's next Reset().
  void BindStatic(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  void BindNull(int i) { sqlite3_bind_null(s_, i); }
  void Bind(int i, const std::optional<std::string>& v) {
    if (v)
      Bind(i, std::string_view(*v));
    else
      BindNull(i);
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(s_); }

  int64_t Int(int col) const { return sqlite3_column_int64(s_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string_view Text(int col) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(s_, col))) : std::string_view();
  }
  std::optional<std::string> OptText(int col) const {
    if (IsNull(col)) return std::nullopt;
    return std::string(Text(col));
  }
  std::optional<int64_t> OptInt(int col) const {
    if (IsNull(col)) return std::nullopt;
    return Int(col);
  }
  sqlite3_stmt* raw() { return s_; }

 private:
  sqlite3_stmt* s_;
};

class Connection {
 public:
  // Opens (creating if asked) the file at `path` and applies Outflow's pragmas:
  // WAL, synchronous=NORMAL, busy_timeout, foreign keys, an in-memory temp store.
  struct Options {
    bool create = true;
    bool read_only = false;
    int busy_timeout_ms = 5000;
    int cache_kib = 16 * 1024;
  };
  static Result<std::unique_ptr<Connection>> Open(const std::string& path, const Options& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements with no results.
  Status Exec(std::string_view sql);
  // A cached, reset statement for `sql`; valid until the connection closes.
  Result<Stmt*> Prepare(std::string_view sql);
  // The same for SQL with static storage (a literal or a function-local static):
  // cached by address, so a hot loop does not hash the SQL text on every call.
  Result<Stmt*> PrepareStatic(const char* sql);
  // Steps a statement that must finish without rows (or whose rows are ignored).
  Status Run(Stmt& stmt, std::string_view what);
  Status Error(int rc, std::string_view what) const { return ToStatus(rc, db_, what); }

  int64_t LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
  int Changes() const { return sqlite3_changes(db_); }
  sqlite3* raw() { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<std::string, std::unique_ptr<Stmt>> cache_;
  std::unordered_map<const char*, Stmt*> static_cache_;  // into cache_
};

// Runs `sql` (one ?1 parameter: `id`) and reads its single row with `read`.
// NotFound "<noun> <id> does not exist" when there is none.
template <typename T, typename Read>
Result<T> ReadOneById(Connection& c, const std::string& sql, int64_t id, std::string_view noun, Read read) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare(sql));
  s->Bind(1, id);
  int rc = s->Step();
  if (rc == SQLITE_DONE) {
    s->Reset();
    return Status::NotFound(std::string(noun) + " " + std::to_string(id) + " does not exist");
  }
  if (rc != SQLITE_ROW) return c.Error(rc, "get " + std::string(noun));
  Result<T> r = read(*s);
  s->Reset();
  return r;
}

// Steps a prepared, bound statement to its end, reading each row with `read`.
template <typename T, typename Read>
Result<std::vector<T>> ReadRows(Connection& c, Stmt& s, std::string_view what, Read read) {
  std::vector<T> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    Result<T> row = read(s);
    if (!row.ok()) {
      s.Reset();
      return row.status();
    }
    out.push_back(std::move(row).value());
  }
  s.Reset();
  if (rc != SQLITE_DONE) return c.Error(rc, what);
  return out;
}

// BEGIN IMMEDIATE ... COMMIT, rolled back unless Commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Connection& c) : c_(c) {}
  ~Transaction();
  Status Begin();
  Status Commit();

 private:
  Connection& c_;
  bool open_ = false;
};

}  // namespace outflow::sqlite
