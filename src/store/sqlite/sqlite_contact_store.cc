#include "store/sqlite/sqlite_contact_store.h"

#include <boost/json.hpp>

#include "store/sqlite/contact_rows.h"
#include "store/sqlite/database.h"
#include "store/sqlite/segment_rows.h"

namespace outflow {

using sqlite::Connection;
using sqlite::Stmt;
using sqlite::Transaction;
namespace json = boost::json;

namespace {


using sqlite::kContactColumns;
using sqlite::ReadContact;
constexpr std::string_view kColumns = kContactColumns;

std::string Select(std::string_view tail) { return "SELECT " + std::string(kColumns) + " FROM contacts " + std::string(tail); }

std::string EncodeCustom(const std::map<std::string, FieldValue>& custom) {
  json::object o;
  for (const auto& [k, v] : custom) {
    if (auto* s = std::get_if<std::string>(&v)) o[k] = *s;
    else if (auto* d = std::get_if<double>(&v)) o[k] = *d;
    else o[k] = std::get<bool>(v);
  }
  return json::serialize(o);
}

void BindOpt(Stmt& s, int i, const std::optional<std::string>& v) {
  if (v) s.BindStatic(i, std::string_view(*v));
  else s.BindNull(i);
}

// The text BindContact derives from a contact, kept alive until the statement ran.
struct ContactBinding {
  std::string custom_json;
  std::string email_norm;
};

// Binds ?1..?16 in the order of the INSERT and UPDATE statements below, without
// copying the text (SQLITE_STATIC: an import binds ~10 strings a row).
// REQUIRES: `c` and `keep` outlive the statement's run (Connection::Run resets it).
void BindContact(Stmt& s, const Contact& c, ContactBinding& keep) {
  keep.custom_json = EncodeCustom(c.custom);
  BindOpt(s, 1, c.external_id);
  BindOpt(s, 2, c.email);
  if (c.email) {
    keep.email_norm = NormalizeEmail(*c.email);
    s.BindStatic(3, keep.email_norm);
  } else {
    s.BindNull(3);
  }
  BindOpt(s, 4, c.phone);
  BindOpt(s, 5, c.first_name);
  BindOpt(s, 6, c.last_name);
  BindOpt(s, 7, c.time_zone);
  BindOpt(s, 8, c.locale);
  BindOpt(s, 9, c.owner);
  BindOpt(s, 10, c.pipeline_stage);
  BindOpt(s, 11, c.tier);
  if (c.engagement_score) sqlite3_bind_double(s.raw(), 12, *c.engagement_score);
  else s.BindNull(12);
  s.BindStatic(13, keep.custom_json);
  s.BindStatic(14, ContactStatusName(c.status));
  s.Bind(15, ToMicros(c.created_at));
  s.Bind(16, ToMicros(c.updated_at));
}

constexpr const char* kInsert =
    "INSERT INTO contacts(external_id, email, email_norm, phone, first_name, last_name, time_zone, locale, owner, "
    "pipeline_stage, tier, engagement_score, custom, status, created_at, updated_at) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";
// kInsert that does nothing when the email is taken (then the row is an update).
constexpr const char* kInsertIfNewEmail =
    "INSERT INTO contacts(external_id, email, email_norm, phone, first_name, last_name, time_zone, locale, owner, "
    "pipeline_stage, tier, engagement_score, custom, status, created_at, updated_at) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) "
    "ON CONFLICT(email_norm) WHERE email_norm IS NOT NULL DO NOTHING";
constexpr const char* kUpdate =
    "UPDATE contacts SET external_id = ?1, email = ?2, email_norm = ?3, phone = ?4, first_name = ?5, last_name = ?6, "
    "time_zone = ?7, locale = ?8, owner = ?9, pipeline_stage = ?10, tier = ?11, engagement_score = ?12, custom = ?13, "
    "status = ?14, created_at = ?15, updated_at = ?16 WHERE id = ?17";

// The id of the contact holding a unique value, if any.
Result<std::optional<ContactId>> FindBy(Connection& c, const char* sql, std::string_view value) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic(sql));
  s->Bind(1, value);
  int rc = s->Step();
  std::optional<ContactId> id;
  if (rc == SQLITE_ROW) id = ContactId(s->Int(0));
  s->Reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return c.Error(rc, "find contact");
  return id;
}
constexpr const char* kByEmail = "SELECT id FROM contacts WHERE email_norm = ?1";
constexpr const char* kByExternalId = "SELECT id FROM contacts WHERE external_id = ?1";

// Conflict when another contact than `self` holds `c`'s email or external id.
Status CheckUnique(Connection& conn, const Contact& c, ContactId self) {
  if (c.email) {
    OUTFLOW_ASSIGN_OR_RETURN(auto other, FindBy(conn, kByEmail, NormalizeEmail(*c.email)));
    if (other && *other != self) {
      return Status::Conflict("email: " + *c.email + " is already used by contact " + std::to_string(other->value()));
    }
  }
  if (c.external_id) {
    OUTFLOW_ASSIGN_OR_RETURN(auto other, FindBy(conn, kByExternalId, *c.external_id));
    if (other && *other != self) {
      return Status::Conflict("external_id: " + *c.external_id + " is already used by contact " +
                              std::to_string(other->value()));
    }
  }
  return Status::Ok();
}

Result<Contact> GetOn(Connection& c, ContactId id) {
  static const std::string kSql = Select("WHERE id = ?1");
  return sqlite::ReadOneById<Contact>(c, kSql, id.value(), "contact", ReadContact);
}

// Inserts `c`, with created_at and updated_at set to `now` when given.
Result<ContactId> InsertOn(Connection& conn, const Contact& c, std::optional<Timestamp> now = std::nullopt) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, conn.PrepareStatic(kInsert));
  ContactBinding keep;
  BindContact(*s, c, keep);
  if (now) {
    s->Bind(15, ToMicros(*now));
    s->Bind(16, ToMicros(*now));
  }
  OUTFLOW_RETURN_IF_ERROR(conn.Run(*s, "insert contact"));
  return ContactId(conn.LastInsertRowId());
}

Status UpdateOn(Connection& conn, const Contact& c) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, conn.PrepareStatic(kUpdate));
  ContactBinding keep;
  BindContact(*s, c, keep);
  s->Bind(17, c.id.value());
  return conn.Run(*s, "update contact");
}

// Overwrites in `into` every field that `from` sets.
void Merge(Contact& into, const Contact& from) {
  auto take = [](std::optional<std::string>& a, const std::optional<std::string>& b) {
    if (b) a = b;
  };
  take(into.external_id, from.external_id);
  take(into.email, from.email);
  take(into.phone, from.phone);
  take(into.first_name, from.first_name);
  take(into.last_name, from.last_name);
  take(into.time_zone, from.time_zone);
  take(into.locale, from.locale);
  take(into.owner, from.owner);
  take(into.pipeline_stage, from.pipeline_stage);
  take(into.tier, from.tier);
  if (from.engagement_score) into.engagement_score = from.engagement_score;
  for (const auto& [k, v] : from.custom) into.custom[k] = v;
}

// WHERE clause and binder for a filter; parameters from ?2 on (?1 is the cursor).
struct Where {
  std::string sql;
  std::vector<std::string> params;
};

Where BuildWhere(const ContactFilter& f) {
  Where w;
  auto add = [&](const char* col, const std::optional<std::string>& v) {
    if (!v) return;
    w.params.push_back(*v);
    w.sql += std::string(" AND ") + col + " = ?" + std::to_string(w.params.size() + 1);
  };
  add("email_norm", f.email ? std::optional<std::string>(NormalizeEmail(*f.email)) : std::nullopt);
  add("external_id", f.external_id);
  add("phone", f.phone);
  add("owner", f.owner);
  add("pipeline_stage", f.pipeline_stage);
  add("tier", f.tier);
  if (f.status) add("status", std::string(ContactStatusName(*f.status)));
  return w;
}

}  // namespace

namespace sqlite {

static Result<std::map<std::string, FieldValue>> DecodeCustom(std::string_view text, int64_t id) {
  std::map<std::string, FieldValue> out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return Status::Corruption("contact " + std::to_string(id) + ": custom fields are not a JSON object");
  for (const auto& [k, val] : v.as_object()) {
    if (val.is_string()) out[std::string(k)] = std::string(val.as_string());
    else if (val.is_bool()) out[std::string(k)] = val.as_bool();
    else if (val.is_number()) out[std::string(k)] = val.to_number<double>();
  }
  return out;
}

Result<Contact> ReadContact(const Stmt& s) {
  Contact c;
  c.id = ContactId(s.Int(0));
  c.external_id = s.OptText(1);
  c.email = s.OptText(2);
  c.phone = s.OptText(3);
  c.first_name = s.OptText(4);
  c.last_name = s.OptText(5);
  c.time_zone = s.OptText(6);
  c.locale = s.OptText(7);
  c.owner = s.OptText(8);
  c.pipeline_stage = s.OptText(9);
  c.tier = s.OptText(10);
  if (!s.IsNull(11)) c.engagement_score = sqlite3_column_double(const_cast<Stmt&>(s).raw(), 11);
  OUTFLOW_ASSIGN_OR_RETURN(c.custom, DecodeCustom(s.Text(12), c.id.value()));
  c.status = s.Text(13) == "staged" ? ContactStatus::kStaged : ContactStatus::kLive;
  c.created_at = FromMicros(s.Int(14));
  c.updated_at = FromMicros(s.Int(15));
  return c;
}

Result<std::vector<UpsertOutcome>> UpsertContactsOn(Connection& c, std::span<const Contact> contacts,
                                                    ExistingPolicy policy, Timestamp now, DynamicSegments& segments) {
  OUTFLOW_ASSIGN_OR_RETURN(auto dynamic, segments.Get(c));
  const bool sync = !dynamic->empty();
  CountDeltas deltas;  // member counts, written once for the batch
  // Dynamic memberships of the contacts this batch creates, written in bulk; flushed
  // before any row-by-row sync that could see them (an update of a contact created
  // earlier in the batch) and at the end.
  std::vector<std::pair<SegmentId, ContactId>> new_joins;
  auto flush_joins = [&]() -> Status {
    Status st = JoinNewContacts(c, new_joins, now, deltas);
    new_joins.clear();
    return st;
  };
  std::vector<UpsertOutcome> out;
  out.reserve(contacts.size());
  ContactBinding keep;  // reused: its buffers stay allocated across rows
  for (const Contact& in : contacts) {
    std::optional<ContactId> match;
    if (!in.external_id && in.email) {
      // The common import row (a new email): one insert that probes the unique index
      // once, instead of a lookup and then the insert's own probe.
      OUTFLOW_ASSIGN_OR_RETURN(Stmt * ins, c.PrepareStatic(kInsertIfNewEmail));
      BindContact(*ins, in, keep);
      ins->Bind(15, ToMicros(now));
      ins->Bind(16, ToMicros(now));
      OUTFLOW_RETURN_IF_ERROR(c.Run(*ins, "insert contact"));
      if (c.Changes() == 1) {
        ContactId id(c.LastInsertRowId());
        if (sync) {
          Contact created = in;
          created.created_at = created.updated_at = now;
          OUTFLOW_RETURN_IF_ERROR(CollectNewMemberships(c, segments, id, created, now, new_joins));
        }
        out.push_back({UpsertOutcome::Kind::kCreated, id, {}});
        continue;
      }
    }
    if (in.external_id) {
      OUTFLOW_ASSIGN_OR_RETURN(match, FindBy(c, kByExternalId, *in.external_id));
    }
    if (!match && in.email) {
      OUTFLOW_ASSIGN_OR_RETURN(match, FindBy(c, kByEmail, NormalizeEmail(*in.email)));
    }
    UpsertOutcome o;
    if (!match) {
      // No match: both unique keys the row has were just looked up and are free.
      OUTFLOW_ASSIGN_OR_RETURN(o.id, InsertOn(c, in, now));
      o.kind = UpsertOutcome::Kind::kCreated;
      if (sync) {
        Contact created = in;
        created.created_at = created.updated_at = now;
        OUTFLOW_RETURN_IF_ERROR(CollectNewMemberships(c, segments, o.id, created, now, new_joins));
      }
    } else if (policy == ExistingPolicy::kSkip) {
      o = {UpsertOutcome::Kind::kSkipped, *match, {}};
    } else if (policy == ExistingPolicy::kFail) {
      o = {UpsertOutcome::Kind::kFailed, *match, "the contact exists (contact " + std::to_string(match->value()) + ")"};
    } else {
      OUTFLOW_ASSIGN_OR_RETURN(Contact existing, GetOn(c, *match));
      Merge(existing, in);
      existing.updated_at = now;
      Status st = CheckUnique(c, existing, *match);
      if (!st.ok()) {
        if (st.code() != Code::kConflict) return st;
        out.push_back({UpsertOutcome::Kind::kFailed, *match, st.message()});
        continue;
      }
      OUTFLOW_RETURN_IF_ERROR(UpdateOn(c, existing));
      if (sync) {
        OUTFLOW_RETURN_IF_ERROR(flush_joins());
        OUTFLOW_RETURN_IF_ERROR(SyncMemberships(c, segments, *match, existing, now, false, &deltas));
      }
      o = {UpsertOutcome::Kind::kUpdated, *match, {}};
    }
    out.push_back(std::move(o));
  }
  OUTFLOW_RETURN_IF_ERROR(flush_joins());
  OUTFLOW_RETURN_IF_ERROR(FlushCounts(c, deltas));
  return out;
}

}  // namespace sqlite

SqliteContactStore::SqliteContactStore(std::shared_ptr<sqlite::Database> db,
                                       std::shared_ptr<sqlite::DynamicSegments> segments)
    : db_(std::move(db)),
      segments_(segments ? std::move(segments) : std::make_shared<sqlite::DynamicSegments>()) {}
SqliteContactStore::~SqliteContactStore() = default;

Result<FieldDefinition> SqliteContactStore::DefineField(const FieldDefinition& def, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("define field"));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * sel, c.Prepare("SELECT type, label, created_at FROM custom_fields WHERE name = ?1"));
  sel->Bind(1, std::string_view(def.name));
  int rc = sel->Step();
  if (rc == SQLITE_ROW) {
    FieldDefinition existing{def.name, ParseFieldType(sel->Text(0)).value_or(FieldType::kText),
                             std::string(sel->Text(1)), FromMicros(sel->Int(2))};
    sel->Reset();
    if (existing.type != def.type) {
      return Status::Conflict("name: custom field '" + def.name + "' already exists with type " +
                              std::string(FieldTypeName(existing.type)));
    }
    return existing;
  }
  sel->Reset();
  if (rc != SQLITE_DONE) return c.Error(rc, "define field");
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * ins, c.Prepare("INSERT INTO custom_fields(name, type, label, created_at) VALUES(?1, ?2, ?3, ?4)"));
  ins->Bind(1, std::string_view(def.name));
  ins->Bind(2, FieldTypeName(def.type));
  ins->Bind(3, std::string_view(def.label.empty() ? def.name : def.label));
  ins->Bind(4, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*ins, "define field"));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("define field"));
  FieldDefinition out = def;
  if (out.label.empty()) out.label = out.name;
  out.created_at = now;
  return out;
}

Result<std::vector<FieldDefinition>> SqliteContactStore::ListFields() {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, reader->Prepare("SELECT name, type, label, created_at FROM custom_fields ORDER BY name"));
  std::vector<FieldDefinition> out;
  int rc;
  while ((rc = s->Step()) == SQLITE_ROW) {
    out.push_back({std::string(s->Text(0)), ParseFieldType(s->Text(1)).value_or(FieldType::kText),
                   std::string(s->Text(2)), FromMicros(s->Int(3))});
  }
  s->Reset();
  if (rc != SQLITE_DONE) return reader->Error(rc, "list fields");
  return out;
}

Result<Contact> SqliteContactStore::Create(const Contact& contact, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("create contact"));
  OUTFLOW_RETURN_IF_ERROR(CheckUnique(c, contact, ContactId()));
  Contact out = contact;
  out.created_at = out.updated_at = now;
  OUTFLOW_ASSIGN_OR_RETURN(out.id, InsertOn(c, out));
  OUTFLOW_RETURN_IF_ERROR(sqlite::SyncMemberships(c, *segments_, out.id, out, now, /*is_new=*/true));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("create contact"));
  return out;
}

Result<Contact> SqliteContactStore::Get(ContactId id) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  return GetOn(*reader, id);
}

Result<Contact> SqliteContactStore::Update(ContactId id, const std::function<Status(Contact&)>& mutate, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("update contact"));
  OUTFLOW_ASSIGN_OR_RETURN(Contact contact, GetOn(c, id));
  const ContactStatus before = contact.status;
  OUTFLOW_RETURN_IF_ERROR(mutate(contact));
  if (before == ContactStatus::kLive && contact.status == ContactStatus::kStaged) {
    return Status::Conflict("status: contact " + std::to_string(id.value()) +
                            " is live; a live contact cannot go back to staging");
  }
  contact.id = id;
  contact.updated_at = now;
  OUTFLOW_RETURN_IF_ERROR(CheckUnique(c, contact, id));
  OUTFLOW_RETURN_IF_ERROR(UpdateOn(c, contact));
  if (before == ContactStatus::kStaged && contact.status == ContactStatus::kLive) {
    OUTFLOW_RETURN_IF_ERROR(sqlite::ApplyStagedMemberships(c, id, now));  // released by hand
  }
  OUTFLOW_RETURN_IF_ERROR(sqlite::SyncMemberships(c, *segments_, id, contact, now));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("update contact"));
  return contact;
}

Status SqliteContactStore::Delete(ContactId id, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("delete contact"));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare("DELETE FROM contacts WHERE id = ?1"));
  s->Bind(1, id.value());
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "delete contact"));
  if (c.Changes() == 0) return Status::NotFound("contact " + std::to_string(id.value()) + " does not exist");
  OUTFLOW_RETURN_IF_ERROR(sqlite::RemoveFromAllSegments(c, id, now));
  return tx.Commit().WithContext("delete contact");
}

Result<ContactPage> SqliteContactStore::List(const ContactFilter& f) {
  Where w = BuildWhere(f);
  std::string sql = Select("WHERE id > ?1" + w.sql + " ORDER BY id LIMIT " + std::to_string(f.limit + 1));
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, reader->Prepare(sql));
  s->Bind(1, f.after.value());
  for (size_t i = 0; i < w.params.size(); ++i) s->Bind(static_cast<int>(i) + 2, std::string_view(w.params[i]));
  ContactPage page;
  int rc;
  while ((rc = s->Step()) == SQLITE_ROW) {
    OUTFLOW_ASSIGN_OR_RETURN(Contact c, ReadContact(*s));
    page.contacts.push_back(std::move(c));
  }
  s->Reset();
  if (rc != SQLITE_DONE) return reader->Error(rc, "list contacts");
  if (static_cast<int>(page.contacts.size()) > f.limit) {
    page.contacts.pop_back();
    page.next_after = page.contacts.back().id;
  }
  return page;
}

Result<int64_t> SqliteContactStore::Count(const ContactFilter& f) {
  Where w = BuildWhere(f);
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, reader->Prepare("SELECT count(*) FROM contacts WHERE id > ?1" + w.sql));
  s->Bind(1, f.after.value());
  for (size_t i = 0; i < w.params.size(); ++i) s->Bind(static_cast<int>(i) + 2, std::string_view(w.params[i]));
  int rc = s->Step();
  int64_t n = rc == SQLITE_ROW ? s->Int(0) : 0;
  s->Reset();
  if (rc != SQLITE_ROW) return reader->Error(rc, "count contacts");
  return n;
}

Result<std::vector<UpsertOutcome>> SqliteContactStore::UpsertBatch(std::span<const Contact> contacts,
                                                                   ExistingPolicy policy, Timestamp now) {
  auto writer = db_->Writer();
  Transaction tx(*writer);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("upsert contacts"));
  OUTFLOW_ASSIGN_OR_RETURN(auto out, sqlite::UpsertContactsOn(*writer, contacts, policy, now, *segments_));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("upsert contacts"));
  return out;
}

}  // namespace outflow
