#include "store/sqlite/sqlite_release_store.h"

#include "codec/windows_json.h"
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
    "SELECT id, name, per_slot, interval_seconds, ramp_percent, time_zone, windows, state, released_total, "
    "started_at, next_slot_at, created_at, updated_at FROM release_plans ";

Result<ReleasePlan> ReadPlan(const Stmt& s) {
  ReleasePlan p;
  p.id = ReleasePlanId(s.Int(0));
  p.name = std::string(s.Text(1));
  p.per_slot = s.Int(2);
  p.interval_seconds = s.Int(3);
  p.ramp_percent = sqlite3_column_double(const_cast<Stmt&>(s).raw(), 4);
  p.time_zone = std::string(s.Text(5));
  p.windows = DecodeWindowsColumn(s.Text(6));
  std::optional<ReleaseState> state = ParseReleaseState(s.Text(7));
  if (!state) {
    return Status::Corruption("release plan " + std::to_string(p.id.value()) + " has an unknown state '" +
                              std::string(s.Text(7)) + "'");
  }
  p.state = *state;
  p.released_total = s.Int(8);
  p.started_at = FromMicros(s.Int(9));
  p.next_slot_at = FromMicros(s.Int(10));
  p.created_at = FromMicros(s.Int(11));
  p.updated_at = FromMicros(s.Int(12));
  return p;
}

Result<ReleasePlan> GetOn(Connection& c, ReleasePlanId id) {
  static const std::string kSql = std::string(kSelect) + "WHERE id = ?1";
  return sqlite::ReadOneById<ReleasePlan>(c, kSql, id.value(), "release plan", ReadPlan);
}

// The slot job of a plan left active by a write, in the caller's transaction.
Status InsertSlotJob(Connection& c, const ReleasePlan& plan, const ReleaseStore::JobFn& slot_job, Timestamp now) {
  if (!slot_job || plan.state != ReleaseState::kActive) return Status::Ok();
  OUTFLOW_ASSIGN_OR_RETURN(JobSpec spec, slot_job(plan));
  return sqlite::InsertJobs(c, std::span(&spec, 1), now).status();
}

// " IN ('a','b')" for fixed state names (no user text).
std::string StateList(const std::vector<ReleaseState>& states) {
  std::string in = " IN (";
  for (size_t i = 0; i < states.size(); ++i) {
    in += (i ? ",'" : "'") + std::string(ReleaseStateName(states[i])) + "'";
  }
  return in + ")";
}

// The Conflict for a plan that did not change: NotFound if there is none.
Status NotChanged(Connection& c, ReleasePlanId id, std::string_view why) {
  OUTFLOW_ASSIGN_OR_RETURN(ReleasePlan p, GetOn(c, id));
  return Status::Conflict("release plan " + std::to_string(id.value()) + " is " +
                          std::string(ReleaseStateName(p.state)) + std::string(why));
}

// The slot's claim on the plan, the first statement of its transaction: moves the
// next slot on only if the plan is active and `slot` is still its next slot. One
// conditional UPDATE (a row lock where writers run concurrently): of two runs of
// one slot, exactly one gets past it.
Status ClaimSlot(Connection& c, ReleasePlanId id, Timestamp slot, Timestamp next_slot, Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("UPDATE release_plans SET next_slot_at = ?3, updated_at = ?4 "
                                                     "WHERE id = ?1 AND state = 'active' AND next_slot_at = ?2"));
  s->Bind(1, id.value());
  s->Bind(2, ToMicros(slot));
  s->Bind(3, ToMicros(next_slot));
  s->Bind(4, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "claim release slot"));
  if (c.Changes() == 1) return Status::Ok();
  return NotChanged(c, id, " or has moved past this slot");
}

}  // namespace

SqliteReleaseStore::SqliteReleaseStore(std::shared_ptr<sqlite::Database> db,
                                       std::shared_ptr<sqlite::DynamicSegments> segments)
    : db_(std::move(db)), segments_(std::move(segments)) {}
SqliteReleaseStore::~SqliteReleaseStore() = default;

Result<ReleasePlan> SqliteReleaseStore::Create(const ReleasePlan& p, const JobFn& slot_job, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("create release plan"));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * dup, c.Prepare("SELECT id FROM release_plans WHERE name = ?1"));
  dup->Bind(1, std::string_view(p.name));
  int rc = dup->Step();
  int64_t existing = rc == SQLITE_ROW ? dup->Int(0) : 0;
  dup->Reset();
  if (existing) {
    return Status::Conflict("name: a release plan named '" + p.name + "' exists (plan " + std::to_string(existing) +
                            ")");
  }
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s,
      c.Prepare("INSERT INTO release_plans(name, per_slot, interval_seconds, ramp_percent, time_zone, windows, state, "
                "started_at, next_slot_at, created_at, updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, 'active', ?7, ?8, "
                "?9, ?9)"));
  s->Bind(1, std::string_view(p.name));
  s->Bind(2, p.per_slot);
  s->Bind(3, p.interval_seconds);
  sqlite3_bind_double(s->raw(), 4, p.ramp_percent);
  s->Bind(5, std::string_view(p.time_zone));
  s->Bind(6, std::string_view(EncodeWindowsColumn(p.windows)));
  s->Bind(7, ToMicros(p.started_at));
  s->Bind(8, ToMicros(p.next_slot_at));
  s->Bind(9, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "create release plan"));
  OUTFLOW_ASSIGN_OR_RETURN(ReleasePlan out, GetOn(c, ReleasePlanId(c.LastInsertRowId())));
  OUTFLOW_RETURN_IF_ERROR(InsertSlotJob(c, out, slot_job, now));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("create release plan"));
  return out;
}

Result<ReleasePlan> SqliteReleaseStore::Get(ReleasePlanId id) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  return GetOn(*reader, id);
}

Result<std::vector<ReleasePlan>> SqliteReleaseStore::List() {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, reader->Prepare(std::string(kSelect) + "ORDER BY id"));
  return sqlite::ReadRows<ReleasePlan>(*reader, *s, "list release plans", ReadPlan);
}

Result<ReleasePlan> SqliteReleaseStore::SetState(ReleasePlanId id, std::vector<ReleaseState> from, ReleaseState to,
                                                 std::optional<Timestamp> next_slot, const JobFn& slot_job,
                                                 Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("change release plan"));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare("UPDATE release_plans SET state = ?2, next_slot_at = coalesce(?3, "
                                               "next_slot_at), updated_at = ?4 WHERE id = ?1 AND state" +
                                               (from.empty() ? std::string(" IS NULL") : StateList(from))));
  s->Bind(1, id.value());
  s->Bind(2, ReleaseStateName(to));
  if (next_slot) {
    s->Bind(3, ToMicros(*next_slot));
  } else {
    s->BindNull(3);
  }
  s->Bind(4, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "change release plan"));
  if (c.Changes() == 0) return NotChanged(c, id, "; it cannot become " + std::string(ReleaseStateName(to)));
  OUTFLOW_ASSIGN_OR_RETURN(ReleasePlan out, GetOn(c, id));
  OUTFLOW_RETURN_IF_ERROR(InsertSlotJob(c, out, slot_job, now));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("change release plan"));
  return out;
}

Result<ReleasePlan> SqliteReleaseStore::Update(const ReleasePlan& p, const NextSlotFn& next_slot, const JobFn& slot_job,
                                               Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("change release plan"));
  OUTFLOW_ASSIGN_OR_RETURN(ReleasePlan current, GetOn(c, p.id));
  if (current.state != ReleaseState::kActive && current.state != ReleaseState::kPaused) {
    return Status::Conflict("release plan " + std::to_string(p.id.value()) + " is " +
                            std::string(ReleaseStateName(current.state)) + "; only an active or paused plan changes");
  }
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s,
      c.Prepare("UPDATE release_plans SET per_slot = ?2, interval_seconds = ?3, ramp_percent = ?4, time_zone = ?5, "
                "windows = ?6, next_slot_at = ?7, updated_at = ?8 "
                "WHERE id = ?1 AND state = ?9 AND next_slot_at = ?10"));
  s->Bind(1, p.id.value());
  s->Bind(2, p.per_slot);
  s->Bind(3, p.interval_seconds);
  sqlite3_bind_double(s->raw(), 4, p.ramp_percent);
  s->Bind(5, std::string_view(p.time_zone));
  s->Bind(6, std::string_view(EncodeWindowsColumn(p.windows)));
  s->Bind(7, ToMicros(next_slot(current)));
  s->Bind(8, ToMicros(now));
  // Conditional on what was read: where writers run concurrently, a slot or a state
  // change that committed in between makes this Conflict instead of being undone.
  s->Bind(9, ReleaseStateName(current.state));
  s->Bind(10, ToMicros(current.next_slot_at));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "change release plan"));
  if (c.Changes() == 0) return NotChanged(c, p.id, " and changed meanwhile; try again");
  OUTFLOW_ASSIGN_OR_RETURN(ReleasePlan out, GetOn(c, p.id));
  OUTFLOW_RETURN_IF_ERROR(InsertSlotJob(c, out, slot_job, now));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("change release plan"));
  return out;
}

Status SqliteReleaseStore::Reschedule(ReleasePlanId id, Timestamp slot, Timestamp next_slot, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s,
      c.Prepare("UPDATE release_plans SET next_slot_at = ?3, updated_at = ?4 WHERE id = ?1 AND state = 'active' "
                "AND next_slot_at = ?2"));
  s->Bind(1, id.value());
  s->Bind(2, ToMicros(slot));
  s->Bind(3, ToMicros(next_slot));
  s->Bind(4, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "reschedule release"));
  if (c.Changes() == 0) return Status::Conflict("release plan " + std::to_string(id.value()) + " moved on");
  return Status::Ok();
}

Result<int64_t> SqliteReleaseStore::ReleaseSlot(ReleasePlanId id, Timestamp slot, int64_t limit, Timestamp next_slot,
                                                Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("release"));
  OUTFLOW_RETURN_IF_ERROR(ClaimSlot(c, id, slot, next_slot, now));
  // The oldest staged contacts, in import order.
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * sel, c.Prepare("SELECT " + std::string(sqlite::kContactColumns) +
                                                 " FROM contacts WHERE status = 'staged' ORDER BY id LIMIT ?1"));
  sel->Bind(1, limit);
  std::vector<Contact> batch;
  int rc;
  while ((rc = sel->Step()) == SQLITE_ROW) {
    Result<Contact> ct = sqlite::ReadContact(*sel);
    if (!ct.ok()) {
      sel->Reset();
      return ct.status();
    }
    batch.push_back(std::move(ct).value());
  }
  sel->Reset();
  if (rc != SQLITE_DONE) return c.Error(rc, "select staged contacts");
  sqlite::CountDeltas deltas;
  // Only a contact still staged goes live: two slots (of two plans) never release one twice.
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * live, c.PrepareStatic("UPDATE contacts SET status = 'live', updated_at = ?2 "
                                                        "WHERE id = ?1 AND status = 'staged'"));
  int64_t released = 0;
  for (Contact& ct : batch) {
    live->Bind(1, ct.id.value());
    live->Bind(2, ToMicros(now));
    OUTFLOW_RETURN_IF_ERROR(c.Run(*live, "release contact"));
    if (c.Changes() == 0) continue;
    ++released;
    ct.status = ContactStatus::kLive;
    ct.updated_at = now;
    OUTFLOW_RETURN_IF_ERROR(sqlite::ApplyStagedMemberships(c, ct.id, now, &deltas));
    OUTFLOW_RETURN_IF_ERROR(sqlite::SyncMemberships(c, *segments_, ct.id, ct, now, /*is_new=*/false, &deltas));
  }
  OUTFLOW_RETURN_IF_ERROR(sqlite::FlushCounts(c, deltas));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * log,
                           c.PrepareStatic("INSERT INTO release_log(plan_id, at, released) VALUES(?1, ?2, ?3)"));
  log->Bind(1, id.value());
  log->Bind(2, ToMicros(now));
  log->Bind(3, released);
  OUTFLOW_RETURN_IF_ERROR(c.Run(*log, "log release"));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * left,
                           c.PrepareStatic("SELECT EXISTS(SELECT 1 FROM contacts WHERE status = 'staged')"));
  rc = left->Step();
  bool more = rc == SQLITE_ROW && left->Int(0) != 0;
  left->Reset();
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * upd, c.PrepareStatic("UPDATE release_plans SET released_total = released_total + ?2, "
                                                       "state = ?3 WHERE id = ?1"));
  upd->Bind(1, id.value());
  upd->Bind(2, released);
  upd->Bind(3, std::string_view(more ? "active" : "completed"));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*upd, "advance release plan"));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("release"));
  return released;
}

Result<std::vector<ReleaseLogEntry>> SqliteReleaseStore::Log(ReleasePlanId id, int limit) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s, reader->Prepare(
                    "SELECT id, plan_id, at, released FROM release_log WHERE plan_id = ?1 ORDER BY id DESC LIMIT ?2"));
  s->Bind(1, id.value());
  s->Bind(2, limit);
  std::vector<ReleaseLogEntry> out;
  int rc;
  while ((rc = s->Step()) == SQLITE_ROW) {
    out.push_back({s->Int(0), ReleasePlanId(s->Int(1)), FromMicros(s->Int(2)), s->Int(3)});
  }
  s->Reset();
  if (rc != SQLITE_DONE) return reader->Error(rc, "release log");
  return out;
}

Result<int64_t> SqliteReleaseStore::StagedCount() {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, reader->Prepare("SELECT count(*) FROM contacts WHERE status = 'staged'"));
  int rc = s->Step();
  int64_t n = rc == SQLITE_ROW ? s->Int(0) : 0;
  s->Reset();
  if (rc != SQLITE_ROW) return reader->Error(rc, "count staged");
  return n;
}

}  // namespace outflow
