#include "store/sqlite/sqlite_audit_store.h"

#include "store/sqlite/database.h"

namespace outflow {

using sqlite::Connection;
using sqlite::Stmt;
using sqlite::Transaction;

namespace {

AuditEntry ReadEntry(const Stmt& s) {
  AuditEntry e;
  e.id = s.Int(0);
  e.at = FromMicros(s.Int(1));
  e.actor = std::string(s.Text(2));
  e.actor_name = std::string(s.Text(3));
  e.action = std::string(s.Text(4));
  e.object_type = std::string(s.Text(5));
  e.object_id = std::string(s.Text(6));
  e.address = std::string(s.Text(7));
  e.request_id = std::string(s.Text(8));
  e.summary = std::string(s.Text(9));
  return e;
}

// The WHERE clause of `f`, with its parameters numbered from ?1 in this order:
// actor, action, object_type, object_id, since, until, before; then LIMIT.
std::string ListSql(const AuditFilter& f) {
  std::string sql =
      "SELECT id, at, actor, actor_name, action, object_type, object_id, address, request_id, summary "
      "FROM audit_log WHERE 1";
  if (!f.actor.empty()) sql += " AND actor = ?1";
  if (!f.action.empty()) sql += " AND action = ?2";
  if (!f.object_type.empty()) sql += " AND object_type = ?3";
  if (!f.object_id.empty()) sql += " AND object_id = ?4";
  if (f.since) sql += " AND at >= ?5";
  if (f.until) sql += " AND at < ?6";
  if (f.before) sql += " AND id < ?7";
  return sql + " ORDER BY id DESC LIMIT ?8";
}

void BindList(Stmt& s, const AuditFilter& f) {
  if (!f.actor.empty()) s.Bind(1, std::string_view(f.actor));
  if (!f.action.empty()) s.Bind(2, std::string_view(f.action));
  if (!f.object_type.empty()) s.Bind(3, std::string_view(f.object_type));
  if (!f.object_id.empty()) s.Bind(4, std::string_view(f.object_id));
  if (f.since) s.Bind(5, ToMicros(*f.since));
  if (f.until) s.Bind(6, ToMicros(*f.until));
  if (f.before) s.Bind(7, *f.before);
  s.Bind(8, f.limit);
}

}  // namespace

SqliteAuditStore::SqliteAuditStore(std::shared_ptr<sqlite::Database> db) : db_(std::move(db)) {}
SqliteAuditStore::~SqliteAuditStore() = default;

Result<std::unique_ptr<SqliteAuditStore>> SqliteAuditStore::Open(const std::string& path, Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(auto db, sqlite::Database::Open(path, SqliteOptions(), now));
  return std::make_unique<SqliteAuditStore>(std::move(db));
}

Status SqliteAuditStore::Append(std::span<const AuditEntry> entries) {
  if (entries.empty()) return Status::Ok();
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("append to the audit log"));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("INSERT INTO audit_log(at, actor, actor_name, action, "
                                                     "object_type, object_id, address, request_id, summary) "
                                                     "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
  for (const AuditEntry& e : entries) {
    s->Bind(1, ToMicros(e.at));
    s->Bind(2, std::string_view(e.actor));
    s->Bind(3, std::string_view(e.actor_name));
    s->Bind(4, std::string_view(e.action));
    s->Bind(5, std::string_view(e.object_type));
    s->Bind(6, std::string_view(e.object_id));
    s->Bind(7, std::string_view(e.address));
    s->Bind(8, std::string_view(e.request_id));
    s->Bind(9, std::string_view(e.summary));
    OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "append to the audit log"));
  }
  return tx.Commit().WithContext("append to the audit log");
}

Result<AuditPage> SqliteAuditStore::List(const AuditFilter& f) {
  if (f.limit < 1 || f.limit > 1000) return Status::InvalidArgument("limit: must be 1 to 1000");
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  Connection& c = *reader;
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare(ListSql(f)));
  BindList(*s, f);
  AuditPage page;
  OUTFLOW_ASSIGN_OR_RETURN(page.entries, sqlite::ReadRows<AuditEntry>(c, *s, "list the audit log", ReadEntry));
  if (static_cast<int>(page.entries.size()) == f.limit) page.next_before = page.entries.back().id;
  return page;
}

Result<int64_t> SqliteAuditStore::Prune(Timestamp before, int limit) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("prune the audit log"));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log "
                                                     "WHERE at < ?1 ORDER BY at LIMIT ?2)"));
  s->Bind(1, ToMicros(before));
  s->Bind(2, limit);
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "prune the audit log"));
  const int64_t deleted = c.Changes();
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("prune the audit log"));
  return deleted;
}

}  // namespace outflow
