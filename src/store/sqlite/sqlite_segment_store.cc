#include "store/sqlite/sqlite_segment_store.h"

#include <algorithm>
#include <iterator>

#include "codec/filter_json.h"
#include "store/sqlite/contact_rows.h"
#include "store/sqlite/database.h"
#include "store/sqlite/segment_rows.h"

namespace outflow {

using sqlite::Connection;
using sqlite::Stmt;
using sqlite::Transaction;

namespace {

constexpr const char* kSelect =
    "SELECT id, name, kind, filter, member_count, created_at, updated_at FROM segments ";

Result<Segment> ReadSegment(const Stmt& s) {
  Segment seg;
  seg.id = SegmentId(s.Int(0));
  seg.name = std::string(s.Text(1));
  seg.kind = s.Text(2) == "dynamic" ? SegmentKind::kDynamic : SegmentKind::kStatic;
  if (!s.IsNull(3)) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(s.Text(3), ec);
    if (ec) return Status::Corruption("segment " + std::to_string(seg.id.value()) + " has an unreadable filter");
    OUTFLOW_ASSIGN_OR_RETURN(seg.filter, FilterFromJson(v));
  }
  seg.member_count = s.Int(4);
  seg.created_at = FromMicros(s.Int(5));
  seg.updated_at = FromMicros(s.Int(6));
  return seg;
}

Result<std::optional<Segment>> QueryOne(Connection& c, const std::string& where, auto bind) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare(std::string(kSelect) + where));
  bind(*s);
  int rc = s->Step();
  std::optional<Segment> out;
  if (rc == SQLITE_ROW) {
    Result<Segment> seg = ReadSegment(*s);
    if (!seg.ok()) {
      s->Reset();
      return seg.status();
    }
    out = std::move(seg).value();
  }
  s->Reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return c.Error(rc, "read segment");
  return out;
}

// The live contacts `filter` matches at `now`, ascending id: a scan of them all.
Result<std::vector<ContactId>> MatchingLiveContacts(Connection& c, const Filter& filter, Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * scan, c.Prepare("SELECT " + std::string(sqlite::kContactColumns) +
                                                  " FROM contacts WHERE status = 'live' ORDER BY id"));
  std::vector<ContactId> out;  // streamed: only the matching ids are kept
  int rc;
  while ((rc = scan->Step()) == SQLITE_ROW) {
    Result<Contact> contact = sqlite::ReadContact(*scan);
    if (!contact.ok()) {
      scan->Reset();
      return contact.status();
    }
    if (Matches(filter, *contact, now)) out.push_back(contact->id);
  }
  scan->Reset();
  if (rc != SQLITE_DONE) return c.Error(rc, "scan live contacts");
  return out;
}

Result<Segment> GetOn(Connection& c, SegmentId id) {
  OUTFLOW_ASSIGN_OR_RETURN(auto seg, QueryOne(c, "WHERE id = ?1", [&](Stmt& s) { s.Bind(1, id.value()); }));
  if (!seg) return Status::NotFound("segment " + std::to_string(id.value()) + " does not exist");
  return *seg;
}

}  // namespace

SqliteSegmentStore::SqliteSegmentStore(std::shared_ptr<sqlite::Database> db,
                                       std::shared_ptr<sqlite::DynamicSegments> segments)
    : db_(std::move(db)), segments_(std::move(segments)) {}
SqliteSegmentStore::~SqliteSegmentStore() = default;

Result<Segment> SqliteSegmentStore::Create(const Segment& segment, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("create segment"));
  OUTFLOW_ASSIGN_OR_RETURN(auto existing, QueryOne(c, "WHERE name = ?1", [&](Stmt& s) {
    s.Bind(1, std::string_view(segment.name));
  }));
  if (existing) {
    return Status::Conflict("name: a segment named '" + segment.name + "' exists (segment " +
                            std::to_string(existing->id.value()) + ")");
  }
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * ins, c.Prepare(
      "INSERT INTO segments(name, kind, filter, created_at, updated_at) VALUES(?1, ?2, ?3, ?4, ?4)"));
  ins->Bind(1, std::string_view(segment.name));
  ins->Bind(2, SegmentKindName(segment.kind));
  if (segment.filter) ins->Bind(3, std::string_view(boost::json::serialize(FilterToJson(*segment.filter))));
  else ins->BindNull(3);
  ins->Bind(4, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*ins, "create segment"));
  SegmentId id(c.LastInsertRowId());
  if (segment.kind == SegmentKind::kDynamic) {
    // Populate from every live contact, in this transaction.
    OUTFLOW_ASSIGN_OR_RETURN(std::vector<ContactId> members, MatchingLiveContacts(c, *segment.filter, now));
    sqlite::CountDeltas deltas;
    for (ContactId m : members) OUTFLOW_RETURN_IF_ERROR(sqlite::SetMember(c, id, m, true, now, &deltas).status());
    OUTFLOW_RETURN_IF_ERROR(sqlite::FlushCounts(c, deltas));
  }
  OUTFLOW_ASSIGN_OR_RETURN(Segment out, GetOn(c, id));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("create segment"));
  segments_->Invalidate();
  return out;
}

Result<Segment> SqliteSegmentStore::Get(SegmentId id) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  return GetOn(*reader, id);
}

Result<std::optional<Segment>> SqliteSegmentStore::FindByName(std::string_view name) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  return QueryOne(*reader, "WHERE name = ?1", [&](Stmt& s) { s.Bind(1, name); });
}

Result<std::vector<Segment>> SqliteSegmentStore::List() {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, reader->Prepare(std::string(kSelect) + "ORDER BY name"));
  return sqlite::ReadRows<Segment>(*reader, *s, "list segments", ReadSegment);
}

Status SqliteSegmentStore::Delete(SegmentId id) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare("DELETE FROM segments WHERE id = ?1"));  // members cascade
  s->Bind(1, id.value());
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "delete segment"));
  if (c.Changes() == 0) return Status::NotFound("segment " + std::to_string(id.value()) + " does not exist");
  segments_->Invalidate();
  return Status::Ok();
}

Result<MemberPage> SqliteSegmentStore::Members(SegmentId id, ContactId after, int limit) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_RETURN_IF_ERROR(GetOn(*reader, id).status());
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, reader->Prepare(
      "SELECT contact_id FROM segment_members WHERE segment_id = ?1 AND contact_id > ?2 ORDER BY contact_id LIMIT ?3"));
  s->Bind(1, id.value());
  s->Bind(2, after.value());
  s->Bind(3, limit + 1);
  MemberPage page;
  int rc;
  while ((rc = s->Step()) == SQLITE_ROW) page.contacts.push_back(ContactId(s->Int(0)));
  s->Reset();
  if (rc != SQLITE_DONE) return reader->Error(rc, "list members");
  if (static_cast<int>(page.contacts.size()) > limit) {
    page.contacts.pop_back();
    page.next_after = page.contacts.back();
  }
  return page;
}

namespace {

Result<int64_t> ChangeStaticMembers(sqlite::Database& db, SegmentId id, std::span<const ContactId> contacts, bool add,
                                    Timestamp now) {
  auto writer = db.Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("change members"));
  OUTFLOW_ASSIGN_OR_RETURN(Segment seg, GetOn(c, id));
  if (seg.kind != SegmentKind::kStatic) {
    return Status::Conflict("segment " + std::to_string(id.value()) +
                            " is dynamic: its members follow its filter and cannot be set by hand");
  }
  int64_t changed = 0;
  for (size_t i = 0; i < contacts.size(); ++i) {
    if (add) {
      OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("SELECT 1 FROM contacts WHERE id = ?1"));
      s->Bind(1, contacts[i].value());
      int rc = s->Step();
      s->Reset();
      if (rc == SQLITE_DONE) {
        return Status::NotFound("contact_ids[" + std::to_string(i) + "]: contact " +
                                std::to_string(contacts[i].value()) + " does not exist");
      }
      if (rc != SQLITE_ROW) return c.Error(rc, "find contact");
    }
    if (add) {
      OUTFLOW_ASSIGN_OR_RETURN(bool staged, sqlite::IsStaged(c, contacts[i]));
      if (staged) {  // not live yet: it joins when a release makes it live
        OUTFLOW_RETURN_IF_ERROR(sqlite::JoinStaticSegment(c, id, contacts[i], true, now));
        continue;
      }
    }
    OUTFLOW_ASSIGN_OR_RETURN(bool did, sqlite::SetMember(c, id, contacts[i], add, now));
    changed += did;
  }
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("change members"));
  return changed;
}

}  // namespace

Result<int64_t> SqliteSegmentStore::AddMembers(SegmentId id, std::span<const ContactId> contacts, Timestamp now) {
  return ChangeStaticMembers(*db_, id, contacts, true, now);
}

Result<int64_t> SqliteSegmentStore::RemoveMembers(SegmentId id, std::span<const ContactId> contacts, Timestamp now) {
  return ChangeStaticMembers(*db_, id, contacts, false, now);
}

Result<std::pair<int64_t, int64_t>> SqliteSegmentStore::Refresh(SegmentId id, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("refresh segment"));
  OUTFLOW_ASSIGN_OR_RETURN(Segment seg, GetOn(c, id));
  if (seg.kind != SegmentKind::kDynamic) return std::make_pair(int64_t{0}, int64_t{0});
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<ContactId> want, MatchingLiveContacts(c, *seg.filter, now));
  int rc;
  std::vector<ContactId> have;
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * m, c.Prepare("SELECT contact_id FROM segment_members WHERE segment_id = ?1 ORDER BY contact_id"));
  m->Bind(1, id.value());
  while ((rc = m->Step()) == SQLITE_ROW) have.push_back(ContactId(m->Int(0)));
  m->Reset();
  if (rc != SQLITE_DONE) return c.Error(rc, "refresh segment");
  std::vector<ContactId> joins, leaves;
  std::set_difference(want.begin(), want.end(), have.begin(), have.end(), std::back_inserter(joins));
  std::set_difference(have.begin(), have.end(), want.begin(), want.end(), std::back_inserter(leaves));
  sqlite::CountDeltas deltas;
  for (ContactId x : joins) OUTFLOW_RETURN_IF_ERROR(sqlite::SetMember(c, id, x, true, now, &deltas).status());
  for (ContactId x : leaves) OUTFLOW_RETURN_IF_ERROR(sqlite::SetMember(c, id, x, false, now, &deltas).status());
  OUTFLOW_RETURN_IF_ERROR(sqlite::FlushCounts(c, deltas));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("refresh segment"));
  return std::make_pair(static_cast<int64_t>(joins.size()), static_cast<int64_t>(leaves.size()));
}

Result<std::vector<SegmentId>> SqliteSegmentStore::SegmentsOf(ContactId contact) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, reader->Prepare(
      "SELECT segment_id FROM segment_members WHERE contact_id = ?1 ORDER BY segment_id"));
  s->Bind(1, contact.value());
  std::vector<SegmentId> out;
  int rc;
  while ((rc = s->Step()) == SQLITE_ROW) out.push_back(SegmentId(s->Int(0)));
  s->Reset();
  if (rc != SQLITE_DONE) return reader->Error(rc, "segments of contact");
  return out;
}

Result<std::vector<MembershipEvent>> SqliteSegmentStore::Events(int64_t after_id, int limit) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, reader->Prepare(
      "SELECT id, segment_id, contact_id, change, at FROM segment_events WHERE id > ?1 ORDER BY id LIMIT ?2"));
  s->Bind(1, after_id);
  s->Bind(2, limit);
  std::vector<MembershipEvent> out;
  int rc;
  while ((rc = s->Step()) == SQLITE_ROW) {
    out.push_back({s->Int(0), SegmentId(s->Int(1)), ContactId(s->Int(2)), s->Text(3) == "joined", FromMicros(s->Int(4))});
  }
  s->Reset();
  if (rc != SQLITE_DONE) return reader->Error(rc, "membership events");
  return out;
}

}  // namespace outflow
