#include "store/sqlite/sqlite_outbox_store.h"

#include <map>
#include <random>

#include "store/sqlite/contact_rows.h"
#include "store/sqlite/database.h"
#include "store/sqlite/outbox_rows.h"

namespace outflow {

using sqlite::Connection;
using sqlite::SourceDelta;
using sqlite::Stmt;
using sqlite::Transaction;

namespace {

const std::string& SelectMessages() {
  static const std::string kSql = "SELECT " + std::string(sqlite::kMessageColumns) + " FROM messages ";
  return kSql;
}

std::string Field(size_t i, std::string_view name) {
  return "messages[" + std::to_string(i) + "]." + std::string(name);
}

// The channel of an account, NotFound naming the field.
Result<Channel> AccountChannel(Connection& c, AccountId id, const std::string& field) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("SELECT channel FROM sending_accounts WHERE id = ?1"));
  s->Bind(1, id.value());
  int rc = s->Step();
  std::optional<Channel> ch = rc == SQLITE_ROW ? ParseChannel(s->Text(0)) : std::nullopt;
  s->Reset();
  if (rc == SQLITE_DONE) return Status::NotFound(field + ": account " + std::to_string(id.value()) + " does not exist");
  if (rc != SQLITE_ROW) return c.Error(rc, "read account");
  if (!ch) return Status::Corruption("account " + std::to_string(id.value()) + " has an unknown channel");
  return *ch;
}

// Whether the template has no subject; NotFound naming the field.
Result<bool> TemplateLacksSubject(Connection& c, TemplateId id, const std::string& field) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("SELECT subject = '' FROM templates WHERE id = ?1"));
  s->Bind(1, id.value());
  int rc = s->Step();
  const bool lacks = rc == SQLITE_ROW && s->Int(0) != 0;
  s->Reset();
  if (rc == SQLITE_DONE)
    return Status::NotFound(field + ": template " + std::to_string(id.value()) + " does not exist");
  if (rc != SQLITE_ROW) return c.Error(rc, "read template");
  return lacks;
}

// A contact and whether it unsubscribed.
Result<std::pair<Contact, bool>> ReadContactOn(Connection& c, ContactId id) {
  static const std::string kSql =
      "SELECT " + std::string(sqlite::kContactColumns) + ", unsubscribed_at IS NOT NULL FROM contacts WHERE id = ?1";
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare(kSql));
  s->Bind(1, id.value());
  int rc = s->Step();
  if (rc == SQLITE_DONE) {
    s->Reset();
    return Status::NotFound("contact " + std::to_string(id.value()) + " does not exist");
  }
  if (rc != SQLITE_ROW) return c.Error(rc, "read contact");
  Result<Contact> contact = sqlite::ReadContact(*s);
  const bool unsubscribed = s->Int(16) != 0;
  s->Reset();
  if (!contact.ok()) return contact.status();
  return std::make_pair(std::move(contact).value(), unsubscribed);
}

// The message a producer made before: by the caller's key, or by (source, contact, step).
Result<std::optional<Message>> FindExisting(Connection& c, const NewMessage& m) {
  Stmt* s = nullptr;
  if (!m.client_key.empty()) {
    static const std::string kSql = SelectMessages() + "WHERE account_id = ?1 AND client_key = ?2";
    OUTFLOW_ASSIGN_OR_RETURN(s, c.Prepare(kSql));
    s->Bind(1, m.account.value());
    s->Bind(2, std::string_view(m.client_key));
  } else if (m.source.kind != SourceKind::kTransactional) {
    static const std::string kSql =
        SelectMessages() + "WHERE source_kind = ?1 AND source_id = ?2 AND contact_id = ?3 AND step = ?4";
    OUTFLOW_ASSIGN_OR_RETURN(s, c.Prepare(kSql));
    s->Bind(1, SourceKindName(m.source.kind));
    s->Bind(2, m.source.id);
    s->Bind(3, m.contact.value());
    s->Bind(4, m.step);
  } else {
    return std::optional<Message>();
  }
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<Message> found,
                           sqlite::ReadRows<Message>(c, *s, "find message", sqlite::ReadMessage));
  if (found.empty()) return std::optional<Message>();
  return std::optional<Message>(std::move(found.front()));
}

Result<Message> InsertMessage(Connection& c, const NewMessage& m, const std::string& address, MessageState state,
                              const std::string& reason, int priority, Timestamp now) {
  static const std::string kSql =
      "INSERT INTO messages(account_id, contact_id, template_id, variables, address, source_kind, source_id, step, "
      "priority, send_at, state, max_attempts, reason, client_key, created_at, updated_at) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15) RETURNING " +
      std::string(sqlite::kMessageColumns);
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare(kSql));
  s->Bind(1, m.account.value());
  s->Bind(2, m.contact.value());
  s->Bind(3, m.template_id.value());
  if (m.variables_json.empty())
    s->BindNull(4);
  else
    s->Bind(4, std::string_view(m.variables_json));
  s->Bind(5, std::string_view(address));
  s->Bind(6, SourceKindName(m.source.kind));
  s->Bind(7, m.source.id);
  s->Bind(8, m.step);
  s->Bind(9, priority);
  s->Bind(10, ToMicros(m.send_at));
  s->Bind(11, MessageStateName(state));
  s->Bind(12, m.max_attempts);
  if (reason.empty())
    s->BindNull(13);
  else
    s->Bind(13, std::string_view(reason));
  if (m.client_key.empty())
    s->BindNull(14);
  else
    s->Bind(14, std::string_view(m.client_key));
  s->Bind(15, ToMicros(now));
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<Message> rows,
                           sqlite::ReadRows<Message>(c, *s, "insert message", sqlite::ReadMessage));
  if (rows.size() != 1) return Status::Internal("insert message: no row returned");
  return std::move(rows.front());
}

// What one Enqueue transaction reads once and writes once: each account's channel
// and each template's lack of a subject (a group of sends names the same few), and
// the count changes per source, added at the end.
struct EnqueueBatch {
  std::map<AccountId, Channel> channels;
  std::map<TemplateId, bool> no_subject;
  struct Source {
    AccountId account;
    int priority = 0;
    SourceDelta delta;
  };
  std::map<SourceRef, Source> sources;
};

Status CheckReferences(Connection& c, EnqueueBatch& b, const NewMessage& m, size_t i, Channel& channel) {
  auto ch = b.channels.find(m.account);
  if (ch == b.channels.end()) {
    OUTFLOW_ASSIGN_OR_RETURN(Channel read, AccountChannel(c, m.account, Field(i, "account_id")));
    ch = b.channels.emplace(m.account, read).first;
  }
  channel = ch->second;
  auto tpl = b.no_subject.find(m.template_id);
  if (tpl == b.no_subject.end()) {
    OUTFLOW_ASSIGN_OR_RETURN(bool lacks, TemplateLacksSubject(c, m.template_id, Field(i, "template_id")));
    tpl = b.no_subject.emplace(m.template_id, lacks).first;
  }
  if (tpl->second && channel == Channel::kEmail) {
    return Status::InvalidArgument(Field(i, "template_id") + ": template " + std::to_string(m.template_id.value()) +
                                   " has no subject, and account " + std::to_string(m.account.value()) +
                                   " sends email");
  }
  return Status::Ok();
}

Result<EnqueuedMessage> EnqueueOne(Connection& c, EnqueueBatch& b, const NewMessage& m, size_t i, Timestamp now) {
  Channel channel = Channel::kLog;
  OUTFLOW_RETURN_IF_ERROR(CheckReferences(c, b, m, i, channel));
  Result<std::pair<Contact, bool>> contact = ReadContactOn(c, m.contact);
  if (!contact.ok()) {
    if (contact.status().code() != Code::kNotFound) return contact.status();
    return Status::NotFound(Field(i, "contact_id") + ": contact " + std::to_string(m.contact.value()) +
                            " does not exist");
  }
  OUTFLOW_ASSIGN_OR_RETURN(std::optional<Message> existing, FindExisting(c, m));
  if (existing) return EnqueuedMessage{std::move(*existing), true};
  const ChannelAddress addr = AddressFor(channel, contact->first);
  MessageState state = MessageState::kQueued;
  std::string reason;
  if (addr.address.empty()) {
    state = MessageState::kFailed;
    reason = addr.missing;
  } else if (contact->second) {
    state = MessageState::kSkipped;
    reason = "unsubscribed";
  } else {
    OUTFLOW_ASSIGN_OR_RETURN(std::optional<std::string> suppressed, sqlite::SuppressedReason(c, addr.address));
    if (suppressed) {
      state = MessageState::kSkipped;
      reason = std::move(*suppressed);
    }
  }
  const int priority = m.priority.value_or(DefaultPriority(m.source.kind));
  NewMessage row = m;
  if (m.source.kind == SourceKind::kTransactional) {
    // Each transactional send is its own: a random step keeps (source, contact, step) unique.
    thread_local std::mt19937_64 rng{std::random_device{}()};
    row.step = static_cast<int64_t>(rng() >> 2);
  }
  OUTFLOW_ASSIGN_OR_RETURN(Message made, InsertMessage(c, row, addr.address, state, reason, priority, now));
  EnqueueBatch::Source& src =
      b.sources.try_emplace(m.source, EnqueueBatch::Source{m.account, priority, {}}).first->second;
  SourceDelta& d = src.delta;
  d.total += 1;
  (state == MessageState::kQueued ? d.pending : state == MessageState::kFailed ? d.failed : d.skipped) += 1;
  return EnqueuedMessage{std::move(made), false};
}

// Remembers sends for the frequency caps, and forgets each contact's sends older
// than the longest cap window (7 days).
Status CountSends(Connection& c, AccountId account, const std::vector<std::pair<ContactId, MessageId>>& sends,
                  Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(Channel channel, AccountChannel(c, account, "account_id"));
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * ins,
      c.PrepareStatic(
          "INSERT OR IGNORE INTO contact_sends(contact_id, channel, sent_at, message_id) VALUES(?1, ?2, ?3, ?4)"));
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * old, c.PrepareStatic("DELETE FROM contact_sends WHERE contact_id = ?1 AND channel = ?2 AND sent_at < ?3"));
  for (const auto& [contact, id] : sends) {
    ins->Bind(1, contact.value());
    ins->Bind(2, ChannelName(channel));
    ins->Bind(3, ToMicros(now));
    ins->Bind(4, id.value());
    OUTFLOW_RETURN_IF_ERROR(c.Run(*ins, "count a send"));
    old->Bind(1, contact.value());
    old->Bind(2, ChannelName(channel));
    old->Bind(3, ToMicros(now - std::chrono::hours(24 * 7)));
    OUTFLOW_RETURN_IF_ERROR(c.Run(*old, "forget old sends"));
  }
  return Status::Ok();
}

// A message given back: the day it was counted on, and its source.
struct BackRow {
  std::optional<std::string> cap_day;
  SourceRef source;
  int priority = 0;
};

struct ActiveSource {
  SourceRef ref;
  int priority = 0;
};

// The account's active sources with pending messages, by priority, then least recently served.
Result<std::vector<ActiveSource>> ActiveSources(Connection& c, AccountId account) {
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s,
      c.PrepareStatic("SELECT kind, source_id, priority FROM message_sources INDEXED BY message_sources_active "
                      "WHERE account_id = ?1 AND state = 'active' AND pending > 0 ORDER BY priority, served_at"));
  s->Bind(1, account.value());
  return sqlite::ReadRows<ActiveSource>(c, *s, "list sources", [](const Stmt& r) -> Result<ActiveSource> {
    std::optional<SourceKind> k = ParseSourceKind(r.Text(0));
    if (!k) return Status::Corruption("a message source has an unknown kind '" + std::string(r.Text(0)) + "'");
    return ActiveSource{{*k, r.Int(1)}, static_cast<int>(r.Int(2))};
  });
}

Result<int64_t> DayCountOn(Connection& c, AccountId id, const std::string& day) {
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s,
      c.PrepareStatic("SELECT coalesce((SELECT sent FROM account_day_counts WHERE account_id = ?1 AND day = ?2), 0)"));
  s->Bind(1, id.value());
  s->Bind(2, std::string_view(day));
  int rc = s->Step();
  int64_t n = rc == SQLITE_ROW ? s->Int(0) : 0;
  s->Reset();
  if (rc != SQLITE_ROW) return c.Error(rc, "read day count");
  return n;
}

// Adds `n` (may be negative) to the day's count; with a cap, only if the count stays
// within it. True when the row changed.
Result<bool> AddToDay(Connection& c, AccountId id, const std::string& day, int64_t n, std::optional<int64_t> cap) {
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * ins,
      c.PrepareStatic(
          "INSERT INTO account_day_counts(account_id, day, sent) VALUES(?1, ?2, 0) ON CONFLICT DO NOTHING"));
  ins->Bind(1, id.value());
  ins->Bind(2, std::string_view(day));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*ins, "start the day's count"));
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s,
      c.PrepareStatic("UPDATE account_day_counts SET sent = max(sent + ?3, 0) WHERE account_id = ?1 AND day = ?2 "
                      "AND (?4 IS NULL OR sent + ?3 <= ?4)"));
  s->Bind(1, id.value());
  s->Bind(2, std::string_view(day));
  s->Bind(3, n);
  if (cap)
    s->Bind(4, *cap);
  else
    s->BindNull(4);
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "count the day's sends"));
  return c.Changes() > 0;
}

// Reserves up to `want` sends on the day under the cap: each attempt is one
// conditional update, so concurrent reservations never take the day past the cap.
Result<int64_t> ReserveDay(Connection& c, AccountId id, const std::string& day, int64_t want, int64_t cap) {
  for (int tries = 0; tries < 8 && want > 0; ++tries) {
    OUTFLOW_ASSIGN_OR_RETURN(bool taken, AddToDay(c, id, day, want, cap));
    if (taken) return want;
    OUTFLOW_ASSIGN_OR_RETURN(int64_t used, DayCountOn(c, id, day));
    want = std::min(want, cap - used);
  }
  return int64_t{0};
}

// Claims up to `limit` due queued messages of one source.
Result<std::vector<Message>> ClaimFrom(Connection& c, AccountId account, SourceRef source, Timestamp now, int64_t limit,
                                       const std::string& day) {
  static const std::string kSql =
      "UPDATE messages SET state = 'sending', attempts = attempts + 1, last_attempt_at = ?4, updated_at = ?4, "
      "cap_day = ?6 WHERE account_id = ?1 AND id IN (SELECT id FROM messages INDEXED BY messages_due WHERE "
      "source_kind = ?2 AND source_id = ?3 AND state = 'queued' AND send_at <= ?4 ORDER BY send_at, id LIMIT ?5) "
      "RETURNING " +
      std::string(sqlite::kMessageColumns);
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare(kSql));
  s->Bind(1, account.value());
  s->Bind(2, SourceKindName(source.kind));
  s->Bind(3, source.id);
  s->Bind(4, ToMicros(now));
  s->Bind(5, limit);
  if (day.empty())
    s->BindNull(6);  // no cap: nothing reserved, nothing to give back
  else
    s->Bind(6, std::string_view(day));
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<Message> out,
                           sqlite::ReadRows<Message>(c, *s, "claim messages", sqlite::ReadMessage));
  if (!out.empty()) {
    OUTFLOW_ASSIGN_OR_RETURN(
        Stmt * u,
        c.PrepareStatic(
            "UPDATE message_sources SET served_at = ?4 WHERE account_id = ?1 AND kind = ?2 AND source_id = ?3"));
    u->Bind(1, account.value());
    u->Bind(2, SourceKindName(source.kind));
    u->Bind(3, source.id);
    u->Bind(4, ToMicros(now));
    OUTFLOW_RETURN_IF_ERROR(c.Run(*u, "mark source served"));
  }
  return out;
}

// Claims up to `limit` messages over the sources: by priority, sources of one
// priority taking turns (each a fair share of what is left).
Result<std::vector<Message>> ClaimRoundRobin(Connection& c, AccountId account, Timestamp now, int64_t limit,
                                             const std::string& day) {
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<ActiveSource> sources, ActiveSources(c, account));
  std::vector<Message> out;
  size_t i = 0;
  while (i < sources.size() && static_cast<int64_t>(out.size()) < limit) {
    size_t end = i;
    while (end < sources.size() && sources[end].priority == sources[i].priority) ++end;
    for (size_t k = i; k < end && static_cast<int64_t>(out.size()) < limit; ++k) {
      const int64_t left = limit - static_cast<int64_t>(out.size());
      const int64_t share = (left + static_cast<int64_t>(end - k) - 1) / static_cast<int64_t>(end - k);
      OUTFLOW_ASSIGN_OR_RETURN(std::vector<Message> got, ClaimFrom(c, account, sources[k].ref, now, share, day));
      for (Message& m : got) out.push_back(std::move(m));
    }
    i = end;
  }
  return out;
}

// Why a claimed message must not go: its contact unsubscribed or its address is
// suppressed (empty: it may go). Reads the contact into `contact` (NotFound: deleted).
Result<std::string> Barred(Connection& c, const Message& m, Result<std::pair<Contact, bool>>& contact) {
  contact = ReadContactOn(c, m.contact);
  if (contact.ok() && contact->second) return std::string("unsubscribed");
  if (!contact.ok() && contact.status().code() != Code::kNotFound) return contact.status();
  OUTFLOW_ASSIGN_OR_RETURN(std::optional<std::string> suppressed, sqlite::SuppressedReason(c, m.address));
  return suppressed.value_or(std::string());
}

// Puts claimed messages with their contacts into `out`; skips those whose contact
// unsubscribed or whose address is suppressed (and names the sources that skip
// drained in `out`).
Status AttachContacts(Connection& c, std::vector<Message>& claimed, Timestamp now, OutboxClaim& out) {
  std::map<std::pair<int64_t, SourceRef>, std::pair<int, int64_t>> skipped;  // (account, source) -> (priority, n)
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * skip,
      c.PrepareStatic("UPDATE messages SET state = 'skipped', reason = ?3, updated_at = ?2 WHERE id = ?1"));
  for (Message& m : claimed) {
    Result<std::pair<Contact, bool>> contact = Status::NotFound("");
    OUTFLOW_ASSIGN_OR_RETURN(std::string barred, Barred(c, m, contact));
    if (!barred.empty()) {
      skip->Bind(1, m.id.value());
      skip->Bind(2, ToMicros(now));
      skip->Bind(3, std::string_view(barred));
      OUTFLOW_RETURN_IF_ERROR(c.Run(*skip, "skip a barred message"));
      auto& [priority, n] = skipped[{m.account.value(), m.source}];
      priority = m.priority;
      ++n;
      continue;
    }
    Contact ct;
    if (contact.ok()) {
      ct = std::move(contact->first);
    } else {
      ct.id = m.contact;  // deleted since: sent with the frozen address only
    }
    out.messages.push_back({std::move(m), std::move(ct)});
  }
  for (const auto& [key, value] : skipped) {
    SourceDelta d;
    d.pending = -value.second;
    d.skipped = value.second;
    OUTFLOW_ASSIGN_OR_RETURN(int64_t pending,
                             sqlite::AddSourceCounts(c, AccountId(key.first), key.second, value.first, d, now));
    if (pending == 0) out.drained.push_back(key.second);
  }
  return Status::Ok();
}

// Skips a message just put back to queued when its contact unsubscribed or its
// address was suppressed meanwhile.
Result<bool> SkipIfUnsubscribed(Connection& c, MessageId id, Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s,
      c.PrepareStatic(
          "UPDATE messages SET state = 'skipped', updated_at = ?2, reason = coalesce((SELECT 'unsubscribed' FROM "
          "contacts WHERE id = messages.contact_id AND unsubscribed_at IS NOT NULL), (SELECT 'suppressed: ' || reason "
          "FROM suppressions WHERE address = messages.address)) WHERE id = ?1 AND state = 'queued' AND (EXISTS "
          "(SELECT 1 FROM contacts WHERE id = messages.contact_id AND unsubscribed_at IS NOT NULL) OR EXISTS (SELECT 1 "
          "FROM suppressions WHERE address = messages.address))"));
  s->Bind(1, id.value());
  s->Bind(2, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "skip a barred message"));
  return c.Changes() > 0;
}

}  // namespace

SqliteOutboxStore::SqliteOutboxStore(std::shared_ptr<sqlite::Database> db) : db_(std::move(db)) {}
SqliteOutboxStore::~SqliteOutboxStore() = default;

Result<std::vector<EnqueuedMessage>> SqliteOutboxStore::Enqueue(std::span<const NewMessage> messages, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("enqueue messages"));
  std::vector<EnqueuedMessage> out;
  out.reserve(messages.size());
  EnqueueBatch batch;
  for (size_t i = 0; i < messages.size(); ++i) {
    OUTFLOW_ASSIGN_OR_RETURN(EnqueuedMessage e, EnqueueOne(c, batch, messages[i], i, now));
    out.push_back(std::move(e));
  }
  for (const auto& [source, src] : batch.sources) {
    OUTFLOW_RETURN_IF_ERROR(sqlite::AddSourceCounts(c, src.account, source, src.priority, src.delta, now).status());
  }
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("enqueue messages"));
  return out;
}

Result<Message> SqliteOutboxStore::Get(MessageId id) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  static const std::string kSql = SelectMessages() + "WHERE id = ?1";
  return sqlite::ReadOneById<Message>(*reader, kSql, id.value(), "message", sqlite::ReadMessage);
}

Result<std::vector<Message>> SqliteOutboxStore::List(const MessageFilter& f) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  std::string from = "messages";
  if (f.contact) {
    // A contact's messages: those of campaigns through each campaign's source index
    // (campaign messages are not in messages_by_contact), the rest through it.
    static const std::string kByContact =
        "(SELECT * FROM messages WHERE contact_id = ?5 AND source_kind <> 'campaign' UNION ALL "
        "SELECT m.* FROM message_sources s JOIN messages m ON m.source_kind = 'campaign' AND m.source_id = s.source_id "
        "AND m.contact_id = ?5 AND m.step = 0 WHERE s.kind = 'campaign')";
    from = kByContact;
  }
  std::string sql = "SELECT " + std::string(sqlite::kMessageColumns) + " FROM " + from + " WHERE id > ?1";
  if (f.state) sql += " AND state = ?3";
  if (f.account) sql += " AND account_id = ?4";
  if (f.source) sql += " AND source_kind = ?6 AND source_id = ?7";
  sql += " ORDER BY id LIMIT ?2";
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, reader->Prepare(sql));
  s->Bind(1, f.after_id);
  s->Bind(2, f.limit);
  if (f.state) s->Bind(3, MessageStateName(*f.state));
  if (f.account) s->Bind(4, f.account->value());
  if (f.contact) s->Bind(5, f.contact->value());
  if (f.source) {
    s->Bind(6, SourceKindName(f.source->kind));
    s->Bind(7, f.source->id);
  }
  return sqlite::ReadRows<Message>(*reader, *s, "list messages", sqlite::ReadMessage);
}

Result<MessageCounts> SqliteOutboxStore::Counts(SourceRef source) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  return sqlite::SourceCounts(*reader, source);
}

Status SqliteOutboxStore::SetSourceState(SourceRef source, SourceState state, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("set source state"));
  OUTFLOW_RETURN_IF_ERROR(sqlite::SetSourceStateOn(c, source, state, now));
  return tx.Commit().WithContext("set source state");
}

Result<int64_t> SqliteOutboxStore::RetryFailed(SourceRef source, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("retry failed messages"));
  OUTFLOW_ASSIGN_OR_RETURN(int64_t n, sqlite::RetrySourceFailed(c, source, now));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("retry failed messages"));
  return n;
}

Result<int64_t> SqliteOutboxStore::SkipContact(ContactId contact, const std::string& reason, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("skip a contact's messages"));
  OUTFLOW_ASSIGN_OR_RETURN(int64_t n, sqlite::SkipContactMessages(c, contact, reason, now));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("skip a contact's messages"));
  return n;
}

Result<std::vector<AccountId>> SqliteOutboxStore::AccountsWithWork() {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s, reader->Prepare("SELECT DISTINCT account_id FROM message_sources INDEXED BY message_sources_active "
                                "WHERE state = 'active' AND pending > 0 ORDER BY account_id"));
  return sqlite::ReadRows<AccountId>(*reader, *s, "list accounts with work",
                                     [](const Stmt& r) -> Result<AccountId> { return AccountId(r.Int(0)); });
}

Result<OutboxClaim> SqliteOutboxStore::Claim(AccountId account, Timestamp now, int limit, const std::string& day,
                                             std::optional<int64_t> daily_cap) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("claim messages"));
  OutboxClaim out;
  int64_t want = limit;
  if (daily_cap) {
    OUTFLOW_ASSIGN_OR_RETURN(int64_t reserved, ReserveDay(c, account, day, want, *daily_cap));
    out.cap_reached = reserved < want;
    want = reserved;
  }
  if (want <= 0) return out;
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<Message> claimed,
                           ClaimRoundRobin(c, account, now, want, daily_cap ? day : std::string()));
  OUTFLOW_RETURN_IF_ERROR(AttachContacts(c, claimed, now, out));
  // What the cap reserved and no send uses goes back (skipped ones send nothing).
  const int64_t unused = want - static_cast<int64_t>(out.messages.size());
  if (daily_cap && unused > 0) {
    OUTFLOW_RETURN_IF_ERROR(AddToDay(c, account, day, -unused, std::nullopt).status());
  }
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("claim messages"));
  return out;
}

Result<std::vector<SourceRef>> SqliteOutboxStore::Record(AccountId account, std::span<const MessageOutcome> outcomes,
                                                         Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("record sends"));
  // Both statements apply only to a message still `sending` at the attempt the
  // outcome answers: one requeued meanwhile, or requeued and claimed again, is left alone.
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s,
      c.PrepareStatic(
          "UPDATE messages SET state = ?3, provider_id = ?4, reason = ?5, send_at = CASE WHEN ?3 = 'queued' THEN ?6 "
          "ELSE send_at END, updated_at = ?7, sent_at = CASE WHEN ?3 = 'sent' THEN ?7 END, attempts = attempts - ?9 "
          "WHERE id = ?1 AND state = 'sending' AND attempts = ?2 AND account_id = ?8 "
          "RETURNING source_kind, source_id, priority, contact_id, cap_day"));
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * back,
      c.PrepareStatic("UPDATE messages SET state = 'queued', attempts = max(attempts - 1, 0), updated_at = ?3, "
                      "send_at = CASE WHEN ?5 > 0 THEN ?5 ELSE send_at END, "
                      "reason = CASE WHEN ?6 <> '' THEN ?6 ELSE reason END "
                      "WHERE id = ?1 AND state = 'sending' AND attempts = ?2 AND account_id = ?4 "
                      "RETURNING cap_day, source_kind, source_id, priority"));
  std::map<SourceRef, std::pair<int, SourceDelta>> deltas;
  std::map<std::string, int64_t> give_back;              // day -> reservations not used
  std::vector<std::pair<ContactId, MessageId>> counted;  // sends the frequency caps count
  for (const MessageOutcome& o : outcomes) {
    if (!o.attempted && o.state == MessageState::kQueued) {
      back->Bind(1, o.id.value());
      back->Bind(2, o.attempt);
      back->Bind(3, ToMicros(now));
      back->Bind(4, account.value());
      back->Bind(5, ToMicros(o.retry_at));
      back->Bind(6, std::string_view(o.reason));
      OUTFLOW_ASSIGN_OR_RETURN(
          std::vector<BackRow> rows,
          sqlite::ReadRows<BackRow>(c, *back, "give back a claim", [](const Stmt& r) -> Result<BackRow> {
            std::optional<SourceKind> k = ParseSourceKind(r.Text(1));
            if (!k) return Status::Corruption("a message has an unknown source kind");
            return BackRow{r.OptText(0), {*k, r.Int(2)}, static_cast<int>(r.Int(3))};
          }));
      for (const BackRow& row : rows) {
        if (row.cap_day) ++give_back[*row.cap_day];
        OUTFLOW_ASSIGN_OR_RETURN(bool skipped, SkipIfUnsubscribed(c, o.id, now));
        if (skipped) {
          auto& [priority, d] = deltas[row.source];
          priority = row.priority;
          --d.pending, ++d.skipped;
        }
      }
      continue;
    }
    s->Bind(1, o.id.value());
    s->Bind(2, o.attempt);
    s->Bind(3, MessageStateName(o.state));
    if (o.provider_id.empty())
      s->BindNull(4);
    else
      s->Bind(4, std::string_view(o.provider_id));
    if (o.reason.empty())
      s->BindNull(5);
    else
      s->Bind(5, std::string_view(o.reason));
    s->Bind(6, ToMicros(o.retry_at));
    s->Bind(7, ToMicros(now));
    s->Bind(8, account.value());
    s->Bind(9, int64_t{o.attempted ? 0 : 1});
    int rc = s->Step();
    if (rc == SQLITE_ROW) {
      std::optional<SourceKind> kind = ParseSourceKind(s->Text(0));
      const int64_t source_id = s->Int(1);
      if (kind) {
        auto& [priority, d] = deltas[{*kind, source_id}];
        priority = static_cast<int>(s->Int(2));
        if (o.state == MessageState::kSent && o.count_send) counted.push_back({ContactId(s->Int(3)), o.id});
        if (!o.attempted && !s->IsNull(4)) ++give_back[std::string(s->Text(4))];
        switch (o.state) {
          case MessageState::kSent: --d.pending, ++d.sent; break;
          case MessageState::kFailed: --d.pending, ++d.failed; break;
          case MessageState::kSkipped: --d.pending, ++d.skipped; break;
          default: break;  // queued again: still pending
        }
      }
      while (rc == SQLITE_ROW) rc = s->Step();
      s->Reset();
      if (rc != SQLITE_DONE) return c.Error(rc, "record send");
      if (o.state == MessageState::kQueued && kind) {
        OUTFLOW_ASSIGN_OR_RETURN(bool skipped, SkipIfUnsubscribed(c, o.id, now));
        if (skipped) {
          SourceDelta& d = deltas[{*kind, source_id}].second;
          --d.pending, ++d.skipped;
        }
      }
      continue;
    }
    s->Reset();
    if (rc != SQLITE_DONE) return c.Error(rc, "record send");
  }
  for (const auto& [day, n] : give_back) {
    OUTFLOW_RETURN_IF_ERROR(AddToDay(c, account, day, -n, std::nullopt).status());
  }
  if (!counted.empty()) OUTFLOW_RETURN_IF_ERROR(CountSends(c, account, counted, now));
  std::vector<SourceRef> drained;
  for (const auto& [source, pd] : deltas) {
    if (pd.second.empty()) continue;
    OUTFLOW_ASSIGN_OR_RETURN(int64_t pending, sqlite::AddSourceCounts(c, account, source, pd.first, pd.second, now));
    if (pending == 0) drained.push_back(source);
  }
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("record sends"));
  return drained;
}

Result<int64_t> SqliteOutboxStore::RequeueSending(AccountId account, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s, c.PrepareStatic("UPDATE messages INDEXED BY messages_sending SET state = 'queued', updated_at = ?2 "
                                "WHERE account_id = ?1 AND state = 'sending'"));
  s->Bind(1, account.value());
  s->Bind(2, ToMicros(now));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "requeue unfinished sends"));
  return static_cast<int64_t>(c.Changes());
}

Result<std::optional<Timestamp>> SqliteOutboxStore::NextDue(AccountId account) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  Connection& c = *reader;
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<ActiveSource> sources, ActiveSources(c, account));
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s, c.PrepareStatic("SELECT send_at FROM messages INDEXED BY messages_due WHERE source_kind = ?1 "
                                "AND source_id = ?2 AND state = 'queued' ORDER BY send_at LIMIT 1"));
  std::optional<Timestamp> out;
  for (const ActiveSource& src : sources) {
    s->Bind(1, SourceKindName(src.ref.kind));
    s->Bind(2, src.ref.id);
    int rc = s->Step();
    if (rc == SQLITE_ROW) {
      const Timestamp t = FromMicros(s->Int(0));
      if (!out || t < *out) out = t;
    }
    s->Reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return c.Error(rc, "next due message");
  }
  return out;
}

Result<int64_t> SqliteOutboxStore::DayCount(AccountId account, const std::string& day) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  return DayCountOn(*reader, account, day);
}

Result<std::vector<Timestamp>> SqliteOutboxStore::RecentSends(ContactId contact, Channel channel, Timestamp since) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, reader->PrepareStatic("SELECT sent_at FROM contact_sends WHERE contact_id = ?1 "
                                                           "AND channel = ?2 AND sent_at >= ?3 ORDER BY sent_at"));
  s->Bind(1, contact.value());
  s->Bind(2, ChannelName(channel));
  s->Bind(3, ToMicros(since));
  return sqlite::ReadRows<Timestamp>(*reader, *s, "read recent sends",
                                     [](const Stmt& r) -> Result<Timestamp> { return FromMicros(r.Int(0)); });
}

}  // namespace outflow
