#include "store/sqlite/sqlite_import_store.h"

#include <boost/json.hpp>

#include "store/sqlite/contact_rows.h"
#include "store/sqlite/database.h"
#include "store/sqlite/job_rows.h"
#include "store/sqlite/segment_rows.h"

#include <map>

namespace outflow {

using sqlite::Connection;
using sqlite::Stmt;
using sqlite::Transaction;
namespace json = boost::json;

namespace {

constexpr std::string_view kColumns =
    "id, file_name, file_path, bytes_total, options, state, rows_total, header, columns, delimiter, rows_read, "
    "created, updated, skipped, failed, bytes_done, next_line, next_index, error, created_at, updated_at, finished_at";

std::string Select(std::string_view tail) {
  return "SELECT " + std::string(kColumns) + " FROM imports " + std::string(tail);
}

std::string EncodeOptions(const ImportOptions& o) {
  json::object j;
  j["delimiter"] = std::string(o.delimiter ? 1 : 0, o.delimiter);
  j["on_existing"] = OnExistingName(o.on_existing);
  j["owner"] = o.owner ? json::value(*o.owner) : json::value(nullptr);
  j["staging"] = o.staging;
  json::object m;
  for (const auto& [k, v] : o.mapping) m[k] = v;
  j["mapping"] = std::move(m);
  j["create_fields"] = o.create_fields;
  j["segment"] = o.segment ? json::value(*o.segment) : json::value(nullptr);
  return json::serialize(j);
}

ImportOptions DecodeOptions(std::string_view text) {
  ImportOptions o;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return o;
  const json::object& j = v.as_object();
  if (auto* d = j.if_contains("delimiter"); d && d->is_string() && !d->as_string().empty())
    o.delimiter = d->as_string()[0];
  if (auto* e = j.if_contains("on_existing"); e && e->is_string())
    o.on_existing = ParseOnExisting(e->as_string()).value_or(OnExisting::kUpdate);
  if (auto* w = j.if_contains("owner"); w && w->is_string()) o.owner = std::string(w->as_string());
  if (auto* s = j.if_contains("staging"); s && s->is_bool()) o.staging = s->as_bool();
  if (auto* m = j.if_contains("mapping"); m && m->is_object()) {
    for (const auto& [k, val] : m->as_object()) {
      if (val.is_string()) o.mapping[std::string(k)] = std::string(val.as_string());
    }
  }
  if (auto* c = j.if_contains("create_fields"); c && c->is_bool()) o.create_fields = c->as_bool();
  if (auto* g = j.if_contains("segment"); g && g->is_string()) o.segment = std::string(g->as_string());
  return o;
}

std::string EncodeStrings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.push_back(json::value(s));
  return json::serialize(a);
}

std::vector<std::string> DecodeStrings(std::string_view text) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& e : v.as_array()) out.push_back(e.is_string() ? std::string(e.as_string()) : "");
  return out;
}

Result<Import> ReadImport(const Stmt& s) {
  Import im;
  im.id = ImportId(s.Int(0));
  im.file_name = std::string(s.Text(1));
  im.file_path = std::string(s.Text(2));
  im.bytes_total = static_cast<uint64_t>(s.Int(3));
  im.options = DecodeOptions(s.Text(4));
  auto st = ParseImportState(s.Text(5));
  if (!st) return Status::Corruption("import " + std::to_string(im.id.value()) + " has an unknown state");
  im.state = *st;
  im.rows_total = s.Int(6);
  im.header = DecodeStrings(s.Text(7));
  im.columns = DecodeStrings(s.Text(8));
  im.delimiter = s.Text(9).empty() ? '\0' : s.Text(9)[0];
  im.progress.rows_read = s.Int(10);
  im.progress.created = s.Int(11);
  im.progress.updated = s.Int(12);
  im.progress.skipped = s.Int(13);
  im.progress.failed = s.Int(14);
  im.progress.bytes_done = static_cast<uint64_t>(s.Int(15));
  im.progress.next_line = s.Int(16);
  im.progress.next_index = s.Int(17);
  im.error = s.OptText(18);
  im.created_at = FromMicros(s.Int(19));
  im.updated_at = FromMicros(s.Int(20));
  if (!s.IsNull(21)) im.finished_at = FromMicros(s.Int(21));
  return im;
}

Result<Import> GetOn(Connection& c, ImportId id) {
  static const std::string kSql = Select("WHERE id = ?1");
  return sqlite::ReadOneById<Import>(c, kSql, id.value(), "import", ReadImport);
}

Status InsertErrors(Connection& c, ImportId id, std::span<const ImportRowError> errors) {
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s,
      c.PrepareStatic(
          "INSERT INTO import_errors(import_id, row, column_name, value, reason) VALUES(?1, ?2, ?3, ?4, ?5)"));
  for (const ImportRowError& e : errors) {
    s->Bind(1, id.value());
    s->Bind(2, e.row);
    s->Bind(3, std::string_view(e.column));
    std::string_view value(e.value);
    if (value.size() > 1024) {
      size_t cut = 1024;
      while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 sequence
      value = value.substr(0, cut);
    }
    s->Bind(4, value);
    s->Bind(5, std::string_view(e.reason));
    OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "record import error"));
  }
  return Status::Ok();
}

// Each contact of the batch named with a segment joins that static segment (created
// if needed); a dynamic one is a row error. REQUIRES: `outcomes` are the batch's.
Status JoinSegments(Connection& c, const ImportBatch& b, const std::vector<UpsertOutcome>& outcomes, Timestamp now,
                    std::vector<ImportRowError>& errors) {
  std::map<std::string, std::optional<SegmentId>, std::less<>>
      segment_ids;                                                      // name -> static segment (nullopt: dynamic)
  std::vector<std::pair<SegmentId, ContactId>> new_joins, other_joins;  // (static segment, contact) to join
  for (size_t i = 0; i < outcomes.size() && i < b.contact_segments.size(); ++i) {
    const std::string& name = b.contact_segments[i];
    if (name.empty() || outcomes[i].kind == UpsertOutcome::Kind::kFailed) continue;
    auto it = segment_ids.find(name);
    if (it == segment_ids.end()) {
      OUTFLOW_ASSIGN_OR_RETURN(auto found, sqlite::EnsureStaticSegment(c, name, now));
      it = segment_ids.emplace(name, found.first).first;
    }
    if (!it->second) {
      errors.push_back({b.contact_rows[i], "segment_name", name,
                        "segment '" + name + "' is dynamic: its members follow its filter"});
      continue;
    }
    if (outcomes[i].kind == UpsertOutcome::Kind::kCreated && b.contacts[i].status == ContactStatus::kLive) {
      new_joins.emplace_back(*it->second, outcomes[i].id);
    } else {
      other_joins.emplace_back(*it->second, outcomes[i].id);
    }
  }
  // Contacts created by this batch are in no static segment yet: their joins go in
  // bulk, first; then the rest (a contact updated, or named twice in the file) one by one.
  sqlite::CountDeltas deltas;
  OUTFLOW_RETURN_IF_ERROR(sqlite::JoinNewContacts(c, new_joins, now, deltas));
  for (const auto& [segment, contact] : other_joins) {
    OUTFLOW_ASSIGN_OR_RETURN(bool staged, sqlite::IsStaged(c, contact));  // an existing live contact joins now
    OUTFLOW_RETURN_IF_ERROR(sqlite::JoinStaticSegment(c, segment, contact, staged, now, &deltas));
  }
  OUTFLOW_RETURN_IF_ERROR(sqlite::FlushCounts(c, deltas));
  return Status::Ok();
}

}  // namespace

SqliteImportStore::SqliteImportStore(std::shared_ptr<sqlite::Database> db,
                                     std::shared_ptr<sqlite::DynamicSegments> segments)
    : db_(std::move(db)), segments_(segments ? std::move(segments) : std::make_shared<sqlite::DynamicSegments>()) {}
SqliteImportStore::~SqliteImportStore() = default;

Result<Import> SqliteImportStore::Create(const Import& import, const JobFn& job, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("create import"));
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s,
      c.Prepare("INSERT INTO imports(file_name, file_path, bytes_total, options, state, created_at, updated_at) "
                "VALUES(?1, ?2, ?3, ?4, 'queued', ?5, ?5)"));
  s->Bind(1, std::string_view(import.file_name));
  s->Bind(2, std::string_view(import.file_path));
  s->Bind(3, static_cast<int64_t>(import.bytes_total));
  s->Bind(4, std::string_view(EncodeOptions(import.options)));
  s->Bind(5, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "create import"));
  OUTFLOW_ASSIGN_OR_RETURN(Import created, GetOn(c, ImportId(c.LastInsertRowId())));
  if (job) {
    OUTFLOW_ASSIGN_OR_RETURN(JobSpec spec, job(created));
    OUTFLOW_RETURN_IF_ERROR(sqlite::InsertJobs(c, std::span(&spec, 1), now).status());
  }
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("create import"));
  return created;
}

Result<Import> SqliteImportStore::Get(ImportId id) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  return GetOn(*reader, id);
}

Result<std::vector<Import>> SqliteImportStore::List(int limit) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, reader->Prepare(Select("ORDER BY id DESC LIMIT ?1")));
  s->Bind(1, limit);
  return sqlite::ReadRows<Import>(*reader, *s, "list imports", ReadImport);
}

Status SqliteImportStore::SetState(ImportId id, ImportState from, ImportState to, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s,
                           c.Prepare("UPDATE imports SET state = ?3, updated_at = ?4 WHERE id = ?1 AND state = ?2"));
  s->Bind(1, id.value());
  s->Bind(2, ImportStateName(from));
  s->Bind(3, ImportStateName(to));
  s->Bind(4, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "set import state"));
  if (c.Changes() == 0) {
    return Status::Conflict("import " + std::to_string(id.value()) + " is not " + std::string(ImportStateName(from)));
  }
  return Status::Ok();
}

Status SqliteImportStore::SetValidated(const Import& v, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s,
      c.Prepare("UPDATE imports SET state = 'running', rows_total = ?2, header = ?3, columns = ?4, delimiter = ?5, "
                "updated_at = ?6 WHERE id = ?1 AND state = 'validating'"));
  s->Bind(1, v.id.value());
  s->Bind(2, v.rows_total);
  s->Bind(3, std::string_view(EncodeStrings(v.header)));
  s->Bind(4, std::string_view(EncodeStrings(v.columns)));
  s->Bind(5, std::string_view(std::string(1, v.delimiter)));
  s->Bind(6, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "validated import"));
  if (c.Changes() == 0) return Status::Conflict("import " + std::to_string(v.id.value()) + " is no longer validating");
  return Status::Ok();
}

Status SqliteImportStore::Fail(ImportId id, const std::string& error, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s, c.Prepare("UPDATE imports SET state = 'failed', error = ?2, updated_at = ?3, finished_at = ?3 "
                          "WHERE id = ?1 AND state IN ('queued','validating','running')"));
  s->Bind(1, id.value());
  s->Bind(2, std::string_view(error));
  s->Bind(3, ToMicros(now));
  return c.Run(*s, "fail import");
}

Result<Import> SqliteImportStore::Cancel(ImportId id, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("cancel import"));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s,
                           c.Prepare("UPDATE imports SET state = 'cancelled', updated_at = ?2, finished_at = ?2 "
                                     "WHERE id = ?1 AND state IN ('queued','validating','running')"));
  s->Bind(1, id.value());
  s->Bind(2, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "cancel import"));
  const bool changed = c.Changes() == 1;
  OUTFLOW_ASSIGN_OR_RETURN(Import im, GetOn(c, id));
  if (!changed) {
    return Status::Conflict("import " + std::to_string(id.value()) + " is " + std::string(ImportStateName(im.state)) +
                            "; only an unfinished import can be cancelled");
  }
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("cancel import"));
  return im;
}

namespace {

// The batch's claim on the import, the first statement of its transaction: moves
// the resume point on only if the import is running and still at the batch's start.
// One conditional UPDATE (a row lock where there are concurrent writers), so of two
// runs of one import committing the same batch exactly one applies it.
Status ClaimResumePoint(Connection& c, ImportId id, const ImportBatch& b, Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare("UPDATE imports SET bytes_done = ?3, next_line = ?4, next_index = ?5, "
                                               "rows_read = rows_read + ?6, updated_at = ?7 "
                                               "WHERE id = ?1 AND state = 'running' AND bytes_done = ?2"));
  s->Bind(1, id.value());
  s->Bind(2, static_cast<int64_t>(b.start_offset));
  s->Bind(3, static_cast<int64_t>(b.bytes_done));
  s->Bind(4, b.next_line);
  s->Bind(5, b.next_index);
  s->Bind(6, b.rows_read);
  s->Bind(7, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "advance import"));
  if (c.Changes() == 1) return Status::Ok();
  OUTFLOW_ASSIGN_OR_RETURN(Import im, GetOn(c, id));
  if (im.state != ImportState::kRunning) {
    return Status::Conflict("import " + std::to_string(id.value()) + " is " + std::string(ImportStateName(im.state)));
  }
  return Status::Conflict("import " + std::to_string(id.value()) + " has moved on to byte " +
                          std::to_string(im.progress.bytes_done) + ": another run committed past this batch");
}

}  // namespace

Result<Import> SqliteImportStore::CommitBatch(ImportId id, const ImportBatch& b, ExistingPolicy policy, Timestamp now) {
  auto writer = db_->PoliteWriter();  // one batch of a long import: waiting writers first
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("commit import batch"));
  OUTFLOW_RETURN_IF_ERROR(ClaimResumePoint(c, id, b, now));
  OUTFLOW_ASSIGN_OR_RETURN(auto outcomes, sqlite::UpsertContactsOn(c, b.contacts, policy, now, *segments_));
  std::vector<ImportRowError> errors = b.errors;
  OUTFLOW_RETURN_IF_ERROR(JoinSegments(c, b, outcomes, now, errors));
  ImportProgress delta;  // this batch's counts, added to the row's (never read, then written back)
  for (size_t i = 0; i < outcomes.size(); ++i) {
    switch (outcomes[i].kind) {
      case UpsertOutcome::Kind::kCreated: ++delta.created; break;
      case UpsertOutcome::Kind::kUpdated: ++delta.updated; break;
      case UpsertOutcome::Kind::kSkipped: ++delta.skipped; break;
      case UpsertOutcome::Kind::kFailed: errors.push_back({b.contact_rows[i], "", "", outcomes[i].error}); break;
    }
  }
  delta.failed = static_cast<int64_t>(errors.size());
  OUTFLOW_RETURN_IF_ERROR(InsertErrors(c, id, errors));
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s, c.Prepare("UPDATE imports SET created = created + ?2, updated = updated + ?3, skipped = skipped + ?4, "
                          "failed = failed + ?5, state = ?6, finished_at = ?7 WHERE id = ?1"));
  s->Bind(1, id.value());
  s->Bind(2, delta.created);
  s->Bind(3, delta.updated);
  s->Bind(4, delta.skipped);
  s->Bind(5, delta.failed);
  s->Bind(6, std::string_view(b.last ? "completed" : "running"));
  if (b.last) {
    s->Bind(7, ToMicros(now));
  } else {
    s->BindNull(7);
  }
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "count import batch"));
  OUTFLOW_ASSIGN_OR_RETURN(Import im, GetOn(c, id));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("commit import batch"));
  return im;
}

Result<std::vector<ImportRowError>> SqliteImportStore::Errors(ImportId id, int64_t after_row, int limit) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s,
      reader->Prepare("SELECT row, column_name, value, reason FROM import_errors WHERE import_id = ?1 AND row > ?2 "
                      "ORDER BY row, rowid LIMIT ?3"));
  s->Bind(1, id.value());
  s->Bind(2, after_row);
  s->Bind(3, limit);
  std::vector<ImportRowError> out;
  int rc;
  while ((rc = s->Step()) == SQLITE_ROW) {
    out.push_back({s->Int(0), std::string(s->Text(1)), std::string(s->Text(2)), std::string(s->Text(3))});
  }
  s->Reset();
  if (rc != SQLITE_DONE) return reader->Error(rc, "import errors");
  return out;
}

}  // namespace outflow
