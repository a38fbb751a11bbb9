#include "campaigns/campaign_dispatcher.h"

#include <charconv>
#include <random>

#include "base/log.h"
#include "time/local_day.h"
#include "time/send_window.h"

namespace outflow {

TemplateValues ContactTemplateValues(const Contact& c) {
  TemplateValues v;
  auto put = [&](const char* name, const std::optional<std::string>& value) {
    if (value && !value->empty()) v.emplace(name, *value);
  };
  put("email", c.email);
  put("phone", c.phone);
  put("first_name", c.first_name);
  put("last_name", c.last_name);
  put("time_zone", c.time_zone);
  put("locale", c.locale);
  put("owner", c.owner);
  put("pipeline_stage", c.pipeline_stage);
  put("tier", c.tier);
  put("external_id", c.external_id);
  auto number = [](double d) {
    char buf[32];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, d);
    return ec == std::errc() ? std::string(buf, p) : std::to_string(d);
  };
  if (c.engagement_score) v.emplace("engagement_score", number(*c.engagement_score));
  for (const auto& [name, value] : c.custom) {
    if (const auto* s = std::get_if<std::string>(&value)) {
      if (!s->empty()) v.emplace(name, *s);
    } else if (const auto* d = std::get_if<double>(&value)) {
      v.emplace(name, number(*d));
    } else if (const auto* b = std::get_if<bool>(&value)) {
      v.emplace(name, *b ? "true" : "false");
    }
  }
  return v;
}

// The sending loop of one campaign.
struct CampaignDispatcher::Loop {
  CampaignId id;
  std::thread thread;
  bool wake = false;       // GUARDED_BY(mu_): something changed; look again before ending
  bool interrupt = false;  // GUARDED_BY(mu_): stop sending now
  bool done = false;       // GUARDED_BY(mu_): the thread has ended (join it)
};

// What the campaigns of one account share.
struct CampaignDispatcher::Gate {
  Gate(int rate, int burst, Duration window, std::optional<Timestamp> seeded_at) : limiter(rate, burst, window) {
    if (seeded_at) {
      std::vector<Timestamp> seed(static_cast<size_t>(rate), *seeded_at);
      limiter.Seed(seed);
    }
  }
  RateLimiter limiter;
  std::mutex mu;
  Timestamp hold_until{};  // GUARDED_BY(mu): no sends before (outage, Retry-After)
  Timestamp HeldUntil() {
    std::lock_guard lock(mu);
    return hold_until;
  }
  int outage_failures = 0; // GUARDED_BY(mu): chunks in a row that failed wholly transiently
};

CampaignDispatcher::CampaignDispatcher(CampaignStore& store, SenderFactory senders, TemplateCompiler compile,
                                       Clock& clock, DispatcherOptions options)
    : store_(store), senders_(std::move(senders)), compile_(std::move(compile)), clock_(clock), options_(options) {}

CampaignDispatcher::~CampaignDispatcher() {
  Stop();
}

Status CampaignDispatcher::Start() {
  {
    std::lock_guard lock(mu_);
    started_at_ = clock_.Now();
  }
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<Campaign> active, store_.ActiveCampaigns());
  for (const Campaign& c : active) {
    if (c.state != CampaignState::kProcessing && c.state != CampaignState::kPaused) continue;
    OUTFLOW_ASSIGN_OR_RETURN(int64_t requeued, store_.RequeueSending(c.id, clock_.Now()));
    if (requeued > 0) {
      log::Warn("campaign sends in flight at a crash requeued",
                {{"campaign", c.id.value()}, {"requeued", requeued}});
    }
  }
  std::set<CampaignId> woken;
  {
    std::lock_guard lock(mu_);
    started_ = true;
    woken.swap(early_wakes_);
  }
  for (const Campaign& c : active) {
    if (c.state == CampaignState::kProcessing) woken.insert(c.id);
  }
  // Campaigns resumed or retried through the API while this ran are in early_wakes_.
  for (CampaignId id : woken) Wake(id);
  return Status::Ok();
}

void CampaignDispatcher::Wake(CampaignId id) {
  std::vector<std::unique_ptr<Loop>> ended;  // joined below, without the lock
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    if (!started_) {
      // Before Start(): a loop now could claim entries that Start's requeue then
      // takes back from under it, and its limiter would miss the restart guard.
      early_wakes_.insert(id);
      return;
    }
    // Reap every ended loop (a finished campaign leaves one).
    for (auto it = loops_.begin(); it != loops_.end();) {
      if (it->second->done) {
        ended.push_back(std::move(it->second));
        it = loops_.erase(it);
      } else {
        ++it;
      }
    }
    auto it = loops_.find(id);
    if (it != loops_.end()) {
      it->second->wake = true;
      cv_.notify_all();
    } else {
      auto loop = std::make_unique<Loop>();
      loop->id = id;
      Loop* raw = loop.get();
      loops_.emplace(id, std::move(loop));
      raw->thread = std::thread([this, raw] { Run(*raw); });
    }
  }
  // An ended thread may still be closing its sender's connections (an SMTP QUIT to a
  // server that hangs): never wait for that while holding mu_.
  for (auto& loop : ended) loop->thread.join();
}

void CampaignDispatcher::WakeAll() {
  std::lock_guard lock(mu_);
  for (auto& [id, loop] : loops_) {
    if (!loop->done) loop->wake = true;
  }
  cv_.notify_all();
}

void CampaignDispatcher::Interrupt(CampaignId id) {
  std::lock_guard lock(mu_);
  auto it = loops_.find(id);
  if (it == loops_.end() || it->second->done) return;
  it->second->interrupt = true;
  cv_.notify_all();
}

void CampaignDispatcher::Stop() {
  std::map<CampaignId, std::unique_ptr<Loop>> loops;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
    loops.swap(loops_);
  }
  for (auto& [id, loop] : loops) {
    if (loop->thread.joinable()) loop->thread.join();
  }
}

size_t CampaignDispatcher::active_loops() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [id, loop] : loops_) n += loop->done ? 0 : 1;
  return n;
}

std::string CampaignDispatcher::RenderMetrics() const {
  std::string out;
  auto counter = [&out](const char* name, const char* help, const char* label, int64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name + label + " " +
           std::to_string(v) + "\n";
  };
  out += "# HELP outflow_campaign_messages_total Campaign messages by result since start (transient: each retried or given up).\n"
         "# TYPE outflow_campaign_messages_total counter\n";
  out += "outflow_campaign_messages_total{result=\"sent\"} " + std::to_string(stats_.sent.load()) + "\n";
  out += "outflow_campaign_messages_total{result=\"failed\"} " + std::to_string(stats_.failed.load()) + "\n";
  out += "outflow_campaign_messages_total{result=\"transient\"} " + std::to_string(stats_.transient.load()) + "\n";
  counter("outflow_campaign_batches_total", "Claimed batches sent and recorded since start.", "", stats_.batches.load());
  out += "# HELP outflow_campaign_sending_loops Campaigns being sent now.\n# TYPE outflow_campaign_sending_loops gauge\n"
         "outflow_campaign_sending_loops " +
         std::to_string(active_loops()) + "\n";
  return out;
}

void CampaignDispatcher::Sleep(Loop& loop, Timestamp deadline) {
  std::unique_lock lock(mu_);
  while (!stopping_ && !loop.wake && !loop.interrupt && clock_.Now() < deadline) {
    clock_.WaitUntil(cv_, lock, deadline);
  }
  loop.wake = false;
}

void CampaignDispatcher::SleepUntilStop(Timestamp deadline) {
  std::unique_lock lock(mu_);
  while (!stopping_ && clock_.Now() < deadline) clock_.WaitUntil(cv_, lock, deadline);
}

std::shared_ptr<CampaignDispatcher::Gate> CampaignDispatcher::GateFor(const SendingAccount& a) {
  std::lock_guard lock(mu_);
  auto& gate = gates_[a.id];
  if (!gate || gate->limiter.limit() != a.rate_per_second || gate->limiter.burst() != a.burst) {
    // First use since the start, or the limit changed: the new limiter has no
    // history, so it starts full (see the header).
    std::optional<Timestamp> seed;
    if (options_.guard_restart) seed = gate ? clock_.Now() : started_at_;
    gate = std::make_shared<Gate>(a.rate_per_second, a.burst, std::chrono::seconds(1) + options_.pacing_guard, seed);
  }
  return gate;
}

namespace {

// What a loop keeps between batches, rebuilt when the account or template changes.
struct SendingContext {
  SendingAccount account;
  std::unique_ptr<channels::ChannelSender> sender;
  std::optional<SendWindows> windows;
  MessageTemplateRecord template_record;
  std::optional<CompiledTemplate> compiled;
};

std::string DisplayName(const Contact& c) {
  std::string name = c.first_name.value_or("");
  if (c.last_name && !c.last_name->empty()) name += (name.empty() ? "" : " ") + *c.last_name;
  return name;
}

}  // namespace

void CampaignDispatcher::Run(Loop& loop) {
  const CampaignId id = loop.id;
  SendingContext ctx;
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.0, 1.0);

  // Ends the loop unless a wake arrived meanwhile; true when it ends.
  auto finish = [&]() {
    std::lock_guard lock(mu_);
    if (loop.wake && !stopping_) {
      loop.wake = false;
      return false;
    }
    loop.done = true;
    return true;
  };
  // Fails the campaign (e.g. its account cannot send at all).
  auto fail_campaign = [&](const std::string& why) {
    log::Error("campaign failed", {{"campaign", id.value()}, {"error", why}});
    Result<Campaign> r = store_.SetState(id, {CampaignState::kProcessing}, CampaignState::kFailed, clock_.Now(), why);
    if (!r.ok() && r.status().code() != Code::kConflict) {
      log::Error("cannot mark campaign failed", {{"campaign", id.value()}, {"error", r.status().message()}});
      SleepUntilStop(clock_.Now() + std::chrono::seconds(1));  // not a tight loop of rebuilds and failures
    }
  };
  // A store error: log, wait a little, try again.
  auto store_trouble = [&](const Status& st) {
    log::Error("campaign store error; retrying", {{"campaign", id.value()}, {"error", st.ToString()}});
    Sleep(loop, clock_.Now() + std::chrono::seconds(1));
  };

  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        loop.done = true;
        return;
      }
      loop.interrupt = false;
    }
    Result<Campaign> campaign = store_.GetCampaign(id);
    if (!campaign.ok()) {
      if (campaign.status().code() == Code::kNotFound) {
        if (finish()) return;
        continue;
      }
      store_trouble(campaign.status());
      continue;
    }
    if (campaign->state != CampaignState::kProcessing) {
      if (finish()) return;
      continue;
    }
    // The account and template, rebuilt when they changed.
    Result<SendingAccount> account = store_.GetAccount(campaign->account);
    if (!account.ok()) {
      store_trouble(account.status());
      continue;
    }
    if (!ctx.sender || ctx.account.id != account->id || ctx.account.updated_at != account->updated_at) {
      ctx.sender.reset();
      Result<SendWindows> windows = SendWindows::Create(account->time_zone, account->windows);
      if (!windows.ok()) {
        fail_campaign("account " + account->name + ": " + windows.status().message());
        continue;
      }
      Result<std::unique_ptr<channels::ChannelSender>> sender = senders_(*account);
      if (!sender.ok()) {
        if (sender.status().code() == Code::kUnavailable) {
          store_trouble(sender.status());
          continue;
        }
        fail_campaign("account " + account->name + ": " + sender.status().message());
        continue;
      }
      ctx.account = *account;
      ctx.windows = std::move(windows).value();
      ctx.sender = std::move(sender).value();
    }
    Result<MessageTemplateRecord> t = store_.GetTemplate(campaign->template_id);
    if (!t.ok()) {
      store_trouble(t.status());
      continue;
    }
    // Re-read every batch: an edited template applies from the next batch on.
    if (!ctx.compiled || ctx.template_record.id != t->id || ctx.template_record.updated_at != t->updated_at) {
      Result<CompiledTemplate> compiled = compile_(*t);
      if (!compiled.ok()) {
        if (compiled.status().code() == Code::kUnavailable) {
          store_trouble(compiled.status());
          continue;
        }
        fail_campaign("template " + t->name + ": " + compiled.status().message());
        continue;
      }
      ctx.template_record = *t;
      ctx.compiled = std::move(compiled).value();
    }
    const SendingAccount& acct = ctx.account;
    Timestamp now = clock_.Now();
    if (!ctx.windows->IsOpen(now)) {
      Sleep(loop, ctx.windows->NextOpen(now));
      continue;
    }
    std::shared_ptr<Gate> gate = GateFor(acct);
    if (const Timestamp hold = gate->HeldUntil(); hold > now) {
      Sleep(loop, hold);
      continue;
    }
    Result<std::string> day = LocalDay(acct.time_zone, now);
    if (!day.ok()) {
      fail_campaign("account " + acct.name + ": " + day.status().message());
      continue;
    }
    const int by_rate = static_cast<int>(
        std::max<int64_t>(1, acct.rate_per_second * options_.batch_time.count() / Duration(std::chrono::seconds(1)).count()));
    const int want = std::min(options_.max_batch, by_rate);
    Result<ClaimResult> claim = store_.Claim(id, now, want, *day, acct.daily_cap);
    if (!claim.ok()) {
      store_trouble(claim.status());
      continue;
    }
    if (claim->recipients.empty()) {
      bool cap_used = false;
      if (claim->cap_reached && acct.daily_cap) {
        // The claim was cut to what the cap leaves; it is used up only if nothing is left
        // (else nothing was due: wait for the next retry below, not for tomorrow).
        Result<int64_t> used = store_.DayCount(acct.id, *day);
        if (!used.ok()) {
          store_trouble(used.status());
          continue;
        }
        cap_used = *used >= *acct.daily_cap;
      }
      if (cap_used) {
        if (campaign->cap_policy == CapPolicy::kFail) {
          fail_campaign("daily cap of " + std::to_string(acct.daily_cap.value_or(0)) + " reached for account " +
                        acct.name + " on " + *day);
          continue;
        }
        Result<Timestamp> tomorrow = StartOfNextLocalDay(acct.time_zone, now);
        log::Info("campaign waits for the next day: daily cap reached",
                  {{"campaign", id.value()}, {"account", acct.name}, {"day", *day}});
        Sleep(loop, tomorrow.ok() ? *tomorrow : now + std::chrono::hours(1));
        continue;
      }
      Result<std::optional<Timestamp>> next = store_.NextAttempt(id);
      if (!next.ok()) {
        store_trouble(next.status());
        continue;
      }
      if (*next) {
        Sleep(loop, **next);
        continue;
      }
      Result<Campaign> after = store_.CompleteIfDone(id, clock_.Now());
      if (!after.ok()) {
        store_trouble(after.status());
        continue;
      }
      if (after->state == CampaignState::kCompleted) {
        log::Info("campaign completed", {{"campaign", id.value()},
                                         {"sent", after->counts.sent},
                                         {"failed", after->counts.failed},
                                         {"skipped", after->counts.skipped}});
      }
      if (finish()) return;
      continue;
    }

    // Oldest due first: when a hold or an interruption cuts a batch short, the entries
    // given back are the ones that waited least, so during an outage the probing
    // chunks rotate through the recipients instead of spending the same ones' attempts.
    std::vector<ClaimedRecipient>& claimed = claim->recipients;
    std::stable_sort(claimed.begin(), claimed.end(), [](const ClaimedRecipient& a, const ClaimedRecipient& b) {
      return a.recipient.next_attempt_at.value_or(Timestamp{}) < b.recipient.next_attempt_at.value_or(Timestamp{});
    });
    // Render. A recipient whose message cannot be rendered fails with the reason.
    std::vector<RecipientOutcome> outcomes;
    outcomes.reserve(claimed.size());
    std::vector<channels::OutboundMessage> messages;
    std::vector<size_t> message_of;  // claimed index of each message
    messages.reserve(claimed.size());
    for (size_t i = 0; i < claimed.size(); ++i) {
      const ClaimedRecipient& cr = claimed[i];
      Result<RenderedMessage> r = Render(*ctx.compiled, ContactTemplateValues(cr.contact));
      if (!r.ok()) {
        RecipientOutcome o;
        o.contact_id = cr.recipient.contact_id;
        o.attempt = cr.recipient.attempts;
        o.state = RecipientState::kFailed;
        o.error = "template: " + r.status().message();
        stats_.failed.fetch_add(1, std::memory_order_relaxed);
        outcomes.push_back(std::move(o));
        continue;
      }
      channels::OutboundMessage m;
      m.idempotency_key = RecipientKey(id, cr.recipient.contact_id);
      m.to = cr.recipient.address;
      m.to_name = DisplayName(cr.contact);
      m.subject = std::move(r->subject);
      m.text = std::move(r->text);
      m.html = std::move(r->html);
      if (acct.channel == Channel::kEmail && options_.unsubscribe_url) {
        m.unsubscribe_url = options_.unsubscribe_url(id, cr.recipient.contact_id);
      }
      messages.push_back(std::move(m));
      message_of.push_back(i);
    }

    // Send, chunk by chunk, as the account's limiter grants.
    size_t next_msg = 0;
    bool interrupted = false;
    while (next_msg < messages.size()) {
      {
        std::lock_guard lock(mu_);
        interrupted = stopping_ || loop.interrupt;
      }
      if (interrupted) break;
      now = clock_.Now();
      if (gate->HeldUntil() > now) break;  // held (outage, Retry-After): give the rest back, the outer loop waits
      // The claim's window and day must still hold when a chunk goes: a batch that
      // waited on the limiter past the window's end or past local midnight gives the
      // rest back (the next claim counts it against the new day's cap).
      if (!ctx.windows->IsOpen(now)) break;
      if (Result<std::string> today = LocalDay(acct.time_zone, now); !today.ok() || *today != *day) break;
      const int remaining = static_cast<int>(messages.size() - next_msg);
      const int granted = gate->limiter.TryAcquire(std::min(remaining, gate->limiter.burst()), now);
      if (granted == 0) {
        Sleep(loop, gate->limiter.NextAvailable(now));
        continue;
      }
      std::span<const channels::OutboundMessage> chunk(messages.data() + next_msg, static_cast<size_t>(granted));
      std::vector<channels::SendResult> results = ctx.sender->SendBatch(chunk);
      const Timestamp after_send = clock_.Now();
      bool any_ok = false;
      std::optional<Duration> retry_after;
      for (size_t k = 0; k < chunk.size(); ++k) {
        const ClaimedRecipient& cr = claimed[message_of[next_msg + k]];
        channels::SendResult& res = k < results.size() ? results[k] : results.emplace_back();
        RecipientOutcome o;
        o.contact_id = cr.recipient.contact_id;
        o.attempt = cr.recipient.attempts;
        switch (res.outcome) {
          case channels::SendOutcome::kSent:
            any_ok = true;
            o.state = RecipientState::kSent;
            o.provider_id = std::move(res.provider_id);
            stats_.sent.fetch_add(1, std::memory_order_relaxed);
            break;
          case channels::SendOutcome::kPermanent:
            any_ok = true;  // the provider answered
            o.state = RecipientState::kFailed;
            o.error = std::move(res.error);
            stats_.failed.fetch_add(1, std::memory_order_relaxed);
            break;
          case channels::SendOutcome::kTransient: {
            stats_.transient.fetch_add(1, std::memory_order_relaxed);
            if (res.retry_after) retry_after = std::max(retry_after.value_or(Duration::zero()), *res.retry_after);
            if (cr.recipient.attempts >= campaign->max_attempts) {
              o.state = RecipientState::kFailed;
              o.error = "gave up after " + std::to_string(cr.recipient.attempts) + " attempts: " + res.error;
              stats_.failed.fetch_add(1, std::memory_order_relaxed);
            } else {
              const int n = cr.recipient.attempts;
              Duration delay = options_.retry_backoff.Ceiling(n) / 2 + options_.retry_backoff.Delay(n, jitter(rng)) / 2;
              if (res.retry_after) delay = std::max(delay, *res.retry_after);
              o.state = RecipientState::kPending;
              o.error = std::move(res.error);
              o.next_attempt_at = after_send + delay;
            }
            break;
          }
        }
        outcomes.push_back(std::move(o));
      }
      {
        std::lock_guard g(gate->mu);
        if (any_ok) {
          gate->outage_failures = 0;
        } else {
          ++gate->outage_failures;
          gate->hold_until = std::max(gate->hold_until,
                                      after_send + options_.outage_backoff.Ceiling(gate->outage_failures));
        }
        if (retry_after) gate->hold_until = std::max(gate->hold_until, after_send + *retry_after);
      }
      next_msg += static_cast<size_t>(granted);
    }
    // Claimed but never handed to the channel: back to pending, the attempt not counted.
    for (size_t k = next_msg; k < messages.size(); ++k) {
      const ClaimedRecipient& cr = claimed[message_of[k]];
      RecipientOutcome o;
      o.contact_id = cr.recipient.contact_id;
      o.attempt = cr.recipient.attempts;
      o.state = RecipientState::kPending;
      o.attempted = false;
      // Due as before: it keeps its place in the queue (oldest due first).
      o.next_attempt_at = cr.recipient.next_attempt_at.value_or(clock_.Now());
      outcomes.push_back(std::move(o));
    }
    stats_.batches.fetch_add(1, std::memory_order_relaxed);
    // The outcomes must be recorded: retry until the store takes them (or we stop,
    // leaving the entries `sending` for the next start to requeue).
    const Timestamp record_deadline = clock_.Now() + std::chrono::seconds(5);
    while (true) {
      Result<Campaign> recorded = store_.Record(id, outcomes, clock_.Now());
      if (recorded.ok()) break;
      log::Error("cannot record campaign sends; retrying",
                 {{"campaign", id.value()}, {"error", recorded.status().ToString()}});
      {
        std::lock_guard lock(mu_);
        if (stopping_ && clock_.Now() >= record_deadline) break;
      }
      // Neither a pause nor a wake may cut this wait short (they would make it spin);
      // a stop gives the store until record_deadline before the entries are left
      // `sending` for the next start to requeue.
      std::unique_lock lock(mu_);
      const Timestamp until = clock_.Now() + std::chrono::milliseconds(500);
      while (clock_.Now() < until && !(stopping_ && clock_.Now() >= record_deadline)) {
        clock_.WaitUntil(cv_, lock, stopping_ ? std::min(until, record_deadline) : until);
      }
    }
  }
}

}  // namespace outflow
