// SqliteOutboxStore's tracking half: recorded message events, engagement counts and
// suppressed addresses (store/outbox_store.h, migration 10).
#include "store/sqlite/database.h"
#include "store/sqlite/outbox_rows.h"
#include "store/sqlite/sqlite_outbox_store.h"

namespace outflow {

using sqlite::Connection;
using sqlite::Stmt;
using sqlite::Transaction;

namespace {

struct EventTarget {
  AccountId account;
  ContactId contact;
  SourceRef source;
  std::string address;
};

Result<EventTarget> ReadTarget(Connection& c, MessageId id) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("SELECT account_id, contact_id, source_kind, source_id, address "
                                                     "FROM messages WHERE id = ?1"));
  s->Bind(1, id.value());
  int rc = s->Step();
  EventTarget t;
  std::optional<SourceKind> kind;
  if (rc == SQLITE_ROW) {
    t.account = AccountId(s->Int(0));
    t.contact = ContactId(s->Int(1));
    kind = ParseSourceKind(s->Text(2));
    t.source = {kind.value_or(SourceKind::kTransactional), s->Int(3)};
    t.address = std::string(s->Text(4));
  }
  s->Reset();
  if (rc == SQLITE_DONE) return Status::NotFound("message " + std::to_string(id.value()) + " does not exist");
  if (rc != SQLITE_ROW) return c.Error(rc, "read message");
  if (!kind) return Status::Corruption("message " + std::to_string(id.value()) + " has an unknown source kind");
  return t;
}

Status InsertEvent(Connection& c, MessageId id, MessageEventKind kind, Timestamp at, std::string_view detail) {
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s, c.PrepareStatic("INSERT INTO message_events(message_id, kind, at, detail) VALUES(?1, ?2, ?3, ?4)"));
  s->Bind(1, id.value());
  s->Bind(2, MessageEventName(kind));
  s->Bind(3, ToMicros(at));
  if (detail.empty())
    s->BindNull(4);
  else
    s->Bind(4, detail);
  return c.Run(*s, "record a message event");
}

// Marks the message's first event of `kind` and counts it in its source; false when
// the message had one already. One conditional update: safe with several writers.
Result<bool> CountFirst(Connection& c, MessageId id, const EventTarget& t, MessageEventKind kind, Timestamp at) {
  // A recorded kind's name is its row column's stem (<kind>_at) and its counts column.
  const std::string col(MessageEventName(kind));
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s, c.Prepare("UPDATE messages SET " + col + "_at = ?2 WHERE id = ?1 AND " + col + "_at IS NULL"));
  s->Bind(1, id.value());
  s->Bind(2, ToMicros(at));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "mark a message event"));
  if (c.Changes() == 0) return false;
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * u, c.Prepare("UPDATE message_sources SET " + col + " = " + col +
                                               " + 1 WHERE account_id = ?1 AND kind = ?2 AND source_id = ?3"));
  u->Bind(1, t.account.value());
  u->Bind(2, SourceKindName(t.source.kind));
  u->Bind(3, t.source.id);
  OUTFLOW_RETURN_IF_ERROR(c.Run(*u, "count a message event"));
  return true;
}

// A permanent bounce or a complaint: the address is never sent to again, and the
// contact's queued messages to it are skipped now (others' at their claim).
Status Suppress(Connection& c, const TrackingEvent& e, const EventTarget& t) {
  if (t.address.empty()) return Status::Ok();
  std::string reason(MessageEventName(e.kind));
  if (!e.detail.empty()) reason += ": " + e.detail.substr(0, 500);
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s, c.PrepareStatic("INSERT INTO suppressions(address, reason, message_id, at) VALUES(?1, ?2, ?3, ?4) "
                                "ON CONFLICT DO NOTHING"));
  s->Bind(1, std::string_view(t.address));
  s->Bind(2, std::string_view(reason));
  s->Bind(3, e.message.value());
  s->Bind(4, ToMicros(e.at));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "suppress an address"));
  return sqlite::SkipContactMessages(c, t.contact, "suppressed: " + reason, e.at, t.address).status();
}

Status Unsubscribe(Connection& c, const EventTarget& t, Timestamp at) {
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s, c.PrepareStatic("UPDATE contacts SET unsubscribed_at = coalesce(unsubscribed_at, ?2) WHERE id = ?1"));
  s->Bind(1, t.contact.value());
  s->Bind(2, ToMicros(at));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "unsubscribe a contact"));
  return sqlite::SkipContactMessages(c, t.contact, "unsubscribed", at).status();
}

Result<bool> RecordOn(Connection& c, const TrackingEvent& e) {
  OUTFLOW_ASSIGN_OR_RETURN(EventTarget t, ReadTarget(c, e.message));
  OUTFLOW_RETURN_IF_ERROR(InsertEvent(c, e.message, e.kind, e.at, e.detail));
  OUTFLOW_ASSIGN_OR_RETURN(bool first, CountFirst(c, e.message, t, e.kind, e.at));
  if (e.kind == MessageEventKind::kClicked) {
    // Images off: a click is the first sign the message was opened.
    OUTFLOW_ASSIGN_OR_RETURN(bool opened, CountFirst(c, e.message, t, MessageEventKind::kOpened, e.at));
    if (opened) OUTFLOW_RETURN_IF_ERROR(InsertEvent(c, e.message, MessageEventKind::kOpened, e.at, "by a click"));
  }
  if ((e.kind == MessageEventKind::kBounced && e.permanent) || e.kind == MessageEventKind::kComplained) {
    OUTFLOW_RETURN_IF_ERROR(Suppress(c, e, t));
  }
  if (e.kind == MessageEventKind::kUnsubscribed) OUTFLOW_RETURN_IF_ERROR(Unsubscribe(c, t, e.at));
  return first;
}

}  // namespace

Result<bool> SqliteOutboxStore::RecordEvent(const TrackingEvent& e) {
  if (!IsRecordedEvent(e.kind)) {
    return Status::InvalidArgument("event: '" + std::string(MessageEventName(e.kind)) +
                                   "' is not recorded (it comes from the message's own state)");
  }
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("record a message event"));
  OUTFLOW_ASSIGN_OR_RETURN(bool first, RecordOn(c, e));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("record a message event"));
  return first;
}

Result<std::vector<MessageEvent>> SqliteOutboxStore::Events(MessageId id) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s, reader->PrepareStatic("SELECT kind, at, detail FROM message_events WHERE message_id = ?1 ORDER BY id"));
  s->Bind(1, id.value());
  return sqlite::ReadRows<MessageEvent>(*reader, *s, "read message events", [](const Stmt& r) -> Result<MessageEvent> {
    std::optional<MessageEventKind> k = ParseMessageEventKind(r.Text(0));
    if (!k) return Status::Corruption("a message event has an unknown kind '" + std::string(r.Text(0)) + "'");
    return MessageEvent{*k, FromMicros(r.Int(1)), std::string(r.Text(2))};
  });
}

Result<std::optional<Message>> SqliteOutboxStore::FindByProviderId(AccountId account, std::string_view provider_id) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  static const std::string kSql = "SELECT " + std::string(sqlite::kMessageColumns) +
                                  " FROM messages INDEXED BY messages_by_provider WHERE account_id = ?1 AND "
                                  "provider_id = ?2 ORDER BY id LIMIT 1";
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, reader->Prepare(kSql));
  s->Bind(1, account.value());
  s->Bind(2, provider_id);
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<Message> found,
                           sqlite::ReadRows<Message>(*reader, *s, "find a message", sqlite::ReadMessage));
  if (found.empty()) return std::optional<Message>();
  return std::optional<Message>(std::move(found.front()));
}

Result<std::vector<Suppression>> SqliteOutboxStore::Suppressions(std::string_view after, int limit) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, reader->PrepareStatic("SELECT address, reason, message_id, at FROM suppressions "
                                                           "WHERE address > ?1 ORDER BY address LIMIT ?2"));
  s->Bind(1, after);
  s->Bind(2, limit);
  return sqlite::ReadRows<Suppression>(*reader, *s, "list suppressions", [](const Stmt& r) -> Result<Suppression> {
    Suppression out{std::string(r.Text(0)), std::string(r.Text(1)), std::nullopt, FromMicros(r.Int(3))};
    if (!r.IsNull(2)) out.message = MessageId(r.Int(2));
    return out;
  });
}

Status SqliteOutboxStore::RemoveSuppression(std::string_view address) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("DELETE FROM suppressions WHERE address = ?1"));
  s->Bind(1, address);
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "lift a suppression"));
  if (c.Changes() == 0) return Status::NotFound("address " + std::string(address) + " is not suppressed");
  return Status::Ok();
}

}  // namespace outflow
