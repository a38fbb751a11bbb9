#include "store/sqlite/sqlite_key_store.h"

#include "store/sqlite/database.h"

namespace outflow {

using sqlite::Connection;
using sqlite::Stmt;
using sqlite::Transaction;

namespace {

constexpr const char* kSelect =
    "SELECT id, lookup, name, role, hash, created_at, expires_at, revoked_at, last_used_at FROM api_keys ";

std::optional<Timestamp> OptTime(const Stmt& s, int col) {
  if (s.IsNull(col)) return std::nullopt;
  return FromMicros(s.Int(col));
}

Result<ApiKey> ReadKey(const Stmt& s) {
  ApiKey k;
  k.id = ApiKeyId(s.Int(0));
  k.lookup = std::string(s.Text(1));
  k.name = std::string(s.Text(2));
  std::optional<Role> role = ParseRole(s.Text(3));
  if (!role) {
    return Status::Corruption("api key " + std::to_string(k.id.value()) + " has an unknown role '" +
                              std::string(s.Text(3)) + "'");
  }
  k.role = *role;
  k.hash = std::string(s.Text(4));
  k.created_at = FromMicros(s.Int(5));
  k.expires_at = OptTime(s, 6);
  k.revoked_at = OptTime(s, 7);
  k.last_used_at = OptTime(s, 8);
  return k;
}

Result<ApiKey> GetOn(Connection& c, ApiKeyId id) {
  static const std::string kSql = std::string(kSelect) + "WHERE id = ?1";
  return sqlite::ReadOneById<ApiKey>(c, kSql, id.value(), "api key", ReadKey);
}

void BindOptTime(Stmt& s, int i, const std::optional<Timestamp>& t) {
  if (t) {
    s.Bind(i, ToMicros(*t));
  } else {
    s.BindNull(i);
  }
}

}  // namespace

SqliteKeyStore::SqliteKeyStore(std::shared_ptr<sqlite::Database> db) : db_(std::move(db)) {}
SqliteKeyStore::~SqliteKeyStore() = default;

Result<std::unique_ptr<SqliteKeyStore>> SqliteKeyStore::Open(const std::string& path, Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(auto db, sqlite::Database::Open(path, SqliteOptions(), now));
  return std::make_unique<SqliteKeyStore>(std::move(db));
}

Result<ApiKey> SqliteKeyStore::Create(const ApiKey& key, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("create api key"));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("INSERT INTO api_keys(lookup, name, role, hash, created_at, "
                                                     "expires_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"));
  s->Bind(1, std::string_view(key.lookup));
  s->Bind(2, std::string_view(key.name));
  s->Bind(3, RoleName(key.role));
  s->Bind(4, std::string_view(key.hash));
  s->Bind(5, ToMicros(now));
  BindOptTime(*s, 6, key.expires_at);
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "create api key"));
  OUTFLOW_ASSIGN_OR_RETURN(ApiKey made, GetOn(c, ApiKeyId(c.LastInsertRowId())));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit());
  return made;
}

Result<ApiKey> SqliteKeyStore::Get(ApiKeyId id) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  return GetOn(*reader, id);
}

Result<ApiKey> SqliteKeyStore::FindByLookup(std::string_view lookup) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  Connection& c = *reader;
  static const std::string kSql = std::string(kSelect) + "WHERE lookup = ?1";
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare(kSql));
  s->Bind(1, lookup);
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<ApiKey> rows, sqlite::ReadRows<ApiKey>(c, *s, "find api key", ReadKey));
  if (rows.empty()) return Status::NotFound("no api key with this id");
  return std::move(rows.front());
}

Result<std::vector<ApiKey>> SqliteKeyStore::List() {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  Connection& c = *reader;
  static const std::string kSql = std::string(kSelect) + "ORDER BY id";
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare(kSql));
  return sqlite::ReadRows<ApiKey>(c, *s, "list api keys", ReadKey);
}

Result<ApiKey> SqliteKeyStore::Revoke(ApiKeyId id, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("revoke api key"));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s,
                           c.PrepareStatic("UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL"));
  s->Bind(1, id.value());
  s->Bind(2, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "revoke api key"));
  OUTFLOW_ASSIGN_OR_RETURN(ApiKey k, GetOn(c, id));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit());
  return k;
}

Status SqliteKeyStore::RecordUse(ApiKeyId id, Timestamp at) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1 AND "
                                                     "(last_used_at IS NULL OR last_used_at < ?2)"));
  s->Bind(1, id.value());
  s->Bind(2, ToMicros(at));
  return c.Run(*s, "record api key use");
}

}  // namespace outflow
