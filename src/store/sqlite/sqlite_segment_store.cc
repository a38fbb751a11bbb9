#include "store/sqlite/sqlite_segment_store.h"

#include <algorithm>
#include <iterator>
#include <limits>

#include "codec/filter_json.h"
#include "store/sqlite/contact_rows.h"
#include "store/sqlite/database.h"
#include "store/sqlite/job_rows.h"
#include "store/sqlite/segment_rows.h"

namespace outflow {

using sqlite::Connection;
using sqlite::Stmt;
using sqlite::Transaction;

namespace {

constexpr const char* kSelect =
    "SELECT id, name, kind, filter, member_count, created_at, updated_at, fill_cursor, filled_at FROM segments ";

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
  seg.filling = seg.kind == SegmentKind::kDynamic && s.IsNull(8);
  seg.refreshing = !seg.filling && !s.IsNull(7);
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

Result<Segment> GetOn(Connection& c, SegmentId id) {
  OUTFLOW_ASSIGN_OR_RETURN(auto seg, QueryOne(c, "WHERE id = ?1", [&](Stmt& s) { s.Bind(1, id.value()); }));
  if (!seg) return Status::NotFound("segment " + std::to_string(id.value()) + " does not exist");
  return *seg;
}

// One chunk of a pass: the live contacts in the next id range, matched against the filter.
struct ChunkScan {
  std::vector<ContactId> want;  // ascending
  int64_t hi = 0;               // the range is (cursor, hi]
  bool last = false;            // the range runs to the end of the contacts
};

Result<ChunkScan> ScanChunk(Connection& c, const Filter& filter, int64_t cursor, int limit, Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * scan, c.Prepare("SELECT " + std::string(sqlite::kContactColumns) +
                                                  " FROM contacts WHERE id > ?1 AND status = 'live' ORDER BY id "
                                                  "LIMIT ?2"));
  scan->Bind(1, cursor);
  scan->Bind(2, limit);
  ChunkScan out;
  int rows = 0;
  int rc;
  while ((rc = scan->Step()) == SQLITE_ROW) {
    Result<Contact> contact = sqlite::ReadContact(*scan);
    if (!contact.ok()) {
      scan->Reset();
      return contact.status();
    }
    ++rows;
    out.hi = contact->id.value();
    if (Matches(filter, *contact, now)) out.want.push_back(contact->id);
  }
  scan->Reset();
  if (rc != SQLITE_DONE) return c.Error(rc, "scan live contacts");
  out.last = rows < limit;
  if (out.last) out.hi = std::numeric_limits<int64_t>::max();
  return out;
}

Result<std::vector<ContactId>> MembersIn(Connection& c, SegmentId id, int64_t lo, int64_t hi) {
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * m,
      c.PrepareStatic(
          "SELECT contact_id FROM segment_members WHERE segment_id = ?1 AND contact_id > ?2 AND contact_id <= ?3 "
          "ORDER BY contact_id"));
  m->Bind(1, id.value());
  m->Bind(2, lo);
  m->Bind(3, hi);
  return sqlite::ReadRows<ContactId>(c, *m, "read members",
                                     [](const Stmt& r) -> Result<ContactId> { return ContactId(r.Int(0)); });
}

// Runs the chunk after `cursor` and commits its progress to the segment row.
Result<FillProgress> RunChunk(Connection& c, const Segment& seg, int64_t cursor, int limit, Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(ChunkScan scan, ScanChunk(c, *seg.filter, cursor, limit, now));
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<ContactId> have, MembersIn(c, seg.id, cursor, scan.hi));
  std::vector<ContactId> joins, leaves;
  std::set_difference(scan.want.begin(), scan.want.end(), have.begin(), have.end(), std::back_inserter(joins));
  std::set_difference(have.begin(), have.end(), scan.want.begin(), scan.want.end(), std::back_inserter(leaves));
  sqlite::CountDeltas deltas;
  for (ContactId x : joins) OUTFLOW_RETURN_IF_ERROR(sqlite::SetMember(c, seg.id, x, true, now, &deltas).status());
  for (ContactId x : leaves) OUTFLOW_RETURN_IF_ERROR(sqlite::SetMember(c, seg.id, x, false, now, &deltas).status());
  OUTFLOW_RETURN_IF_ERROR(sqlite::FlushCounts(c, deltas));
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * u,
      c.PrepareStatic(
          "UPDATE segments SET fill_cursor = ?2, filled_at = CASE WHEN ?2 IS NULL THEN coalesce(filled_at, ?3) "
          "ELSE filled_at END WHERE id = ?1"));
  u->Bind(1, seg.id.value());
  if (scan.last)
    u->BindNull(2);
  else
    u->Bind(2, scan.hi);
  u->Bind(3, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*u, "record fill progress"));
  return FillProgress{static_cast<int64_t>(joins.size()), static_cast<int64_t>(leaves.size()), scan.last};
}

// The pass's cursor (nullopt: no pass pending).
Result<std::optional<int64_t>> PassCursor(Connection& c, SegmentId id) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("SELECT fill_cursor FROM segments WHERE id = ?1"));
  s->Bind(1, id.value());
  const int rc = s->Step();
  std::optional<int64_t> cursor = rc == SQLITE_ROW ? s->OptInt(0) : std::nullopt;
  s->Reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return c.Error(rc, "read fill cursor");
  return cursor;
}

// The next chunk of the pending pass, if any; inserts the fill job when the pass goes on.
Result<FillProgress> ContinuePass(Connection& c, const Segment& seg, int limit, Timestamp now,
                                  const SegmentJobs& jobs) {
  if (seg.kind != SegmentKind::kDynamic) return FillProgress{};
  OUTFLOW_ASSIGN_OR_RETURN(std::optional<int64_t> cursor, PassCursor(c, seg.id));
  if (!cursor) return FillProgress{};
  OUTFLOW_ASSIGN_OR_RETURN(FillProgress p, RunChunk(c, seg, *cursor, limit, now));
  if (!p.done && jobs.fill) OUTFLOW_RETURN_IF_ERROR(sqlite::InsertJobs(c, std::span(&*jobs.fill, 1), now).status());
  return p;
}

Status InsertRefreshJob(Connection& c, const SegmentJobs& jobs, Timestamp now) {
  if (!jobs.refresh) return Status::Ok();
  return sqlite::InsertJobs(c, std::span(&*jobs.refresh, 1), now).status();
}

}  // namespace

SqliteSegmentStore::SqliteSegmentStore(std::shared_ptr<sqlite::Database> db,
                                       std::shared_ptr<sqlite::DynamicSegments> segments)
    : db_(std::move(db)),
      fill_batch_(db_->options().segment_fill_chunk / 10, db_->options().segment_fill_chunk,
                  db_->options().segment_fill_chunk, db_->options().chunk_hold),
      segments_(std::move(segments)) {}
SqliteSegmentStore::~SqliteSegmentStore() = default;

Result<Segment> SqliteSegmentStore::Create(const Segment& segment, Timestamp now, const SegmentJobsFn& jobs_for) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("create segment"));
  OUTFLOW_ASSIGN_OR_RETURN(auto existing,
                           QueryOne(c, "WHERE name = ?1", [&](Stmt& s) { s.Bind(1, std::string_view(segment.name)); }));
  if (existing) {
    return Status::Conflict("name: a segment named '" + segment.name + "' exists (segment " +
                            std::to_string(existing->id.value()) + ")");
  }
  // A dynamic segment starts its first pass at cursor 0; a static one is ready.
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * ins,
      c.Prepare(
          "INSERT INTO segments(name, kind, filter, created_at, updated_at, fill_cursor, filled_at) "
          "VALUES(?1, ?2, ?3, ?4, ?4, CASE WHEN ?2 = 'dynamic' THEN 0 END, CASE WHEN ?2 = 'static' THEN ?4 END)"));
  ins->Bind(1, std::string_view(segment.name));
  ins->Bind(2, SegmentKindName(segment.kind));
  if (segment.filter)
    ins->Bind(3, std::string_view(boost::json::serialize(FilterToJson(*segment.filter))));
  else
    ins->BindNull(3);
  ins->Bind(4, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*ins, "create segment"));
  OUTFLOW_ASSIGN_OR_RETURN(Segment created, GetOn(c, SegmentId(c.LastInsertRowId())));
  const SegmentJobs jobs = jobs_for ? jobs_for(created) : SegmentJobs{};
  OUTFLOW_RETURN_IF_ERROR(ContinuePass(c, created, fill_batch_.size(), now, jobs).status());
  OUTFLOW_RETURN_IF_ERROR(InsertRefreshJob(c, jobs, now));
  OUTFLOW_ASSIGN_OR_RETURN(Segment out, GetOn(c, created.id));
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
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, reader->Prepare("SELECT contact_id FROM segment_members WHERE segment_id = ?1 AND "
                                                     "contact_id > ?2 ORDER BY contact_id LIMIT ?3"));
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

Result<FillProgress> SqliteSegmentStore::Refresh(SegmentId id, Timestamp now, const SegmentJobsFn& jobs_for) {
  auto writer = db_->PoliteWriter();  // one step of a long job: waiting writers first
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("refresh segment"));
  OUTFLOW_ASSIGN_OR_RETURN(Segment seg, GetOn(c, id));
  if (seg.kind != SegmentKind::kDynamic) return FillProgress{};
  // From the first contact, also when a pass is under way: the contacts it did were
  // evaluated at an earlier time.
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * start, c.PrepareStatic("UPDATE segments SET fill_cursor = 0 WHERE id = ?1"));
  start->Bind(1, id.value());
  OUTFLOW_RETURN_IF_ERROR(c.Run(*start, "start a refresh"));
  const SegmentJobs jobs = jobs_for ? jobs_for(seg) : SegmentJobs{};
  OUTFLOW_ASSIGN_OR_RETURN(FillProgress p, ContinuePass(c, seg, fill_batch_.size(), now, jobs));
  OUTFLOW_RETURN_IF_ERROR(InsertRefreshJob(c, jobs, now));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("refresh segment"));
  return p;
}

Result<FillProgress> SqliteSegmentStore::FillChunk(SegmentId id, Timestamp now) {
  auto writer = db_->PoliteWriter();  // one step of a long job: waiting writers first
  const auto t0 = std::chrono::steady_clock::now();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("fill segment"));
  OUTFLOW_ASSIGN_OR_RETURN(Segment seg, GetOn(c, id));
  OUTFLOW_ASSIGN_OR_RETURN(FillProgress p, ContinuePass(c, seg, fill_batch_.size(), now, {}));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("fill segment"));
  fill_batch_.Observe(std::chrono::steady_clock::now() - t0);
  return p;
}

Result<std::vector<SegmentId>> SqliteSegmentStore::SegmentsOf(ContactId contact) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s, reader->Prepare("SELECT segment_id FROM segment_members WHERE contact_id = ?1 ORDER BY segment_id"));
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
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s,
      reader->Prepare(
          "SELECT id, segment_id, contact_id, change, at FROM segment_events WHERE id > ?1 ORDER BY id LIMIT ?2"));
  s->Bind(1, after_id);
  s->Bind(2, limit);
  std::vector<MembershipEvent> out;
  int rc;
  while ((rc = s->Step()) == SQLITE_ROW) {
    out.push_back(
        {s->Int(0), SegmentId(s->Int(1)), ContactId(s->Int(2)), s->Text(3) == "joined", FromMicros(s->Int(4))});
  }
  s->Reset();
  if (rc != SQLITE_DONE) return reader->Error(rc, "membership events");
  return out;
}

}  // namespace outflow
