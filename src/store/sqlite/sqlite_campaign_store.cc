#include "store/sqlite/sqlite_campaign_store.h"

#include <boost/json.hpp>

#include "codec/contact_rules_json.h"
#include "codec/windows_json.h"
#include "store/sqlite/contact_rows.h"
#include "store/sqlite/database.h"
#include "store/sqlite/job_rows.h"
#include "store/sqlite/outbox_rows.h"
#include "time/local_day.h"

namespace outflow {

using sqlite::Connection;
using sqlite::Stmt;
using sqlite::Transaction;
namespace json = boost::json;

namespace {

void BindOptInt(Stmt& s, int i, const std::optional<int64_t>& v) {
  if (v)
    s.Bind(i, *v);
  else
    s.BindNull(i);
}
void BindOptTime(Stmt& s, int i, const std::optional<Timestamp>& v) {
  if (v)
    s.Bind(i, ToMicros(*v));
  else
    s.BindNull(i);
}
std::optional<Timestamp> OptTime(const Stmt& s, int col) {
  std::optional<int64_t> v = s.OptInt(col);
  if (!v) return std::nullopt;
  return FromMicros(*v);
}

// ---- accounts

constexpr const char* kAccountSelect =
    "SELECT id, name, channel, provider, settings, credentials IS NOT NULL, rate_per_second, burst, daily_cap, "
    "time_zone, windows, created_at, updated_at, contact_rules FROM sending_accounts ";

Result<SendingAccount> ReadAccount(const Stmt& s) {
  SendingAccount a;
  a.id = AccountId(s.Int(0));
  a.name = std::string(s.Text(1));
  std::optional<Channel> channel = ParseChannel(s.Text(2));
  if (!channel) {  // never a silent dry run over `log`: the row is damaged
    return Status::Corruption("account " + std::to_string(a.id.value()) + " has an unknown channel '" +
                              std::string(s.Text(2)) + "'");
  }
  a.channel = *channel;
  a.provider = std::string(s.Text(3));
  a.settings_json = std::string(s.Text(4));
  a.has_credentials = s.Int(5) != 0;
  a.rate_per_second = static_cast<int>(s.Int(6));
  a.burst = static_cast<int>(s.Int(7));
  a.daily_cap = s.OptInt(8);
  a.time_zone = std::string(s.Text(9));
  a.windows = DecodeWindowsColumn(s.Text(10));
  a.created_at = FromMicros(s.Int(11));
  a.updated_at = FromMicros(s.Int(12));
  a.rules = DecodeContactRules(s.Text(13));
  return a;
}

Result<SendingAccount> GetAccountOn(Connection& c, AccountId id) {
  static const std::string kSql = std::string(kAccountSelect) + "WHERE id = ?1";
  return sqlite::ReadOneById<SendingAccount>(c, kSql, id.value(), "account", ReadAccount);
}

// Binds ?2..?13 as the INSERT and the UPDATE below use them (?1 is the id in the UPDATE).
void BindAccount(Stmt& s, const SendingAccount& a, const std::optional<std::string>& sealed, Timestamp now) {
  s.Bind(2, std::string_view(a.name));
  s.Bind(3, std::string_view(a.provider));
  s.Bind(4, std::string_view(a.settings_json));
  s.Bind(5, sealed);
  s.Bind(6, a.rate_per_second);
  s.Bind(7, a.burst);
  BindOptInt(s, 8, a.daily_cap);
  s.Bind(9, std::string_view(a.time_zone));
  s.Bind(10, std::string_view(EncodeWindowsColumn(a.windows)));
  s.Bind(11, ToMicros(now));
  s.Bind(12, ChannelName(a.channel));
  s.Bind(13, std::string_view(EncodeContactRules(a.rules)));
}

Status NameTaken(Connection& c, const char* sql, const std::string& name, int64_t self, std::string_view noun) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare(sql));
  s->Bind(1, std::string_view(name));
  int rc = s->Step();
  int64_t other = rc == SQLITE_ROW ? s->Int(0) : 0;
  s->Reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return c.Error(rc, "check name");
  if (other != 0 && other != self) {
    return Status::Conflict("name: " + std::string(noun) + " named '" + name + "' exists (" + std::string(noun) + " " +
                            std::to_string(other) + ")");
  }
  return Status::Ok();
}

// ---- templates

constexpr const char* kTemplateSelect =
    "SELECT id, name, subject, text_body, html_body, created_at, updated_at, tracking FROM templates ";

Result<MessageTemplateRecord> ReadTemplate(const Stmt& s) {
  MessageTemplateRecord t;
  t.id = TemplateId(s.Int(0));
  t.name = std::string(s.Text(1));
  t.subject = std::string(s.Text(2));
  t.text = std::string(s.Text(3));
  t.html = std::string(s.Text(4));
  t.created_at = FromMicros(s.Int(5));
  t.updated_at = FromMicros(s.Int(6));
  t.tracking = s.Int(7) != 0;
  return t;
}

Result<MessageTemplateRecord> GetTemplateOn(Connection& c, TemplateId id) {
  static const std::string kSql = std::string(kTemplateSelect) + "WHERE id = ?1";
  return sqlite::ReadOneById<MessageTemplateRecord>(c, kSql, id.value(), "template", ReadTemplate);
}

// ---- campaigns

// The scheduled, processing and paused campaigns: the WHERE is the partial index's
// (migration 7) word for word, so the index holds exactly these rows.
constexpr std::string_view kFromActiveCampaigns =
    "FROM campaigns INDEXED BY campaigns_active WHERE state = 'scheduled' OR state = 'processing' OR state = 'paused' ";

constexpr const char* kSelectCampaignColumns =
    "SELECT id, name, account_id, template_id, audience, scheduled_at, time_zone, cap_policy, missed_after_seconds, "
    "max_attempts, state, error, created_at, updated_at, scheduled_state_at, started_at, paused_at, completed_at, "
    "failed_at, cancelled_at, (SELECT printf('%d %d %d %d %d %d %d %d %d %d %d %d', total, pending, sent, failed, "
    "skipped, cancelled, delivered, opened, clicked, bounced, complained, unsubscribed) FROM message_sources WHERE "
    "kind = 'campaign' AND source_id = campaigns.id), local_send_at ";

std::string EncodeAudience(const Audience& a) {
  json::object o;
  json::array segs;
  for (int64_t s : a.segments) segs.push_back(s);
  o["segments"] = std::move(segs);
  if (a.exclude_segment)
    o["exclude_segment"] = *a.exclude_segment;
  else
    o["exclude_segment"] = nullptr;
  return json::serialize(o);
}

// A campaign's audience column; Corruption (naming the campaign) for one that is
// not the JSON EncodeAudience writes, rather than an audience of nobody.
Result<Audience> DecodeAudience(std::string_view text, CampaignId id) {
  const auto bad = Status::Corruption("campaign " + std::to_string(id.value()) + " has an unreadable audience");
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return bad;
  const json::object& o = v.as_object();
  const json::value* segments = o.if_contains("segments");
  if (segments == nullptr || !segments->is_array()) return bad;
  Audience a;
  for (const json::value& x : segments->as_array()) {
    if (!x.is_int64()) return bad;
    a.segments.push_back(x.as_int64());
  }
  if (const json::value* x = o.if_contains("exclude_segment"); x && !x->is_null()) {
    if (!x->is_int64()) return bad;
    a.exclude_segment = x->as_int64();
  }
  return a;
}

Result<CapPolicy> DecodeCapPolicy(std::string_view text, CampaignId id) {
  if (text == "wait") return CapPolicy::kWait;
  if (text == "fail") return CapPolicy::kFail;
  return Status::Corruption("campaign " + std::to_string(id.value()) + " has an unknown cap policy '" +
                            std::string(text) + "'");
}

Result<Campaign> ReadCampaign(const Stmt& s) {
  Campaign c;
  c.id = CampaignId(s.Int(0));
  c.name = std::string(s.Text(1));
  c.account = AccountId(s.Int(2));
  c.template_id = TemplateId(s.Int(3));
  OUTFLOW_ASSIGN_OR_RETURN(c.audience, DecodeAudience(s.Text(4), c.id));
  c.scheduled_at = OptTime(s, 5);
  c.time_zone = std::string(s.Text(6));
  OUTFLOW_ASSIGN_OR_RETURN(c.cap_policy, DecodeCapPolicy(s.Text(7), c.id));
  c.missed_after_seconds = s.OptInt(8);
  c.max_attempts = static_cast<int>(s.Int(9));
  std::optional<CampaignState> state = ParseCampaignState(s.Text(10));
  if (!state) {
    return Status::Corruption("campaign " + std::to_string(c.id.value()) + " has an unknown state '" +
                              std::string(s.Text(10)) + "'");
  }
  c.state = *state;
  c.error = std::string(s.Text(11));
  c.created_at = FromMicros(s.Int(12));
  c.updated_at = FromMicros(s.Int(13));
  c.scheduled_state_at = OptTime(s, 14);
  c.started_at = OptTime(s, 15);
  c.paused_at = OptTime(s, 16);
  c.completed_at = OptTime(s, 17);
  c.failed_at = OptTime(s, 18);
  c.cancelled_at = OptTime(s, 19);
  c.local_send_at = s.OptText(21);
  if (!s.IsNull(20)) {
    CampaignCounts& n = c.counts;
    EngagementCounts& e = n.engagement;
    if (std::sscanf(std::string(s.Text(20)).c_str(), "%ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld", &n.total,
                    &n.pending, &n.sent, &n.failed, &n.skipped, &n.cancelled, &e.delivered, &e.opened, &e.clicked,
                    &e.bounced, &e.complained, &e.unsubscribed) != 12) {
      return Status::Corruption("campaign " + std::to_string(c.id.value()) + ": unreadable counts");
    }
  }
  return c;
}

Result<Campaign> GetCampaignOn(Connection& c, CampaignId id) {
  static const std::string kSql = std::string(kSelectCampaignColumns) + "FROM campaigns WHERE id = ?1";
  return sqlite::ReadOneById<Campaign>(c, kSql, id.value(), "campaign", ReadCampaign);
}

Status Exists(Connection& c, const char* sql, int64_t id, const std::string& field, std::string_view noun) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare(sql));
  s->Bind(1, id);
  int rc = s->Step();
  s->Reset();
  if (rc == SQLITE_DONE) {
    return Status::NotFound(field + ": " + std::string(noun) + " " + std::to_string(id) + " does not exist");
  }
  if (rc != SQLITE_ROW) return c.Error(rc, "check " + std::string(noun));
  return Status::Ok();
}

// The column that stamps a transition into `to`, if any.
const char* StampColumn(CampaignState to) {
  switch (to) {
    case CampaignState::kScheduled: return "scheduled_state_at";
    case CampaignState::kProcessing: return "started_at";
    case CampaignState::kPaused: return "paused_at";
    case CampaignState::kCompleted: return "completed_at";
    case CampaignState::kFailed: return "failed_at";
    case CampaignState::kCancelled: return "cancelled_at";
    case CampaignState::kDraft: return nullptr;
  }
  return nullptr;
}

// " IN ('a','b')" for fixed state names (no user text).
std::string StateList(const std::vector<CampaignState>& states) {
  std::string in = " IN (";
  for (size_t i = 0; i < states.size(); ++i) {
    in += (i ? ",'" : "'") + std::string(CampaignStateName(states[i])) + "'";
  }
  return in + ")";
}

// One conditional UPDATE: of two racing transitions from the same state, exactly
// one changes the row; the other reads the state that beat it (Conflict).
Result<Campaign> SetStateOn(Connection& c, CampaignId id, const std::vector<CampaignState>& from, CampaignState to,
                            Timestamp now, const std::string& error) {
  std::string sql = "UPDATE campaigns SET state = ?2, updated_at = ?3";
  if (const char* col = StampColumn(to)) {
    // started_at keeps the first start across pause and resume.
    sql += std::string(", ") + col + (to == CampaignState::kProcessing ? " = coalesce(started_at, ?3)" : " = ?3");
  }
  if (!error.empty()) sql += ", error = ?4";
  sql += " WHERE id = ?1 AND state" + (from.empty() ? std::string(" IS NULL") : StateList(from));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare(sql));
  s->Bind(1, id.value());
  s->Bind(2, CampaignStateName(to));
  s->Bind(3, ToMicros(now));
  if (!error.empty()) s->Bind(4, std::string_view(error));
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "set campaign state"));
  if (c.Changes() == 0) {
    OUTFLOW_ASSIGN_OR_RETURN(Campaign cur, GetCampaignOn(c, id));
    return Status::Conflict("campaign " + std::to_string(id.value()) + " is " +
                            std::string(CampaignStateName(cur.state)) + "; it cannot become " +
                            std::string(CampaignStateName(to)));
  }
  // The campaign's messages follow its state: claimed only while it processes.
  const SourceRef source{SourceKind::kCampaign, id.value()};
  switch (to) {
    case CampaignState::kProcessing:
      OUTFLOW_RETURN_IF_ERROR(sqlite::SetSourceStateOn(c, source, SourceState::kActive, now));
      break;
    case CampaignState::kPaused:
    case CampaignState::kFailed:
      OUTFLOW_RETURN_IF_ERROR(sqlite::SetSourceStateOn(c, source, SourceState::kPaused, now));
      break;
    case CampaignState::kCancelled:
      OUTFLOW_RETURN_IF_ERROR(sqlite::SetSourceStateOn(c, source, SourceState::kCancelled, now));
      break;
    default: break;
  }
  return GetCampaignOn(c, id);
}

// The job `job` names for the campaign as written, in the caller's transaction.
Status InsertJobFor(Connection& c, const Campaign& campaign, const CampaignStore::JobFn& job, Timestamp now) {
  if (!job) return Status::Ok();
  OUTFLOW_ASSIGN_OR_RETURN(JobSpec spec, job(campaign));
  return sqlite::InsertJobs(c, std::span(&spec, 1), now).status();
}

// ---- recipients: a campaign's messages, as the ledger showed them

constexpr const char* kRecipientSelect =
    "SELECT source_id, contact_id, state, address, attempts, send_at, last_attempt_at, provider_id, reason, "
    "updated_at FROM messages INDEXED BY messages_by_source ";

Result<Recipient> ReadRecipient(const Stmt& s) {
  Recipient r;
  r.campaign = CampaignId(s.Int(0));
  r.contact_id = s.Int(1);
  std::optional<MessageState> state = ParseMessageState(s.Text(2));
  if (!state) return Status::Corruption("a message has an unknown state '" + std::string(s.Text(2)) + "'");
  r.state = RecipientStateOf(*state);
  r.address = std::string(s.Text(3));
  r.attempts = static_cast<int>(s.Int(4));
  if (IsPending(*state)) r.next_attempt_at = FromMicros(s.Int(5));
  r.last_attempt_at = OptTime(s, 6);
  r.provider_id = std::string(s.Text(7));
  r.error = std::string(s.Text(8));
  r.updated_at = FromMicros(s.Int(9));
  return r;
}

}  // namespace

SqliteCampaignStore::SqliteCampaignStore(std::shared_ptr<sqlite::Database> db)
    : db_(std::move(db)),
      fanout_batch_(db_->options().fanout_chunk / 10, db_->options().fanout_chunk, db_->options().fanout_chunk,
                    db_->options().chunk_hold) {}
SqliteCampaignStore::~SqliteCampaignStore() = default;

// ---- accounts

Result<SendingAccount> SqliteCampaignStore::CreateAccount(const SendingAccount& a, const SealFn& seal, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("create account"));
  OUTFLOW_RETURN_IF_ERROR(NameTaken(c, "SELECT id FROM sending_accounts WHERE name = ?1", a.name, 0, "account"));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare("INSERT INTO sending_accounts(name, channel, provider, settings, "
                                               "credentials, rate_per_second, burst, daily_cap, "
                                               "time_zone, windows, created_at, updated_at, contact_rules) "
                                               "VALUES(?2, ?12, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?13)"));
  BindAccount(*s, a, std::nullopt, now);
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "create account"));
  const AccountId id(c.LastInsertRowId());
  if (seal) {
    // The id exists only now: the sealed value is bound to it (SecretBox associated data).
    const std::string sealed = seal(id);
    OUTFLOW_ASSIGN_OR_RETURN(Stmt * u, c.PrepareStatic("UPDATE sending_accounts SET credentials = ?2 WHERE id = ?1"));
    u->Bind(1, id.value());
    u->Bind(2, std::string_view(sealed));
    OUTFLOW_RETURN_IF_ERROR(c.Run(*u, "store credentials"));
  }
  OUTFLOW_ASSIGN_OR_RETURN(SendingAccount out, GetAccountOn(c, id));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("create account"));
  return out;
}

Result<SendingAccount> SqliteCampaignStore::GetAccount(AccountId id) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  return GetAccountOn(*reader, id);
}

Result<std::vector<SendingAccount>> SqliteCampaignStore::ListAccounts() {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, reader->Prepare(std::string(kAccountSelect) + "ORDER BY id"));
  return sqlite::ReadRows<SendingAccount>(*reader, *s, "list accounts", ReadAccount);
}

Result<SendingAccount> SqliteCampaignStore::UpdateAccount(const SendingAccount& a,
                                                          const std::optional<std::string>& sealed, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("update account"));
  OUTFLOW_RETURN_IF_ERROR(GetAccountOn(c, a.id).status());
  OUTFLOW_RETURN_IF_ERROR(
      NameTaken(c, "SELECT id FROM sending_accounts WHERE name = ?1", a.name, a.id.value(), "account"));
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s,
      c.Prepare("UPDATE sending_accounts SET name = ?2, provider = ?3, settings = ?4, credentials = coalesce(?5, "
                "credentials), "
                "rate_per_second = ?6, burst = ?7, daily_cap = ?8, time_zone = ?9, windows = ?10, updated_at = ?11, "
                "contact_rules = ?13 WHERE id = ?1"));
  s->Bind(1, a.id.value());
  BindAccount(*s, a, sealed, now);
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "update account"));
  OUTFLOW_ASSIGN_OR_RETURN(SendingAccount out, GetAccountOn(c, a.id));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("update account"));
  return out;
}

Result<std::optional<std::string>> SqliteCampaignStore::AccountCredentials(AccountId id) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, reader->Prepare("SELECT credentials FROM sending_accounts WHERE id = ?1"));
  s->Bind(1, id.value());
  int rc = s->Step();
  if (rc == SQLITE_DONE) {
    s->Reset();
    return Status::NotFound("account " + std::to_string(id.value()) + " does not exist");
  }
  if (rc != SQLITE_ROW) return reader->Error(rc, "read credentials");
  std::optional<std::string> out = s->OptText(0);
  s->Reset();
  return out;
}

Result<int64_t> SqliteCampaignStore::ResealCredentials(const ResealFn& reseal, Timestamp now) {
  auto writer = db_->Writer();  // BEGIN IMMEDIATE: no other writer until the commit
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("reseal credentials"));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("SELECT id, credentials FROM sending_accounts "
                                                     "WHERE credentials IS NOT NULL ORDER BY id"));
  auto read = [](const Stmt& row) { return std::make_pair(AccountId(row.Int(0)), std::string(row.Text(1))); };
  using Row = std::pair<AccountId, std::string>;
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<Row> sealed, sqlite::ReadRows<Row>(c, *s, "read credentials", read));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * u, c.PrepareStatic("UPDATE sending_accounts SET credentials = ?2, updated_at = ?3 "
                                                     "WHERE id = ?1"));
  for (const auto& [id, value] : sealed) {
    OUTFLOW_ASSIGN_OR_RETURN(std::string resealed, reseal(id, value));
    u->Bind(1, id.value());
    u->Bind(2, std::string_view(resealed));
    u->Bind(3, ToMicros(now));
    OUTFLOW_RETURN_IF_ERROR(c.Run(*u, "reseal credentials"));
  }
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("reseal credentials"));
  return static_cast<int64_t>(sealed.size());
}

// ---- templates

Result<MessageTemplateRecord> SqliteCampaignStore::CreateTemplate(const MessageTemplateRecord& t, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("create template"));
  OUTFLOW_RETURN_IF_ERROR(NameTaken(c, "SELECT id FROM templates WHERE name = ?1", t.name, 0, "template"));
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s,
      c.Prepare("INSERT INTO templates(name, subject, text_body, html_body, created_at, updated_at, tracking) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?5, ?6)"));
  s->Bind(1, std::string_view(t.name));
  s->Bind(2, std::string_view(t.subject));
  s->Bind(3, std::string_view(t.text));
  s->Bind(4, std::string_view(t.html));
  s->Bind(5, ToMicros(now));
  s->Bind(6, int64_t{t.tracking ? 1 : 0});
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "create template"));
  OUTFLOW_ASSIGN_OR_RETURN(MessageTemplateRecord out, GetTemplateOn(c, TemplateId(c.LastInsertRowId())));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("create template"));
  return out;
}

Result<MessageTemplateRecord> SqliteCampaignStore::GetTemplate(TemplateId id) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  return GetTemplateOn(*reader, id);
}

Result<std::vector<MessageTemplateRecord>> SqliteCampaignStore::ListTemplates() {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, reader->Prepare(std::string(kTemplateSelect) + "ORDER BY id"));
  return sqlite::ReadRows<MessageTemplateRecord>(*reader, *s, "list templates", ReadTemplate);
}

Result<MessageTemplateRecord> SqliteCampaignStore::UpdateTemplate(const MessageTemplateRecord& t, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("update template"));
  OUTFLOW_RETURN_IF_ERROR(GetTemplateOn(c, t.id).status());
  OUTFLOW_RETURN_IF_ERROR(NameTaken(c, "SELECT id FROM templates WHERE name = ?1", t.name, t.id.value(), "template"));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare("UPDATE templates SET name = ?2, subject = ?3, text_body = ?4, "
                                               "html_body = ?5, updated_at = ?6, tracking = ?7 "
                                               "WHERE id = ?1"));
  s->Bind(1, t.id.value());
  s->Bind(2, std::string_view(t.name));
  s->Bind(3, std::string_view(t.subject));
  s->Bind(4, std::string_view(t.text));
  s->Bind(5, std::string_view(t.html));
  s->Bind(6, ToMicros(now));
  s->Bind(7, int64_t{t.tracking ? 1 : 0});
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "update template"));
  OUTFLOW_ASSIGN_OR_RETURN(MessageTemplateRecord out, GetTemplateOn(c, t.id));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("update template"));
  return out;
}

// ---- campaigns

Result<Campaign> SqliteCampaignStore::CreateCampaign(const Campaign& in, const JobFn& start_job, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("create campaign"));
  OUTFLOW_RETURN_IF_ERROR(
      Exists(c, "SELECT 1 FROM sending_accounts WHERE id = ?1", in.account.value(), "account_id", "account"));
  OUTFLOW_RETURN_IF_ERROR(
      Exists(c, "SELECT 1 FROM templates WHERE id = ?1", in.template_id.value(), "template_id", "template"));
  for (size_t i = 0; i < in.audience.segments.size(); ++i) {
    OUTFLOW_RETURN_IF_ERROR(Exists(c, "SELECT 1 FROM segments WHERE id = ?1", in.audience.segments[i],
                                   "audience.segments[" + std::to_string(i) + "]", "segment"));
  }
  if (in.audience.exclude_segment) {
    OUTFLOW_RETURN_IF_ERROR(Exists(c, "SELECT 1 FROM segments WHERE id = ?1", *in.audience.exclude_segment,
                                   "audience.exclude_segment", "segment"));
  }
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s,
      c.Prepare(
          "INSERT INTO campaigns(name, account_id, template_id, audience, scheduled_at, time_zone, cap_policy, "
          "missed_after_seconds, max_attempts, state, created_at, updated_at, scheduled_state_at, local_send_at) "
          "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, CASE WHEN ?10 = 'scheduled' THEN ?11 END, ?12)"));
  s->Bind(1, std::string_view(in.name));
  s->Bind(2, in.account.value());
  s->Bind(3, in.template_id.value());
  s->Bind(4, std::string_view(EncodeAudience(in.audience)));
  BindOptTime(*s, 5, in.scheduled_at);
  s->Bind(6, std::string_view(in.time_zone));
  s->Bind(7, std::string_view(in.cap_policy == CapPolicy::kFail ? "fail" : "wait"));
  BindOptInt(*s, 8, in.missed_after_seconds);
  s->Bind(9, in.max_attempts);
  s->Bind(10, CampaignStateName(in.state));
  s->Bind(11, ToMicros(now));
  s->Bind(12, in.local_send_at);
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "create campaign"));
  OUTFLOW_ASSIGN_OR_RETURN(Campaign out, GetCampaignOn(c, CampaignId(c.LastInsertRowId())));
  OUTFLOW_RETURN_IF_ERROR(InsertJobFor(c, out, start_job, now));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("create campaign"));
  return out;
}

Result<Campaign> SqliteCampaignStore::GetCampaign(CampaignId id) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  return GetCampaignOn(*reader, id);
}

Result<std::vector<Campaign>> SqliteCampaignStore::ListCampaigns(int64_t before, int limit) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s,
                           reader->Prepare(std::string(kSelectCampaignColumns) +
                                           "FROM campaigns WHERE ?1 = 0 OR id < ?1 ORDER BY id DESC LIMIT ?2"));
  s->Bind(1, before);
  s->Bind(2, limit);
  return sqlite::ReadRows<Campaign>(*reader, *s, "list campaigns", ReadCampaign);
}

Result<std::vector<Campaign>> SqliteCampaignStore::ActiveCampaigns() {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  // The WHERE is the partial index's (migration 7) word for word, so it walks only the
  // active campaigns, in id order, with no sort; INDEXED BY makes a mismatch fail to
  // prepare instead of scanning every campaign.
  static const std::string kSql =
      std::string(kSelectCampaignColumns) + std::string(kFromActiveCampaigns) + "ORDER BY id";
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, reader->Prepare(kSql));
  return sqlite::ReadRows<Campaign>(*reader, *s, "list active campaigns", ReadCampaign);
}

Result<Campaign> SqliteCampaignStore::SetState(CampaignId id, std::vector<CampaignState> from, CampaignState to,
                                               Timestamp now, std::string error) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("set campaign state"));
  OUTFLOW_ASSIGN_OR_RETURN(Campaign out, SetStateOn(c, id, from, to, now, error));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("set campaign state"));
  return out;
}

Result<Campaign> SqliteCampaignStore::Schedule(CampaignId id, std::vector<CampaignState> from, const JobFn& start_job,
                                               Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("schedule campaign"));
  OUTFLOW_ASSIGN_OR_RETURN(Campaign out, SetStateOn(c, id, from, CampaignState::kScheduled, now, {}));
  OUTFLOW_RETURN_IF_ERROR(InsertJobFor(c, out, start_job, now));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("schedule campaign"));
  return out;
}

namespace {

// For a campaign sent at a local time in each contact's zone: the instant of that
// wall time in every zone of the chunk's contacts (a contact without one: the
// campaign's), by the point rule (time/local_day.h), and never before `now`, in
// temp.fanout_zone_times for the chunk's INSERT to join.
Status FillZoneTimes(Connection& c, const Campaign& cur, const std::string& segs, int64_t lo, int64_t hi,
                     Timestamp now) {
  OUTFLOW_RETURN_IF_ERROR(c.Exec(
      "CREATE TEMP TABLE IF NOT EXISTS fanout_zone_times(zone TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;"
      "DELETE FROM temp.fanout_zone_times"));
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * zones,
      c.Prepare(
          "SELECT DISTINCT coalesce(c.time_zone, '') FROM segment_members m JOIN contacts c ON c.id = m.contact_id "
          "WHERE m.segment_id IN (" +
          segs + ") AND m.contact_id > ?1 AND m.contact_id <= ?2 AND c.status = 'live'"));
  zones->Bind(1, lo);
  zones->Bind(2, hi);
  OUTFLOW_ASSIGN_OR_RETURN(
      std::vector<std::string> names,
      sqlite::ReadRows<std::string>(c, *zones, "list the audience's zones",
                                    [](const Stmt& r) -> Result<std::string> { return std::string(r.Text(0)); }));
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * put, c.Prepare("INSERT INTO temp.fanout_zone_times(zone, at) VALUES(?1, ?2)"));
  for (const std::string& zone : names) {
    Result<Timestamp> at = ParseLocalDateTime(zone.empty() ? cur.time_zone : zone, *cur.local_send_at, "send_at");
    if (!at.ok()) at = ParseLocalDateTime(cur.time_zone, *cur.local_send_at, "send_at");  // a zone tzdata lost
    if (!at.ok()) return at.status();
    put->Bind(1, std::string_view(zone));
    put->Bind(2, ToMicros(std::max(*at, now)));
    OUTFLOW_RETURN_IF_ERROR(c.Run(*put, "store a zone's send time"));
  }
  return Status::Ok();
}

// The audience segments as an SQL list of integers read back from our own column.
std::string SegmentList(const Campaign& cur) {
  std::string segs;
  for (size_t i = 0; i < cur.audience.segments.size(); ++i) {
    if (i) segs += ',';
    segs += std::to_string(cur.audience.segments[i]);
  }
  return segs.empty() ? "NULL" : segs;
}

// FailedPrecondition when an audience or exclusion segment has not finished its
// first fill: its members are incomplete (store/segment_store.h).
Status CheckSegmentsFilled(Connection& c, const Campaign& cur) {
  std::string ids = SegmentList(cur);
  if (cur.audience.exclude_segment) ids += "," + std::to_string(*cur.audience.exclude_segment);
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.Prepare("SELECT id, name FROM segments WHERE id IN (" + ids +
                                               ") AND kind = 'dynamic' AND filled_at IS NULL ORDER BY id LIMIT 1"));
  const int rc = s->Step();
  std::string filling =
      rc == SQLITE_ROW ? "segment " + std::to_string(s->Int(0)) + " (" + std::string(s->Text(1)) + ")" : std::string();
  s->Reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return c.Error(rc, "check segments");
  if (!filling.empty()) return Status::FailedPrecondition(filling + " is still filling; the campaign starts after it");
  return Status::Ok();
}

// Where a fan-out stands: (cursor, end]; cursor nullopt when none is under way.
struct FanOutRow {
  std::optional<int64_t> cursor;
  int64_t end = 0;
};

Result<FanOutRow> ReadFanOut(Connection& c, CampaignId id) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("SELECT fanout_cursor, fanout_end FROM campaigns WHERE id = ?1"));
  s->Bind(1, id.value());
  const int rc = s->Step();
  FanOutRow row;
  if (rc == SQLITE_ROW) row = {s->OptInt(0), s->OptInt(1).value_or(0)};
  s->Reset();
  if (rc == SQLITE_DONE) return Status::NotFound("campaign " + std::to_string(id.value()) + " does not exist");
  if (rc != SQLITE_ROW) return c.Error(rc, "read fan-out");
  return row;
}

Status WriteFanOut(Connection& c, CampaignId id, std::optional<int64_t> cursor) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, c.PrepareStatic("UPDATE campaigns SET fanout_cursor = ?2 WHERE id = ?1"));
  s->Bind(1, id.value());
  if (cursor)
    s->Bind(2, *cursor);
  else
    s->BindNull(2);
  return c.Run(*s, "record fan-out progress");
}

// The end of the next chunk after `cursor`: at most `limit` members of each
// audience segment, and never past `end`.
Result<int64_t> NextChunkEnd(Connection& c, const Campaign& cur, int64_t cursor, int64_t end, int limit) {
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s,
      c.PrepareStatic(
          "SELECT contact_id FROM segment_members WHERE segment_id = ?1 AND contact_id > ?2 ORDER BY contact_id "
          "LIMIT 1 OFFSET ?3"));
  int64_t hi = end;
  for (int64_t seg : cur.audience.segments) {
    s->Bind(1, seg);
    s->Bind(2, cursor);
    s->Bind(3, limit - 1);
    const int rc = s->Step();
    if (rc == SQLITE_ROW) hi = std::min(hi, s->Int(0));
    s->Reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return c.Error(rc, "find the next chunk");
  }
  return hi;
}

// Phone numbers and the like are not unique among contacts: the first contact with
// an address gets the message, later ones are skipped. fanout_addresses keeps the
// first contact per address across the chunks (ascending contact ids). Returns how
// many of the chunk's queued messages were skipped.
Result<int64_t> SkipDuplicateAddresses(Connection& c, CampaignId id, int64_t lo, int64_t hi) {
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * first,
      c.PrepareStatic("INSERT INTO fanout_addresses(campaign_id, address, contact_id) "
                      "SELECT ?1, address, min(contact_id) FROM messages INDEXED BY messages_by_source "
                      "WHERE source_kind = 'campaign' AND source_id = ?1 AND contact_id > ?2 AND contact_id <= ?3 AND "
                      "state = 'queued' GROUP BY address ON CONFLICT DO NOTHING"));
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * skip,
      c.PrepareStatic(
          "UPDATE messages SET state = 'skipped', reason = 'duplicate address' WHERE source_kind = 'campaign' AND "
          "source_id = ?1 AND contact_id > ?2 AND contact_id <= ?3 AND state = 'queued' AND contact_id <> "
          "(SELECT a.contact_id FROM fanout_addresses a WHERE a.campaign_id = ?1 AND a.address = messages.address)"));
  for (Stmt* s : {first, skip}) {
    s->Bind(1, id.value());
    s->Bind(2, lo);
    s->Bind(3, hi);
    OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "skip duplicate addresses"));
  }
  return static_cast<int64_t>(c.Changes());
}

// Freezes the audience members in (lo, hi] into the outbox: one message per live
// contact in any audience segment and not in the exclusion, with the account
// channel's address. Two INSERTs (skipped, then queued) so that their counts come
// from changes(); a contact in several segments is one message (the unique source
// index, ON CONFLICT DO NOTHING). The counts are added to the source.
Status FanOutRange(Connection& c, const Campaign& cur, Channel channel, int64_t lo, int64_t hi, Timestamp now) {
  // The address each channel sends to (fixed names only: no user text in the SQL).
  std::string addr;
  std::string missing;
  switch (channel) {
    case Channel::kEmail:
      addr = "c.email";
      missing = "no email address";
      break;
    case Channel::kSms:
    case Channel::kWhatsapp:
      addr = "c.phone";
      missing = "no phone number";
      break;
    case Channel::kWebhook:
    case Channel::kLog:
      addr = "coalesce(c.email, c.phone, c.external_id)";
      missing = "no address";
      break;
  }
  const std::string segs = SegmentList(cur);
  const std::string no_address = "coalesce(" + addr + ", '') = ''";
  std::string send_at = "?2";
  if (cur.local_send_at) {
    OUTFLOW_RETURN_IF_ERROR(FillZoneTimes(c, cur, segs, lo, hi, now));
    send_at = "coalesce((SELECT at FROM temp.fanout_zone_times z WHERE z.zone = coalesce(c.time_zone, '')), ?2)";
  }
  auto insert = [&](bool skipped) -> Result<int64_t> {
    std::string sql =
        "INSERT INTO messages(account_id, contact_id, template_id, address, source_kind, source_id, step, priority, "
        "send_at, state, max_attempts, reason, created_at, updated_at) "
        "SELECT ?3, c.id, ?4, coalesce(" +
        addr + ", ''), 'campaign', ?1, 0, ?5, " + send_at + ", " +
        (skipped ? "'skipped', ?6, CASE WHEN c.unsubscribed_at IS NOT NULL THEN 'unsubscribed' ELSE '" + missing +
                       "' END, ?2, ?2 "
                 : std::string("'queued', ?6, NULL, ?2, ?2 ")) +
        "FROM segment_members m JOIN contacts c ON c.id = m.contact_id "
        "WHERE m.segment_id IN (" +
        segs + ") AND m.contact_id > ?8 AND m.contact_id <= ?9 AND c.status = 'live' AND " +
        (skipped ? "(c.unsubscribed_at IS NOT NULL OR " + no_address + ")"
                 : "c.unsubscribed_at IS NULL AND NOT " + no_address);
    if (cur.audience.exclude_segment) {
      sql += " AND NOT EXISTS (SELECT 1 FROM segment_members x WHERE x.segment_id = ?7 AND x.contact_id = c.id)";
    }
    sql += " ON CONFLICT DO NOTHING";
    OUTFLOW_ASSIGN_OR_RETURN(Stmt * ins, c.Prepare(sql));
    ins->Bind(1, cur.id.value());
    ins->Bind(2, ToMicros(now));
    ins->Bind(3, cur.account.value());
    ins->Bind(4, cur.template_id.value());
    ins->Bind(5, DefaultPriority(SourceKind::kCampaign));
    ins->Bind(6, cur.max_attempts);
    if (cur.audience.exclude_segment) ins->Bind(7, *cur.audience.exclude_segment);
    ins->Bind(8, lo);
    ins->Bind(9, hi);
    OUTFLOW_RETURN_IF_ERROR(c.Run(*ins, "freeze the audience"));
    return static_cast<int64_t>(c.Changes());
  };
  sqlite::SourceDelta d;
  OUTFLOW_ASSIGN_OR_RETURN(d.skipped, insert(true));
  OUTFLOW_ASSIGN_OR_RETURN(d.pending, insert(false));
  if (channel != Channel::kEmail && d.pending > 0) {  // emails are unique among contacts
    OUTFLOW_ASSIGN_OR_RETURN(int64_t dups, SkipDuplicateAddresses(c, cur.id, lo, hi));
    d.pending -= dups;
    d.skipped += dups;
  }
  d.total = d.pending + d.skipped;
  if (d.empty()) return Status::Ok();
  return sqlite::AddSourceCounts(c, cur.account, {SourceKind::kCampaign, cur.id.value()},
                                 DefaultPriority(SourceKind::kCampaign), d, now)
      .status();
}

// After the last chunk: forgets up to `limit` of the fan-out's first-address rows.
// True when none are left.
Result<bool> ForgetAddresses(Connection& c, CampaignId id, int limit) {
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s,
                           c.PrepareStatic("DELETE FROM fanout_addresses WHERE campaign_id = ?1 AND address IN "
                                           "(SELECT address FROM fanout_addresses WHERE campaign_id = ?1 LIMIT ?2)"));
  s->Bind(1, id.value());
  s->Bind(2, limit);
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "forget fan-out addresses"));
  return c.Changes() < limit;
}

// A processing campaign whose fan-out ended: failed with no recipients, completed
// with nothing pending.
Status FinishFanOut(Connection& c, CampaignId id, Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(Campaign out, GetCampaignOn(c, id));
  if (out.state != CampaignState::kProcessing) return Status::Ok();
  if (out.counts.total == 0) {
    return SetStateOn(c, id, {CampaignState::kProcessing}, CampaignState::kFailed, now,
                      "no recipients: the audience has no live contacts")
        .status();
  }
  if (out.counts.pending == 0) {
    return SetStateOn(c, id, {CampaignState::kProcessing}, CampaignState::kCompleted, now, {}).status();
  }
  return Status::Ok();
}

// One transaction's share of a fan-out: the next chunk of at most `limit` members
// per audience segment (none once the campaign is cancelled), then, after the
// last, the clean-up of at most `limit` address rows and the campaign's end
// state. Returns true when the fan-out is over.
Result<bool> FanOutStep(Connection& c, CampaignId id, int limit, Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(FanOutRow row, ReadFanOut(c, id));
  if (!row.cursor) return true;
  OUTFLOW_ASSIGN_OR_RETURN(Campaign cur, GetCampaignOn(c, id));
  int64_t cursor = *row.cursor;
  if (cur.state == CampaignState::kCancelled) cursor = row.end;  // nothing more to send
  if (cursor < row.end) {
    OUTFLOW_ASSIGN_OR_RETURN(SendingAccount account, GetAccountOn(c, cur.account));
    OUTFLOW_ASSIGN_OR_RETURN(int64_t hi, NextChunkEnd(c, cur, cursor, row.end, limit));
    OUTFLOW_RETURN_IF_ERROR(FanOutRange(c, cur, account.channel, cursor, hi, now));
    cursor = hi;
  }
  std::optional<int64_t> next = cursor;
  if (cursor >= row.end) {
    OUTFLOW_ASSIGN_OR_RETURN(bool forgotten, ForgetAddresses(c, id, limit));
    if (forgotten) next.reset();
  }
  OUTFLOW_RETURN_IF_ERROR(WriteFanOut(c, id, next));
  if (next) return false;
  OUTFLOW_RETURN_IF_ERROR(FinishFanOut(c, id, now));
  return true;
}

}  // namespace

Result<Campaign> SqliteCampaignStore::Start(CampaignId id, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("start campaign"));
  OUTFLOW_ASSIGN_OR_RETURN(Campaign cur, GetCampaignOn(c, id));
  if (cur.state == CampaignState::kScheduled) OUTFLOW_RETURN_IF_ERROR(CheckSegmentsFilled(c, cur));
  OUTFLOW_ASSIGN_OR_RETURN(cur, SetStateOn(c, id, {CampaignState::kScheduled}, CampaignState::kProcessing, now, {}));
  // The source exists from the start, so that a pause before any message follows it.
  OUTFLOW_RETURN_IF_ERROR(sqlite::AddSourceCounts(c, cur.account, {SourceKind::kCampaign, id.value()},
                                                  DefaultPriority(SourceKind::kCampaign), {}, now)
                              .status());
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * s, c.PrepareStatic(
                    "UPDATE campaigns SET fanout_cursor = 0, fanout_end = (SELECT coalesce(max(id), 0) FROM contacts) "
                    "WHERE id = ?1"));
  s->Bind(1, id.value());
  OUTFLOW_RETURN_IF_ERROR(c.Run(*s, "start fan-out"));
  OUTFLOW_RETURN_IF_ERROR(FanOutStep(c, id, fanout_batch_.size(), now).status());
  OUTFLOW_ASSIGN_OR_RETURN(Campaign out, GetCampaignOn(c, id));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("start campaign"));
  return out;
}

Result<bool> SqliteCampaignStore::ContinueFanOut(CampaignId id, Timestamp now) {
  auto writer = db_->PoliteWriter();  // one step of a long job: waiting writers first
  const auto t0 = std::chrono::steady_clock::now();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("fan out"));
  OUTFLOW_ASSIGN_OR_RETURN(bool done, FanOutStep(c, id, fanout_batch_.size(), now));
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("fan out"));
  fanout_batch_.Observe(std::chrono::steady_clock::now() - t0);
  return done;
}

Result<Campaign> SqliteCampaignStore::CompleteIfDone(CampaignId id, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("complete campaign"));
  OUTFLOW_ASSIGN_OR_RETURN(Campaign out, GetCampaignOn(c, id));
  OUTFLOW_ASSIGN_OR_RETURN(FanOutRow fanout, ReadFanOut(c, id));
  // counts.pending includes `sending`; the outbox keeps it in step with the messages.
  // A campaign still fanning out has more to come (its last step completes it).
  if (out.state == CampaignState::kProcessing && out.counts.pending == 0 && !fanout.cursor) {
    OUTFLOW_ASSIGN_OR_RETURN(out, SetStateOn(c, id, {CampaignState::kProcessing}, CampaignState::kCompleted, now, {}));
  }
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("complete campaign"));
  return out;
}

Result<int64_t> SqliteCampaignStore::RetryFailed(CampaignId id, Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("retry failed recipients"));
  OUTFLOW_ASSIGN_OR_RETURN(Campaign cur, GetCampaignOn(c, id));
  if (cur.state == CampaignState::kDraft || cur.state == CampaignState::kScheduled ||
      cur.state == CampaignState::kCancelled) {
    return Status::Conflict("campaign " + std::to_string(id.value()) + " is " +
                            std::string(CampaignStateName(cur.state)) + "; only a started campaign retries recipients");
  }
  OUTFLOW_ASSIGN_OR_RETURN(int64_t n, sqlite::RetrySourceFailed(c, {SourceKind::kCampaign, id.value()}, now));
  // A failed campaign also goes on when it still has pending entries (it failed on
  // its account or template, since fixed): nothing else could send them.
  if ((n > 0 || (cur.state == CampaignState::kFailed && cur.counts.pending > 0)) &&
      (cur.state == CampaignState::kCompleted || cur.state == CampaignState::kFailed)) {
    OUTFLOW_RETURN_IF_ERROR(SetStateOn(c, id, {cur.state}, CampaignState::kProcessing, now, {}).status());
  }
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("retry failed recipients"));
  return n;
}

Result<std::vector<Recipient>> SqliteCampaignStore::Recipients(CampaignId id, const RecipientFilter& f) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  std::string sql = std::string(kRecipientSelect) +
                    "WHERE source_kind = 'campaign' AND source_id = ?1 AND step = 0 AND contact_id > ?2";
  if (f.state) {
    switch (*f.state) {
      case RecipientState::kPending: sql += " AND (state = 'queued' OR state = 'deferred')"; break;
      default: sql += " AND state = ?4"; break;
    }
  }
  sql += " ORDER BY contact_id LIMIT ?3";
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, reader->Prepare(sql));
  s->Bind(1, id.value());
  s->Bind(2, f.after_contact);
  s->Bind(3, f.limit);
  if (f.state && *f.state != RecipientState::kPending) s->Bind(4, RecipientStateName(*f.state));
  return sqlite::ReadRows<Recipient>(*reader, *s, "list recipients", ReadRecipient);
}

Result<std::optional<Timestamp>> SqliteCampaignStore::UnsubscribedAt(int64_t contact_id) {
  OUTFLOW_ASSIGN_OR_RETURN(auto reader, db_->Reader());
  OUTFLOW_ASSIGN_OR_RETURN(Stmt * s, reader->Prepare("SELECT unsubscribed_at FROM contacts WHERE id = ?1"));
  s->Bind(1, contact_id);
  int rc = s->Step();
  std::optional<Timestamp> at;
  bool found = rc == SQLITE_ROW;
  if (found && !s->IsNull(0)) at = FromMicros(s->Int(0));
  s->Reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return reader->Error(rc, "read unsubscribe");
  if (!found) return Status::NotFound("contact " + std::to_string(contact_id) + " does not exist");
  return at;
}

Result<std::optional<Timestamp>> SqliteCampaignStore::SetUnsubscribed(int64_t contact_id, bool unsubscribed,
                                                                      Timestamp now) {
  auto writer = db_->Writer();
  Connection& c = *writer;
  Transaction tx(c);
  OUTFLOW_RETURN_IF_ERROR(tx.Begin().WithContext("unsubscribe"));
  OUTFLOW_ASSIGN_OR_RETURN(
      Stmt * u,
      c.PrepareStatic(
          "UPDATE contacts SET unsubscribed_at = CASE WHEN ?2 THEN coalesce(unsubscribed_at, ?3) ELSE NULL END "
          "WHERE id = ?1 RETURNING unsubscribed_at"));
  u->Bind(1, contact_id);
  u->Bind(2, int64_t{unsubscribed ? 1 : 0});
  u->Bind(3, ToMicros(now));
  int rc = u->Step();
  const bool found = rc == SQLITE_ROW;
  std::optional<Timestamp> at;
  if (found && !u->IsNull(0)) at = FromMicros(u->Int(0));
  while (rc == SQLITE_ROW) rc = u->Step();
  u->Reset();
  if (rc != SQLITE_DONE) return c.Error(rc, "unsubscribe");
  if (!found) return Status::NotFound("contact " + std::to_string(contact_id) + " does not exist");
  // Every queued message to the contact, whatever its source, is skipped in the same
  // transaction; one being sent at this moment is not recalled (the claim skips a
  // message whose contact unsubscribed, so a retry never goes out).
  if (unsubscribed) {
    OUTFLOW_RETURN_IF_ERROR(sqlite::SkipContactMessages(c, ContactId(contact_id), "unsubscribed", now).status());
  }
  OUTFLOW_RETURN_IF_ERROR(tx.Commit().WithContext("unsubscribe"));
  return at;
}

}  // namespace outflow
