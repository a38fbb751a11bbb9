#include "store/sqlite/segment_rows.h"

#include <algorithm>

#include "codec/filter_json.h"

namespace outflow::sqlite {

Result<std::shared_ptr<const std::vector<Segment>>> DynamicSegments::Get(Connection& c) {
  {
    std::lock_guard g(mu_);
    if (cached_) return cached_;
  }
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("SELECT id, name, filter FROM segments WHERE kind = 'dynamic'"));
  auto list = std::make_shared<std::vector<Segment>>();
  int rc;
  while ((rc = s->Step()) == SQLITE_ROW) {
    Segment seg;
    seg.id = SegmentId(s->Int(0));
    seg.name = std::string(s->Text(1));
    seg.kind = SegmentKind::kDynamic;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(s->Text(2), ec);
    Result<Filter> f = ec ? Result<Filter>(Status::Corruption("bad filter")) : FilterFromJson(v);
    if (!f.ok()) {
      s->Reset();
      return Status::Corruption("segment " + std::to_string(seg.id.value()) + " has an unreadable filter");
    }
    seg.filter = std::move(f).value();
    list->push_back(std::move(seg));
  }
  s->Reset();
  if (rc != SQLITE_DONE) return c.Error(rc, "load dynamic segments");
  std::lock_guard g(mu_);
  cached_ = list;
  return cached_;
}

void DynamicSegments::Invalidate() {
  std::lock_guard g(mu_);
  cached_.reset();
}

Status FlushCounts(Connection& c, CountDeltas& deltas) {
  for (const auto& [segment, delta] : deltas) {
    if (delta == 0) continue;
    OUTFLOW_ASSIGN_OR_RETURN(Stmt * cnt, c.PrepareStatic("UPDATE segments SET member_count = member_count + ?2 WHERE id = ?1"));
    cnt->Bind(1, segment);
    cnt->Bind(2, delta);
    OUTFLOW_RETURN_IF_ERROR(c.Run(*cnt, "count members"));
  }
  deltas.clear();
  return Status::Ok();
}

Result<bool> SetMember(Connection& c, SegmentId segment, ContactId contact, bool member, Timestamp now,
                       CountDeltas* deltas) {
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s, c.PrepareStatic(member ? "INSERT OR IGNORE INTO segment_members(segment_id, contact_id, joined_at) "
                                         "VALUES(?1, ?2, ?3)"
                                       : "DELETE FROM segment_members WHERE segment_id = ?1 AND contact_id = ?2"));
  s->Bind(1, segment.value());
  s->Bind(2, contact.value());
  if (member) s->Bind(3, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "set membership"));
  if (c.Changes() == 0) return false;
  if (deltas != nullptr) {
    (*deltas)[segment.value()] += member ? 1 : -1;
  } else {
    CountDeltas one{{segment.value(), member ? 1 : -1}};
    OUTFLOW_RETURN_IF_ERROR(FlushCounts(c, one));
  }
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * ev, c.PrepareStatic(
      "INSERT INTO segment_events(segment_id, contact_id, change, at) VALUES(?1, ?2, ?3, ?4)"));
  ev->Bind(1, segment.value());
  ev->Bind(2, contact.value());
  ev->Bind(3, std::string_view(member ? "joined" : "left"));
  ev->Bind(4, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*ev, "log membership"));
  return true;
}

Result<std::pair<std::optional<SegmentId>, bool>> EnsureStaticSegment(Connection& c, const std::string& name,
                                                                      Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("SELECT id, kind FROM segments WHERE name = ?1"));
  s->Bind(1, std::string_view(name));
  int rc = s->Step();
  if (rc == SQLITE_ROW) {
    SegmentId id(s->Int(0));
    bool is_static = s->Text(1) == "static";
    s->Reset();
    return std::make_pair(is_static ? std::optional<SegmentId>(id) : std::nullopt, true);
  }
  s->Reset();
  if (rc != SQLITE_DONE) return c.Error(rc, "find segment");
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * ins,
      c.PrepareStatic(
          "INSERT INTO segments(name, kind, created_at, updated_at, filled_at) VALUES(?1, 'static', ?2, ?2, ?2)"));
  ins->Bind(1, std::string_view(name));
  ins->Bind(2, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*ins, "create segment"));
  return std::make_pair(std::optional<SegmentId>(SegmentId(c.LastInsertRowId())), false);
}

Result<bool> IsStaged(Connection& c, ContactId contact) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("SELECT status FROM contacts WHERE id = ?1"));
  s->Bind(1, contact.value());
  int rc = s->Step();
  bool staged = rc == SQLITE_ROW && s->Text(0) == "staged";
  s->Reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return c.Error(rc, "contact status");
  return staged;
}

Status JoinStaticSegment(Connection& c, SegmentId segment, ContactId contact, bool staged, Timestamp now,
                         CountDeltas* deltas) {
  if (!staged) return SetMember(c, segment, contact, true, now, deltas).status();
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic(
      "INSERT OR IGNORE INTO staged_memberships(contact_id, segment_id) VALUES(?1, ?2)"));
  s->Bind(1, contact.value());
  s->Bind(2, segment.value());
  return c.Run(*s, "record staged membership");
}

namespace {

// "INSERT ... VALUES (?,?,?), ..." for `rows` rows of `per_row` parameters.
std::string MultiRowInsert(std::string_view head, int rows, std::string_view row) {
  std::string sql(head);
  for (int i = 0; i < rows; ++i) {
    sql += i == 0 ? " " : ", ";
    sql += row;
  }
  return sql;
}

}  // namespace

Status JoinNewContacts(Connection& c, std::span<const std::pair<SegmentId, ContactId>> joins, Timestamp now,
                               CountDeltas& deltas) {
  constexpr int kChunk = 64;
  constexpr std::string_view kMembersHead = "INSERT OR IGNORE INTO segment_members(segment_id, contact_id, joined_at) VALUES";
  constexpr std::string_view kMembersRow = "(?, ?, ?)";
  constexpr std::string_view kEventsHead = "INSERT INTO segment_events(segment_id, contact_id, change, at) VALUES";
  constexpr std::string_view kEventsRow = "(?, ?, 'joined', ?)";
  // Full chunks use statements cached by address; the one shorter tail per call is
  // cached by its text.
  static const std::string kMembers = MultiRowInsert(kMembersHead, kChunk, kMembersRow);
  static const std::string kEvents = MultiRowInsert(kEventsHead, kChunk, kEventsRow);
  for (size_t start = 0; start < joins.size(); start += kChunk) {
    const int n = static_cast<int>(std::min<size_t>(kChunk, joins.size() - start));
    OUTFLOW_ASSIGN_OR_RETURN(Stmt * m, n == kChunk ? c.PrepareStatic(kMembers.c_str())
                                                   : c.Prepare(MultiRowInsert(kMembersHead, n, kMembersRow)));
    OUTFLOW_ASSIGN_OR_RETURN(Stmt * e, n == kChunk ? c.PrepareStatic(kEvents.c_str())
                                                   : c.Prepare(MultiRowInsert(kEventsHead, n, kEventsRow)));
    for (int i = 0; i < n; ++i) {
      const auto& [segment, contact] = joins[start + static_cast<size_t>(i)];
      m->Bind(3 * i + 1, segment.value());
      m->Bind(3 * i + 2, contact.value());
      m->Bind(3 * i + 3, ToMicros(now));
      e->Bind(3 * i + 1, segment.value());
      e->Bind(3 * i + 2, contact.value());
      e->Bind(3 * i + 3, ToMicros(now));
      deltas[segment.value()] += 1;
    }
    OUTFLOW_RETURN_IF_ERROR(c.Run(*m, "set memberships"));
    if (c.Changes() != n) {
      // Not new after all (the REQUIRES was broken): the counts and the log would be wrong.
      return Status::Internal("bulk segment join: " + std::to_string(n - c.Changes()) +
                              " memberships existed already");
    }
    OUTFLOW_RETURN_IF_ERROR(c.Run(*e, "log memberships"));
  }
  return Status::Ok();
}

Status CollectNewMemberships(Connection& c, DynamicSegments& segments, ContactId id, const Contact& contact,
                             Timestamp now, std::vector<std::pair<SegmentId, ContactId>>& joins) {
  OUTFLOW_ASSIGN_OR_RETURN(auto dynamic, segments.Get(c));
  for (const Segment& seg : *dynamic) {
    if (Matches(*seg.filter, contact, now)) joins.emplace_back(seg.id, id);
  }
  return Status::Ok();
}

Status SyncMemberships(Connection& c, DynamicSegments& segments, ContactId id, const Contact& contact, Timestamp now,
                       bool is_new, CountDeltas* deltas) {
  OUTFLOW_ASSIGN_OR_RETURN(auto dynamic, segments.Get(c));
  if (dynamic->empty()) return Status::Ok();
  // Current memberships of this contact (static ones are left alone below).
  std::vector<int64_t> current;
  if (!is_new) {
    OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("SELECT segment_id FROM segment_members WHERE contact_id = ?1"));
    s->Bind(1, id.value());
    int rc;
    while ((rc = s->Step()) == SQLITE_ROW) current.push_back(s->Int(0));
    s->Reset();
    if (rc != SQLITE_DONE) return c.Error(rc, "read memberships");
  }
  for (const Segment& seg : *dynamic) {
    bool want = Matches(*seg.filter, contact, now);
    bool have = std::find(current.begin(), current.end(), seg.id.value()) != current.end();
    if (want != have) OUTFLOW_RETURN_IF_ERROR(SetMember(c, seg.id, id, want, now, deltas).status());
  }
  return Status::Ok();
}

Status RemoveFromAllSegments(Connection& c, ContactId id, Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("SELECT segment_id FROM segment_members WHERE contact_id = ?1"));
  s->Bind(1, id.value());
  std::vector<int64_t> current;
  int rc;
  while ((rc = s->Step()) == SQLITE_ROW) current.push_back(s->Int(0));
  s->Reset();
  if (rc != SQLITE_DONE) return c.Error(rc, "read memberships");
  for (int64_t seg : current) OUTFLOW_RETURN_IF_ERROR(SetMember(c, SegmentId(seg), id, false, now).status());
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * del, c.PrepareStatic("DELETE FROM staged_memberships WHERE contact_id = ?1"));
  del->Bind(1, id.value());
  return c.Run(*del, "forget staged memberships");
}

Status ApplyStagedMemberships(Connection& c, ContactId id, Timestamp now, CountDeltas* deltas) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("SELECT segment_id FROM staged_memberships WHERE contact_id = ?1"));
  s->Bind(1, id.value());
  std::vector<int64_t> segments;
  int rc;
  while ((rc = s->Step()) == SQLITE_ROW) segments.push_back(s->Int(0));
  s->Reset();
  if (rc != SQLITE_DONE) return c.Error(rc, "read staged memberships");
  for (int64_t seg : segments) OUTFLOW_RETURN_IF_ERROR(SetMember(c, SegmentId(seg), id, true, now, deltas).status());
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * del, c.PrepareStatic("DELETE FROM staged_memberships WHERE contact_id = ?1"));
  del->Bind(1, id.value());
  return c.Run(*del, "apply staged memberships");
}

}  // namespace outflow::sqlite
