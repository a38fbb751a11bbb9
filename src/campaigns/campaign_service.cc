#include "campaigns/campaign_service.h"

#include <boost/json.hpp>

#include <charconv>

#include "base/log.h"
#include "channels/sender_factory.h"
#include "sending/render.h"

namespace outflow {

namespace json = boost::json;

namespace {

std::string CampaignName(const Campaign& c) {
  return "campaign " + std::to_string(c.id.value());
}

// A send time in the past is an error; one in each contact's zone only once it has
// passed in every zone.
Status CheckNotPast(const Campaign& c, Timestamp now) {
  if (c.local_send_at) {
    OUTFLOW_ASSIGN_OR_RETURN(LocalSendRange range, LocalSendRangeOf(*c.local_send_at, "send_at"));
    if (range.latest < now) {
      return Status::InvalidArgument("send_at: " + *c.local_send_at + " has passed in every time zone (now is " +
                                     FormatRfc3339(now) + ")");
    }
    return Status::Ok();
  }
  if (c.scheduled_at && *c.scheduled_at < now) {
    return Status::InvalidArgument("send_at: " + FormatRfc3339(*c.scheduled_at) + " is in the past (now is " +
                                   FormatRfc3339(now) + ")");
  }
  return Status::Ok();
}

// When a scheduled campaign's start job is due: its time, or when it was
// scheduled (or resumed) if that is later.
Timestamp StartDue(const Campaign& c) {
  Timestamp stamped = c.scheduled_state_at.value_or(c.created_at);
  return c.scheduled_at ? std::max(*c.scheduled_at, stamped) : stamped;
}

}  // namespace

CampaignService::CampaignService(CampaignStore& store, ContactService& contacts, JobService& jobs, Sender* sender,
                                 const SecretBox* secrets, Clock& clock, const net::OutboundPolicy& outbound)
    : store_(store),
      contacts_(contacts),
      jobs_(jobs),
      sender_(sender),
      secrets_(secrets),
      clock_(clock),
      outbound_(outbound) {}

// ---- What the send loops report ----

void CampaignService::SourceDrained(SourceRef source) {
  if (source.kind != SourceKind::kCampaign) return;
  Result<Campaign> c = store_.CompleteIfDone(CampaignId(source.id), clock_.Now());
  if (c.ok() && c->state == CampaignState::kCompleted) {
    log::Info("campaign completed", {{"campaign", source.id},
                                     {"sent", c->counts.sent},
                                     {"failed", c->counts.failed},
                                     {"skipped", c->counts.skipped}});
  }
}

void CampaignService::CapReached(AccountId account, const std::string& day) {
  Result<SendingAccount> a = store_.GetAccount(account);
  const std::string name = a.ok() ? a->name : std::to_string(account.value());
  FailAccountCampaigns(account,
                       "daily cap of " + std::to_string(a.ok() ? a->daily_cap.value_or(0) : 0) +
                           " reached for account " + name + " on " + day,
                       true);
}

void CampaignService::AccountUnusable(AccountId account, const std::string& why) {
  Result<SendingAccount> a = store_.GetAccount(account);
  FailAccountCampaigns(account, "account " + (a.ok() ? a->name : std::to_string(account.value())) + ": " + why, false);
}

void CampaignService::FailAccountCampaigns(AccountId account, const std::string& why, bool only_cap_fail) {
  Result<std::vector<Campaign>> active = store_.ActiveCampaigns();
  if (!active.ok()) return;
  for (const Campaign& c : *active) {
    if (c.account != account || c.state != CampaignState::kProcessing) continue;
    if (only_cap_fail && c.cap_policy != CapPolicy::kFail) continue;
    if (store_.SetState(c.id, {CampaignState::kProcessing}, CampaignState::kFailed, clock_.Now(), why).ok()) {
      log::Error("campaign failed", {{"campaign", c.id.value()}, {"error", why}});
      if (sender_ != nullptr) sender_->Interrupt({SourceKind::kCampaign, c.id.value()});
    }
  }
}

// ---- Accounts ----

Result<std::string> CampaignService::SealCredentials(const std::string& json_text, AccountId id) const {
  if (secrets_ == nullptr) {
    return Status::FailedPrecondition(
        "credentials: no secret key is configured, so credentials cannot be stored encrypted (start outflow with "
        "--secret-key-file or OUTFLOW_SECRET_KEY; see docs/secrets.md)");
  }
  return secrets_->Seal(json_text, CredentialsAd(id));
}

Result<SendingAccount> CampaignService::CreateAccount(SendingAccount a, const std::optional<std::string>& credentials) {
  OUTFLOW_RETURN_IF_ERROR(ValidateAccount(a));
  OUTFLOW_RETURN_IF_ERROR(channels::CheckSenderSettings(a, credentials.value_or("")));
  CampaignStore::SealFn seal;
  if (credentials) {
    if (secrets_ == nullptr) return SealCredentials(*credentials, AccountId()).status();
    seal = [this, &credentials](AccountId id) { return secrets_->Seal(*credentials, CredentialsAd(id)); };
  }
  OUTFLOW_ASSIGN_OR_RETURN(SendingAccount created, store_.CreateAccount(a, seal, clock_.Now()));
  log::Info("account created", {{"account", created.id.value()},
                                {"name", created.name},
                                {"provider", created.provider},
                                {"credentials", created.has_credentials}});
  return created;
}

Result<SendingAccount> CampaignService::UpdateAccount(AccountId id,
                                                      const std::function<Status(SendingAccount&)>& change,
                                                      const std::optional<std::string>& credentials) {
  OUTFLOW_ASSIGN_OR_RETURN(SendingAccount a, store_.GetAccount(id));
  OUTFLOW_RETURN_IF_ERROR(change(a));
  a.id = id;
  OUTFLOW_RETURN_IF_ERROR(ValidateAccount(a));
  std::optional<std::string> sealed;
  if (credentials) {
    OUTFLOW_RETURN_IF_ERROR(channels::CheckSenderSettings(a, *credentials));
    OUTFLOW_ASSIGN_OR_RETURN(sealed, SealCredentials(*credentials, id));
  } else {
    // The settings must still fit the stored credentials.
    OUTFLOW_ASSIGN_OR_RETURN(std::unique_ptr<channels::ChannelSender> sender, MakeSender(a));
  }
  OUTFLOW_ASSIGN_OR_RETURN(SendingAccount updated, store_.UpdateAccount(a, sealed, clock_.Now()));
  // Loops sleeping on this account's windows, cap or hold look again at once.
  if (sender_ != nullptr) {
    sender_->WakeAll();
    sender_->Wake(id);
  }
  log::Info("account updated", {{"account", id.value()}, {"credentials_changed", credentials.has_value()}});
  return updated;
}

Result<std::string> CampaignService::OpenCredentials(const SendingAccount& a) {
  OUTFLOW_ASSIGN_OR_RETURN(std::optional<std::string> sealed, store_.AccountCredentials(a.id));
  if (!sealed) return std::string();
  if (secrets_ == nullptr) {
    return Status::FailedPrecondition("account " + a.name +
                                      ": its credentials are encrypted and no secret key is configured");
  }
  Result<std::string> opened = secrets_->Open(*sealed, CredentialsAd(a.id));
  if (!opened.ok()) {
    return Status::FailedPrecondition("account " + a.name + ": cannot decrypt its credentials (" +
                                      opened.status().message() +
                                      "); was outflow started with a different secret key?");
  }
  return opened;
}

Result<std::unique_ptr<channels::ChannelSender>> CampaignService::MakeSender(const SendingAccount& a) {
  OUTFLOW_ASSIGN_OR_RETURN(std::string credentials, OpenCredentials(a));
  SendingAccount with_callback = a;
  // Twilio reports delivery to the account's status callback: Outflow's own unless set.
  if (a.provider == "twilio_sms" && !public_url_.empty()) {
    boost::system::error_code ec;
    json::value settings = json::parse(a.settings_json, ec);
    if (!ec && settings.is_object() && !settings.as_object().contains("status_callback")) {
      settings.as_object()["status_callback"] = public_url_ + "/v1/callbacks/twilio/" + std::to_string(a.id.value());
      with_callback.settings_json = json::serialize(settings);
    }
  }
  return channels::MakeSender(with_callback, credentials, clock_, outbound_);
}

Result<CallbackAccount> CampaignService::CallbackAccountOf(AccountId id) {
  OUTFLOW_ASSIGN_OR_RETURN(SendingAccount a, store_.GetAccount(id));
  OUTFLOW_ASSIGN_OR_RETURN(std::string credentials, OpenCredentials(a));
  CallbackAccount out{std::move(a), {}};
  if (credentials.empty()) return out;
  boost::system::error_code ec;
  json::value v = json::parse(credentials, ec);
  if (ec || !v.is_object())
    return Status::Corruption("account " + out.account.name + ": credentials are not a JSON object");
  out.credentials = std::move(v.as_object());
  return out;
}

Status CampaignService::VerifyAccount(AccountId id) {
  OUTFLOW_ASSIGN_OR_RETURN(SendingAccount a, store_.GetAccount(id));
  OUTFLOW_ASSIGN_OR_RETURN(std::unique_ptr<channels::ChannelSender> sender, MakeSender(a));
  return sender->Verify();
}

Result<JobId> CampaignService::StartVerify(AccountId id) {
  OUTFLOW_RETURN_IF_ERROR(store_.GetAccount(id).status());
  JobSpec spec;
  spec.kind = std::string(kAccountVerifyKind);
  spec.due_at = clock_.Now();
  spec.max_attempts = 1;  // a check: its answer is the result, not a failure to retry
  spec.payload = json::serialize(json::object{{"account_id", id.value()}});
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<EnqueueResult> made, jobs_.Enqueue(std::span(&spec, 1), ""));
  return made.front().id;
}

std::string CredentialsAd(AccountId id) {
  return "account:" + std::to_string(id.value());
}

// ---- Templates ----

Result<std::set<std::string, std::less<>>> CampaignService::KnownFields() {
  std::set<std::string, std::less<>> known;
  for (std::string_view f : StandardContactFields()) known.emplace(f);
  OUTFLOW_ASSIGN_OR_RETURN(ContactService::Defs defs, contacts_.Definitions());
  for (const auto& [name, def] : defs) known.insert(name);
  return known;
}

Result<CompiledTemplate> CampaignService::Compile(const MessageTemplateRecord& t) {
  OUTFLOW_ASSIGN_OR_RETURN(auto known, KnownFields());
  return CompileTemplate(MessageTemplate{t.subject, t.text, t.html}, known);
}

Result<MessageTemplateRecord> CampaignService::CreateTemplate(MessageTemplateRecord t) {
  if (t.name.empty() || t.name.size() > kMaxNameBytes) {
    return Status::InvalidArgument("name: must be 1 to " + std::to_string(kMaxNameBytes) + " bytes");
  }
  OUTFLOW_RETURN_IF_ERROR(Compile(t).status());
  return store_.CreateTemplate(t, clock_.Now());
}

Result<MessageTemplateRecord> CampaignService::UpdateTemplate(
    TemplateId id, const std::function<Status(MessageTemplateRecord&)>& change) {
  OUTFLOW_ASSIGN_OR_RETURN(MessageTemplateRecord t, store_.GetTemplate(id));
  OUTFLOW_RETURN_IF_ERROR(change(t));
  t.id = id;
  if (t.name.empty() || t.name.size() > kMaxNameBytes) {
    return Status::InvalidArgument("name: must be 1 to " + std::to_string(kMaxNameBytes) + " bytes");
  }
  OUTFLOW_RETURN_IF_ERROR(Compile(t).status());
  return store_.UpdateTemplate(t, clock_.Now());
}

Result<RenderedMessage> CampaignService::Preview(TemplateId id, ContactId contact) {
  OUTFLOW_ASSIGN_OR_RETURN(MessageTemplateRecord t, store_.GetTemplate(id));
  OUTFLOW_ASSIGN_OR_RETURN(CompiledTemplate compiled, Compile(t));
  Result<Contact> c = contacts_.Get(contact);
  if (!c.ok())
    return c.status().code() == Code::kNotFound
               ? Status::NotFound("contact_id: contact " + std::to_string(contact.value()) + " does not exist")
               : c.status();
  return Render(compiled, ContactTemplateValues(*c));
}

// ---- Campaigns ----

CampaignStore::JobFn CampaignService::StartJob(std::optional<JobSpec>& made) const {
  return [this, &made](const Campaign& c) -> Result<JobSpec> {
    JobSpec spec;
    spec.kind = std::string(kCampaignStartKind);
    spec.due_at = StartDue(c);
    spec.max_attempts = 100;  // store trouble retries; a dead start job would leave the campaign waiting
    // One job per scheduling: a resumed campaign gets a new one.
    spec.idempotency_key = "campaign-start-" + std::to_string(c.id.value()) + "-" +
                           std::to_string(ToMicros(c.scheduled_state_at.value_or(c.created_at)));
    spec.payload = json::serialize(json::object{{"campaign_id", c.id.value()}});
    OUTFLOW_RETURN_IF_ERROR(jobs_.Validate(spec, "start job"));
    made = spec;
    return spec;
  };
}

void CampaignService::Scheduled(const Campaign& c, const std::optional<JobSpec>& start_job) {
  if (start_job) jobs_.Stored(std::span(&*start_job, 1));
  log::Info("campaign scheduled", {{"campaign", c.id.value()}, {"send_at", FormatRfc3339(StartDue(c))}});
}

Result<Campaign> CampaignService::CreateCampaign(Campaign c, bool schedule) {
  OUTFLOW_RETURN_IF_ERROR(ValidateCampaign(c));
  const Timestamp now = clock_.Now();
  OUTFLOW_RETURN_IF_ERROR(CheckNotPast(c, now));
  Result<SendingAccount> account = store_.GetAccount(c.account);
  if (!account.ok()) {
    return account.status().code() == Code::kNotFound
               ? Status::NotFound("account_id: account " + std::to_string(c.account.value()) + " does not exist")
               : account.status();
  }
  Result<MessageTemplateRecord> t = store_.GetTemplate(c.template_id);
  if (!t.ok()) {
    return t.status().code() == Code::kNotFound
               ? Status::NotFound("template_id: template " + std::to_string(c.template_id.value()) + " does not exist")
               : t.status();
  }
  if (account->channel == Channel::kEmail && t->subject.empty()) {
    return Status::InvalidArgument("template_id: template " + t->name + " has no subject, and account " +
                                   account->name + " sends email");
  }
  // A template saved before a custom field was removed, or its rules changed, must still compile.
  if (Result<CompiledTemplate> compiled = Compile(*t); !compiled.ok()) {
    return Status::InvalidArgument("template_id: " + compiled.status().message());
  }
  // A scheduled campaign is stored with its start job in one transaction: an error
  // means neither exists, so a client that retries cannot end up with two going out.
  c.state = schedule ? CampaignState::kScheduled : CampaignState::kDraft;
  std::optional<JobSpec> start_job;
  OUTFLOW_ASSIGN_OR_RETURN(Campaign created,
                           store_.CreateCampaign(c, schedule ? StartJob(start_job) : CampaignStore::JobFn(), now));
  log::Info("campaign created", {{"campaign", created.id.value()}, {"name", created.name}});
  if (schedule) Scheduled(created, start_job);
  return created;
}

Result<Campaign> CampaignService::Schedule(CampaignId id) {
  return ScheduleAt(id, clock_.Now());
}

Result<Campaign> CampaignService::ScheduleAt(CampaignId id, Timestamp now) {
  OUTFLOW_ASSIGN_OR_RETURN(Campaign c, store_.GetCampaign(id));
  if (c.state != CampaignState::kDraft) {
    return Status::Conflict(CampaignName(c) + " is " + std::string(CampaignStateName(c.state)) +
                            "; only a draft can be scheduled");
  }
  OUTFLOW_RETURN_IF_ERROR(CheckNotPast(c, now));
  std::optional<JobSpec> start_job;
  OUTFLOW_ASSIGN_OR_RETURN(Campaign scheduled, store_.Schedule(id, {CampaignState::kDraft}, StartJob(start_job), now));
  Scheduled(scheduled, start_job);
  return scheduled;
}

Result<Campaign> CampaignService::Pause(CampaignId id) {
  OUTFLOW_ASSIGN_OR_RETURN(Campaign c, store_.SetState(id, {CampaignState::kScheduled, CampaignState::kProcessing},
                                                       CampaignState::kPaused, clock_.Now()));
  if (sender_ != nullptr) sender_->Interrupt({SourceKind::kCampaign, id.value()});
  log::Info("campaign paused", {{"campaign", id.value()}});
  return c;
}

Result<Campaign> CampaignService::Resume(CampaignId id) {
  OUTFLOW_ASSIGN_OR_RETURN(Campaign c, store_.GetCampaign(id));
  if (c.state != CampaignState::kPaused) {
    return Status::Conflict(CampaignName(c) + " is " + std::string(CampaignStateName(c.state)) +
                            "; only a paused campaign resumes");
  }
  const Timestamp now = clock_.Now();
  if (c.started_at) {
    OUTFLOW_ASSIGN_OR_RETURN(c, store_.SetState(id, {CampaignState::kPaused}, CampaignState::kProcessing, now));
    // Its last messages may have been recorded while it was paused.
    OUTFLOW_ASSIGN_OR_RETURN(c, store_.CompleteIfDone(id, now));
    if (sender_ != nullptr) sender_->Wake(c.account);
  } else {
    std::optional<JobSpec> start_job;
    OUTFLOW_ASSIGN_OR_RETURN(c, store_.Schedule(id, {CampaignState::kPaused}, StartJob(start_job), now));
    Scheduled(c, start_job);
  }
  log::Info("campaign resumed", {{"campaign", id.value()}, {"state", CampaignStateName(c.state)}});
  return c;
}

Result<Campaign> CampaignService::Cancel(CampaignId id) {
  OUTFLOW_ASSIGN_OR_RETURN(Campaign c, store_.SetState(id,
                                                       {CampaignState::kDraft, CampaignState::kScheduled,
                                                        CampaignState::kProcessing, CampaignState::kPaused},
                                                       CampaignState::kCancelled, clock_.Now()));
  if (sender_ != nullptr) sender_->Interrupt({SourceKind::kCampaign, id.value()});
  log::Info("campaign cancelled", {{"campaign", id.value()}});
  return c;
}

Result<int64_t> CampaignService::RetryFailed(CampaignId id) {
  OUTFLOW_ASSIGN_OR_RETURN(int64_t n, store_.RetryFailed(id, clock_.Now()));
  if (sender_ != nullptr) {
    if (Result<Campaign> c = store_.GetCampaign(id); c.ok()) sender_->Wake(c->account);
  }
  log::Info("campaign retries failed recipients", {{"campaign", id.value()}, {"recipients", n}});
  return n;
}

// ---- Unsubscribes ----

namespace {
constexpr std::string_view kUnsubscribeContext = "unsubscr";
}  // namespace

Result<std::optional<Timestamp>> CampaignService::Unsubscribe(int64_t contact_id, std::string_view source) {
  Result<std::optional<Timestamp>> at = store_.SetUnsubscribed(contact_id, true, clock_.Now());
  if (at.ok()) log::Info("contact unsubscribed", {{"contact", contact_id}, {"source", source}});
  return at;
}

Result<std::optional<Timestamp>> CampaignService::Resubscribe(int64_t contact_id) {
  Result<std::optional<Timestamp>> at = store_.SetUnsubscribed(contact_id, false, clock_.Now());
  if (at.ok()) log::Info("contact resubscribed", {{"contact", contact_id}});
  return at;
}

std::string CampaignService::UnsubscribeUrl(CampaignId campaign, int64_t contact_id) const {
  if (public_url_.empty() || secrets_ == nullptr) return {};
  const std::string message = std::to_string(campaign.value()) + "-" + std::to_string(contact_id);
  return public_url_ + "/u/" + message + "-" + secrets_->Tag(kUnsubscribeContext, message);
}

Result<int64_t> CampaignService::UnsubscribeByToken(std::string_view token) {
  const auto bad = Status::InvalidArgument("this unsubscribe link is not valid (it may have been cut short)");
  const size_t dash = token.rfind('-');
  if (secrets_ == nullptr || dash == std::string_view::npos) return bad;
  const std::string_view message = token.substr(0, dash);
  if (!secrets_->VerifyTag(kUnsubscribeContext, message, token.substr(dash + 1))) return bad;
  const size_t first = message.find('-');
  if (first == std::string_view::npos) return bad;
  int64_t contact = 0;
  const std::string_view digits = message.substr(first + 1);
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), contact);
  if (ec != std::errc() || p != digits.data() + digits.size()) return bad;
  int64_t campaign = 0;
  std::from_chars(message.data(), message.data() + first, campaign);  // digits: the tag covered them
  if (tracking_ != nullptr) {
    // On the campaign's message: the event and the unsubscribe in one transaction.
    OUTFLOW_ASSIGN_OR_RETURN(bool recorded,
                             tracking_->UnsubscribedByLink({SourceKind::kCampaign, campaign}, ContactId(contact)));
    if (recorded) {
      log::Info("contact unsubscribed",
                {{"contact", contact}, {"source", "link of campaign " + std::to_string(campaign)}});
      return contact;
    }
  }
  OUTFLOW_RETURN_IF_ERROR(Unsubscribe(contact, "link of campaign " + std::to_string(campaign)).status());
  return contact;
}

Status CampaignService::CompleteDrained() {
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<Campaign> active, store_.ActiveCampaigns());
  for (const Campaign& c : active) {
    if (c.state == CampaignState::kProcessing && c.counts.pending == 0) {
      OUTFLOW_RETURN_IF_ERROR(store_.CompleteIfDone(c.id, clock_.Now()).status());
    }
  }
  return Status::Ok();
}

RunResult CampaignService::RunStart(CampaignId id) {
  Result<Campaign> got = store_.GetCampaign(id);
  if (!got.ok()) {
    return got.status().code() == Code::kNotFound ? RunResult::Done() : RunResult::Retry(got.status().message());
  }
  Campaign& c = *got;
  if (c.state != CampaignState::kScheduled) {
    // Started already: a rerun after a crash finishes the fan-out it began.
    return c.started_at ? FanOutRest(c) : RunResult::Done();  // else paused or cancelled before starting
  }
  const Timestamp now = clock_.Now();
  const Timestamp due = StartDue(c);
  if (now < due) return RunResult::Retry("not due yet", due);
  auto fail = [&](const std::string& why) {
    Result<Campaign> r = store_.SetState(id, {CampaignState::kScheduled}, CampaignState::kFailed, clock_.Now(), why);
    if (!r.ok() && r.status().code() != Code::kConflict) return RunResult::Retry(r.status().message());
    log::Error("campaign failed", {{"campaign", id.value()}, {"error", why}});
    return RunResult::Done();
  };
  if (c.missed_after_seconds && now - due > std::chrono::seconds(*c.missed_after_seconds)) {
    return fail("missed: due at " + FormatRfc3339(due) + ", could start only at " + FormatRfc3339(now) +
                ", later than missed_after_seconds (" + std::to_string(*c.missed_after_seconds) + ")");
  }
  Result<SendingAccount> account = store_.GetAccount(c.account);
  if (!account.ok()) return RunResult::Retry(account.status().message());
  Result<std::unique_ptr<channels::ChannelSender>> sender = MakeSender(*account);
  if (!sender.ok()) return fail("account " + account->name + ": " + sender.status().message());
  if (Status v = (*sender)->Verify(); !v.ok()) {
    if (v.code() != Code::kUnavailable) return fail("account " + account->name + ": " + v.message());
    // Unreachable now: the sends retry with backoff and fail with the reason if it stays down.
    log::Warn("campaign starts with its provider unreachable",
              {{"campaign", id.value()}, {"account", account->name}, {"error", v.message()}});
  }
  sender->reset();
  Result<Campaign> started = store_.Start(id, clock_.Now());
  if (!started.ok()) {
    if (started.status().code() == Code::kConflict) return RunResult::Done();  // paused or cancelled meanwhile
    if (started.status().code() == Code::kFailedPrecondition) {                // a segment is still filling
      return RunResult::Retry(started.status().message(), clock_.Now() + kWaitForFill);
    }
    return RunResult::Retry(started.status().message());
  }
  log::Info("campaign started", {{"campaign", id.value()},
                                 {"state", CampaignStateName(started->state)},
                                 {"late_ms", static_cast<int64_t>((now - due).count() / 1000)}});
  return FanOutRest(*started);
}

RunResult CampaignService::FanOutRest(const Campaign& c) {
  if (c.state == CampaignState::kProcessing && sender_ != nullptr) sender_->Wake(c.account);
  for (bool done = false; !done;) {  // one short transaction a chunk: the writer is free between them
    Result<bool> step = store_.ContinueFanOut(c.id, clock_.Now());
    if (!step.ok()) return RunResult::Retry(step.status().message());  // resumes at the committed cursor
    done = *step;
    if (sender_ != nullptr) sender_->Wake(c.account);
  }
  Result<Campaign> out = store_.GetCampaign(c.id);
  if (!out.ok()) return RunResult::Done();  // the fan-out is over; only the log line is lost
  log::Info("campaign fanned out", {{"campaign", c.id.value()},
                                    {"state", CampaignStateName(out->state)},
                                    {"recipients", out->counts.total},
                                    {"pending", out->counts.pending},
                                    {"skipped", out->counts.skipped}});
  return RunResult::Done();
}

// ---- The start and verify jobs ----

namespace {

// The integer `key` of a job's payload {"<key>": N}; nullopt when it is not that.
std::optional<int64_t> PayloadId(std::string_view payload, std::string_view key) {
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  const json::value* id = o == nullptr ? nullptr : o->if_contains(key);
  if (id == nullptr || !id->is_int64()) return std::nullopt;
  return id->as_int64();
}

Status CheckPayloadId(std::string_view payload, std::string_view key, std::string_view field) {
  if (PayloadId(payload, key)) return Status::Ok();
  return Status::InvalidArgument(std::string(field) + ": must be {\"" + std::string(key) + "\": N}");
}

}  // namespace

std::string CampaignStartHandler::Description() const {
  return "starts a scheduled campaign: freezes its audience and hands it to the sender (payload: {\"campaign_id\"})";
}

Status CampaignStartHandler::ValidatePayload(std::string_view payload_json, std::string_view field) const {
  return CheckPayloadId(payload_json, "campaign_id", field);
}

RunResult CampaignStartHandler::Run(const Job& job) {
  if (service_ == nullptr) return RunResult::Retry("campaigns are not set up in this process");
  std::optional<int64_t> id = PayloadId(job.payload, "campaign_id");
  if (!id) return RunResult::Fail("bad payload");
  return service_->RunStart(CampaignId(*id));
}

std::string AccountVerifyHandler::Description() const {
  return "checks a sending account's settings and credentials with its provider (payload: {\"account_id\"})";
}

Status AccountVerifyHandler::ValidatePayload(std::string_view payload_json, std::string_view field) const {
  return CheckPayloadId(payload_json, "account_id", field);
}

RunResult AccountVerifyHandler::Run(const Job& job) {
  if (service_ == nullptr) return RunResult::Retry("accounts are not set up in this process");
  std::optional<int64_t> id = PayloadId(job.payload, "account_id");
  if (!id) return RunResult::Fail("payload: must be {\"account_id\": N}");
  Status st = service_->VerifyAccount(AccountId(*id));
  return st.ok() ? RunResult::Done() : RunResult::Fail(st.message());
}

}  // namespace outflow
