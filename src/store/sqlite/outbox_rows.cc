#include "store/sqlite/outbox_rows.h"

#include <map>

namespace outflow::sqlite {

Result<Message> ReadMessage(const Stmt& s) {
  Message m;
  m.id = MessageId(s.Int(0));
  m.account = AccountId(s.Int(1));
  m.contact = ContactId(s.Int(2));
  m.template_id = TemplateId(s.Int(3));
  m.variables_json = std::string(s.Text(4));
  m.address = std::string(s.Text(5));
  std::optional<SourceKind> kind = ParseSourceKind(s.Text(6));
  std::optional<MessageState> state = ParseMessageState(s.Text(11));
  if (!kind || !state) {
    return Status::Corruption("message " + std::to_string(m.id.value()) + ": unknown source kind '" +
                              std::string(s.Text(6)) + "' or state '" + std::string(s.Text(11)) + "'");
  }
  m.source = {*kind, s.Int(7)};
  m.step = s.Int(8);
  m.priority = static_cast<int>(s.Int(9));
  m.send_at = FromMicros(s.Int(10));
  m.state = *state;
  m.attempts = static_cast<int>(s.Int(12));
  m.max_attempts = static_cast<int>(s.Int(13));
  m.provider_id = std::string(s.Text(14));
  m.reason = std::string(s.Text(15));
  m.client_key = std::string(s.Text(16));
  m.created_at = FromMicros(s.Int(17));
  m.updated_at = FromMicros(s.Int(18));
  if (!s.IsNull(19)) m.last_attempt_at = FromMicros(s.Int(19));
  if (!s.IsNull(20)) m.sent_at = FromMicros(s.Int(20));
  return m;
}

Result<int64_t> AddSourceCounts(Connection& c, AccountId account, SourceRef source, int priority, const SourceDelta& d,
                                Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s,
      c.PrepareStatic(
          "INSERT INTO message_sources(account_id, kind, source_id, priority, state, total, pending, sent, failed, "
          "skipped, cancelled, updated_at) VALUES(?1, ?2, ?3, ?4, 'active', ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
          "ON CONFLICT(account_id, kind, source_id) DO UPDATE SET total = total + excluded.total, "
          "pending = pending + excluded.pending, sent = sent + excluded.sent, failed = failed + excluded.failed, "
          "skipped = skipped + excluded.skipped, cancelled = cancelled + excluded.cancelled, "
          "updated_at = excluded.updated_at RETURNING pending"));
  s->Bind(1, account.value());
  s->Bind(2, SourceKindName(source.kind));
  s->Bind(3, source.id);
  s->Bind(4, priority);
  s->Bind(5, d.total);
  s->Bind(6, d.pending);
  s->Bind(7, d.sent);
  s->Bind(8, d.failed);
  s->Bind(9, d.skipped);
  s->Bind(10, d.cancelled);
  s->Bind(11, ToMicros(now));
  int rc = s->Step();
  int64_t pending = rc == SQLITE_ROW ? s->Int(0) : 0;
  while (rc == SQLITE_ROW) rc = s->Step();
  s->Reset();
  if (rc != SQLITE_DONE) return c.Error(rc, "count source messages");
  return pending;
}

Result<MessageCounts> SourceCounts(Connection& c, SourceRef source) {
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s,
      c.PrepareStatic("SELECT coalesce(sum(total), 0), coalesce(sum(pending), 0), coalesce(sum(sent), 0), "
                      "coalesce(sum(failed), 0), coalesce(sum(skipped), 0), coalesce(sum(cancelled), 0), "
                      "coalesce(sum(delivered), 0), coalesce(sum(opened), 0), coalesce(sum(clicked), 0), "
                      "coalesce(sum(bounced), 0), coalesce(sum(complained), 0), "
                      "coalesce(sum(unsubscribed), 0) FROM message_sources WHERE kind = ?1 AND source_id = ?2"));
  s->Bind(1, SourceKindName(source.kind));
  s->Bind(2, source.id);
  int rc = s->Step();
  MessageCounts out;
  if (rc == SQLITE_ROW) {
    out = {s->Int(0), s->Int(1), s->Int(2), s->Int(3), s->Int(4), s->Int(5), {}};
    out.engagement = {s->Int(6), s->Int(7), s->Int(8), s->Int(9), s->Int(10), s->Int(11)};
  }
  s->Reset();
  if (rc != SQLITE_ROW) return c.Error(rc, "read source counts");
  return out;
}

Result<std::optional<std::string>> SuppressedReason(Connection& c, std::string_view address) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("SELECT reason FROM suppressions WHERE address = ?1"));
  s->Bind(1, address);
  int rc = s->Step();
  std::optional<std::string> out;
  if (rc == SQLITE_ROW) out = "suppressed: " + std::string(s->Text(0));
  s->Reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return c.Error(rc, "read suppression");
  return out;
}

namespace {

// Skips what `s` (an UPDATE ... RETURNING account_id, source_kind, source_id, priority)
// changes, collecting the counts per source into `per_source`.
using PerSource = std::map<std::tuple<int64_t, std::string, int64_t>, std::pair<int, int64_t>>;
Status CollectSkips(Connection& c, Stmt& s, PerSource& per_source) {
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    auto& [priority, n] = per_source[{s.Int(0), std::string(s.Text(1)), s.Int(2)}];
    priority = static_cast<int>(s.Int(3));
    ++n;
  }
  s.Reset();
  if (rc != SQLITE_DONE) return c.Error(rc, "skip a contact's messages");
  return Status::Ok();
}

}  // namespace

Result<int64_t> SkipContactMessages(Connection& c, ContactId contact, const std::string& reason, Timestamp now,
                                    std::string_view address) {
  PerSource per_source;
  // Messages of every source but campaigns, through messages_by_contact.
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s, c.PrepareStatic(
                    "UPDATE messages SET state = 'skipped', reason = ?2, updated_at = ?3 "
                    "WHERE contact_id = ?1 AND source_kind <> 'campaign' AND (state = 'queued' OR state = 'deferred') "
                    "AND (?4 = '' OR address = ?4) RETURNING account_id, source_kind, source_id, priority"));
  s->Bind(1, contact.value());
  s->Bind(2, std::string_view(reason));
  s->Bind(3, ToMicros(now));
  s->Bind(4, address.empty() ? std::string_view("") : address);
  OUTFLOW_RETURN_IF_ERROR(CollectSkips(c, *s, per_source));
  // Campaign messages: one look-up per campaign with messages pending.
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * camp,
      c.PrepareStatic(
          "UPDATE messages SET state = 'skipped', reason = ?2, updated_at = ?3 WHERE source_kind = 'campaign' "
          "AND source_id IN (SELECT source_id FROM message_sources WHERE kind = 'campaign' AND pending > 0) "
          "AND contact_id = ?1 AND step = 0 AND (state = 'queued' OR state = 'deferred') "
          "AND (?4 = '' OR address = ?4) RETURNING account_id, source_kind, source_id, priority"));
  camp->Bind(1, contact.value());
  camp->Bind(2, std::string_view(reason));
  camp->Bind(3, ToMicros(now));
  camp->Bind(4, address.empty() ? std::string_view("") : address);
  OUTFLOW_RETURN_IF_ERROR(CollectSkips(c, *camp, per_source));
  int64_t total = 0;
  for (const auto& [key, value] : per_source) {
    const auto& [account, kind, id] = key;
    std::optional<SourceKind> k = ParseSourceKind(kind);
    if (!k) return Status::Corruption("a message has an unknown source kind '" + kind + "'");
    SourceDelta d;
    d.pending = -value.second;
    d.skipped = value.second;
    OUTFLOW_RETURN_IF_ERROR(AddSourceCounts(c, AccountId(account), {*k, id}, value.first, d, now).status());
    total += value.second;
  }
  return total;
}

Status SetSourceStateOn(Connection& c, SourceRef source, SourceState state, Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s,
      c.PrepareStatic("UPDATE message_sources SET state = ?3, updated_at = ?4 WHERE kind = ?1 AND source_id = ?2 "
                      "AND state <> 'cancelled'"));
  s->Bind(1, SourceKindName(source.kind));
  s->Bind(2, source.id);
  s->Bind(3, SourceStateName(state));
  s->Bind(4, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "set source state"));
  if (state != SourceState::kCancelled) return Status::Ok();
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * m,
      c.PrepareStatic("UPDATE messages INDEXED BY messages_by_source SET state = 'cancelled', updated_at = ?3 "
                      "WHERE source_kind = ?1 AND source_id = ?2 AND (state = 'queued' OR state = 'deferred')"));
  m->Bind(1, SourceKindName(source.kind));
  m->Bind(2, source.id);
  m->Bind(3, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*m, "cancel queued messages"));
  const int64_t n = c.Changes();
  if (n == 0) return Status::Ok();
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * r, c.PrepareStatic("UPDATE message_sources SET pending = pending - ?3, cancelled = "
                                                     "cancelled + ?3 WHERE kind = ?1 AND source_id = ?2"));
  r->Bind(1, SourceKindName(source.kind));
  r->Bind(2, source.id);
  r->Bind(3, n);
  return c.Run(*r, "count cancelled messages");
}

Result<int64_t> RetrySourceFailed(Connection& c, SourceRef source, Timestamp now) {
  // Messages that failed for want of an address stay failed: a retry cannot help them.
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s,
      c.PrepareStatic(
          "UPDATE messages INDEXED BY messages_by_source SET state = 'queued', attempts = 0, send_at = ?3, reason = "
          "NULL, "
          "updated_at = ?3 WHERE source_kind = ?1 AND source_id = ?2 AND state = 'failed' AND address <> ''"));
  s->Bind(1, SourceKindName(source.kind));
  s->Bind(2, source.id);
  s->Bind(3, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "retry failed messages"));
  const int64_t n = c.Changes();
  if (n == 0) return n;
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * r, c.PrepareStatic("UPDATE message_sources SET pending = pending + ?3, failed = "
                                                     "failed - ?3 WHERE kind = ?1 AND source_id = ?2"));
  r->Bind(1, SourceKindName(source.kind));
  r->Bind(2, source.id);
  r->Bind(3, n);
  OUTFLOW_RETURN_IF_ERROR(c.Run(*r, "count retried messages"));
  return n;
}

}  // namespace outflow::sqlite
