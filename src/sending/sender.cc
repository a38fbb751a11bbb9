#include "sending/sender.h"

#include <future>
#include <random>
#include <set>

#include "base/log.h"
#include "sending/render.h"
#include "time/local_day.h"
#include "time/send_window.h"

namespace outflow {

// The sending loop of one account.
struct Sender::Loop {
  AccountId account;
  std::thread thread;
  bool wake = false;                    // GUARDED_BY(mu_): something changed; look again before ending
  bool done = false;                    // GUARDED_BY(mu_): the thread has ended (join it)
  std::optional<Timestamp> idle_since;  // this thread only: when it last found nothing to do
  int due_unclaimed = 0;                // this thread only: claims in a row that found a due message but took none
};

// What survives a loop's end: the account's limiter and circuit.
struct Sender::Gate {
  Gate(int rate, int burst, Duration window, std::optional<Timestamp> seeded_at) : limiter(rate, burst, window) {
    if (seeded_at) limiter.Seed(std::vector<Timestamp>(static_cast<size_t>(rate), *seeded_at));
  }
  RateLimiter limiter;
  std::mutex mu;
  Timestamp hold_until{};       // GUARDED_BY(mu): no sends before (outage, Retry-After)
  int outage_failures = 0;      // GUARDED_BY(mu): chunks in a row that failed wholly transiently
  std::set<MessageId> failing;  // GUARDED_BY(mu): the distinct messages of those chunks
  Timestamp HeldUntil() {
    std::lock_guard lock(mu);
    return hold_until;
  }
  // Open once the failures in a row span several messages: one bad recipient that
  // keeps failing alone is that recipient's problem (it spends its own attempts).
  static constexpr size_t kOpenAfterMessages = 3;
  bool CircuitOpen() {
    std::lock_guard lock(mu);
    return failing.size() >= kOpenAfterMessages;
  }
};

// What a loop keeps between batches, rebuilt when the account or a template changes.
struct Sender::Context {
  SendingAccount account;
  std::unique_ptr<channels::ChannelSender> sender;
  std::optional<SendWindows> windows;
  std::shared_ptr<Gate> gate;
  struct CachedTemplate {
    Timestamp updated_at;
    Result<CompiledTemplate> compiled = Status::Internal("not compiled");
    bool tracking = true;
  };
  std::map<TemplateId, CachedTemplate> templates;
  ContactRules rules;                                // the account's over the global ones
  std::map<std::string, SendWindows> quiet_by_zone;  // the hours outside quiet_hours, per contact zone
  std::mt19937_64 rng{std::random_device{}()};
};

// One claimed batch on its way through render, send and record.
struct Sender::Batch {
  std::vector<ClaimedMessage> claimed;
  uint64_t seq = 0;  // interrupt_seq_ when claimed
  std::vector<MessageOutcome> outcomes;
  std::vector<channels::OutboundMessage> messages;
  std::vector<size_t> message_of;  // claimed index of each message
  std::set<MessageId> count_send;  // sends the frequency caps count
  std::future<void> recording;     // the previous chunk's outcomes being committed
};

namespace {

MessageOutcome OutcomeFor(const Message& m, MessageState state, std::string reason = {}) {
  MessageOutcome o;
  o.id = m.id;
  o.attempt = m.attempts;
  o.state = state;
  o.reason = std::move(reason);
  return o;
}

// Claimed but never handed to the channel: back to queued, the attempt not counted.
MessageOutcome GiveBack(const Message& m) {
  MessageOutcome o = OutcomeFor(m, MessageState::kQueued);
  o.attempted = false;
  return o;
}

}  // namespace

Sender::Sender(OutboxStore& outbox, CampaignStore& accounts, SenderFactory senders, TemplateCompiler compile,
               Clock& clock, SenderOptions options)
    : outbox_(outbox),
      accounts_(accounts),
      senders_(std::move(senders)),
      compile_(std::move(compile)),
      clock_(clock),
      options_(std::move(options)) {}

Sender::~Sender() {
  Stop();
}

Status Sender::Start() {
  {
    std::lock_guard lock(mu_);
    started_at_ = clock_.Now();
  }
  OUTFLOW_ASSIGN_OR_RETURN(std::vector<AccountId> busy, outbox_.AccountsWithWork());
  std::set<AccountId> woken(busy.begin(), busy.end());
  {
    std::lock_guard lock(mu_);
    started_ = true;
    woken.insert(early_wakes_.begin(), early_wakes_.end());
    early_wakes_.clear();
  }
  for (AccountId id : woken) Wake(id);
  return Status::Ok();
}

void Sender::Wake(AccountId account) {
  std::vector<std::unique_ptr<Loop>> ended;  // joined below, without the lock
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    if (!started_) {
      early_wakes_.insert(account);  // its limiter must see the restart guard first
      return;
    }
    for (auto it = loops_.begin(); it != loops_.end();) {
      if (it->second->done) {
        ended.push_back(std::move(it->second));
        it = loops_.erase(it);
      } else {
        ++it;
      }
    }
    if (auto it = loops_.find(account); it != loops_.end()) {
      it->second->wake = true;
      cv_.notify_all();
    } else {
      auto loop = std::make_unique<Loop>();
      loop->account = account;
      Loop* raw = loop.get();
      loops_.emplace(account, std::move(loop));
      raw->thread = std::thread([this, raw] { Run(*raw); });
    }
  }
  // An ended thread may still be closing its connections: never join under mu_.
  for (auto& loop : ended) loop->thread.join();
}

void Sender::WakeAll() {
  std::lock_guard lock(mu_);
  for (auto& [id, loop] : loops_) {
    if (!loop->done) loop->wake = true;
  }
  cv_.notify_all();
}

void Sender::Interrupt(SourceRef source) {
  std::lock_guard lock(mu_);
  interrupted_[source] = ++interrupt_seq_;
  cv_.notify_all();
}

void Sender::Stop() {
  std::map<AccountId, std::unique_ptr<Loop>> loops;
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

size_t Sender::active_loops() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [id, loop] : loops_) n += loop->done ? 0 : 1;
  return n;
}

std::string Sender::RenderMetrics() const {
  std::string out =
      "# HELP outflow_messages_total Messages by result since start (transient: each retried or given up).\n"
      "# TYPE outflow_messages_total counter\n";
  out += "outflow_messages_total{result=\"sent\"} " + std::to_string(stats_.sent.load()) + "\n";
  out += "outflow_messages_total{result=\"failed\"} " + std::to_string(stats_.failed.load()) + "\n";
  out += "outflow_messages_total{result=\"transient\"} " + std::to_string(stats_.transient.load()) + "\n";
  out +=
      "# HELP outflow_message_batches_total Claimed batches sent and recorded since start.\n"
      "# TYPE outflow_message_batches_total counter\noutflow_message_batches_total " +
      std::to_string(stats_.batches.load()) + "\n";
  out +=
      "# HELP outflow_sending_loops Accounts being sent on now.\n# TYPE outflow_sending_loops gauge\n"
      "outflow_sending_loops " +
      std::to_string(active_loops()) + "\n";
  return out;
}

void Sender::Sleep(Loop& loop, Timestamp deadline) {
  std::unique_lock lock(mu_);
  while (!stopping_ && !loop.wake && clock_.Now() < deadline) clock_.WaitUntil(cv_, lock, deadline);
  loop.wake = false;
}

std::shared_ptr<Sender::Gate> Sender::GateFor(const SendingAccount& a) {
  std::lock_guard lock(mu_);
  auto& gate = gates_[a.id];
  if (!gate || gate->limiter.limit() != a.rate_per_second || gate->limiter.burst() != a.burst) {
    // A changed limit starts a new limiter, seeded full so that the change cannot
    // let a second burst through at once.
    std::optional<Timestamp> seed;
    if (options_.guard_restart) seed = gate ? clock_.Now() : started_at_;
    gate = std::make_shared<Gate>(a.rate_per_second, a.burst, std::chrono::seconds(1) + options_.pacing_guard, seed);
  }
  return gate;
}

void Sender::Run(Loop& loop) {
  // This loop owns the account: what a crash left `sending` goes back to queued
  // before anything is claimed, once per process (a loop of this process that ended
  // had recorded its outcomes).
  bool first = false;
  {
    std::lock_guard lock(mu_);
    first = requeued_.insert(loop.account).second;
  }
  if (first) {
    Result<int64_t> n = outbox_.RequeueSending(loop.account, clock_.Now());
    if (!n.ok()) {
      std::lock_guard lock(mu_);
      requeued_.erase(loop.account);  // the next loop tries again
    } else if (*n > 0) {
      log::Warn("sends in flight at a stop requeued", {{"account", loop.account.value()}, {"requeued", *n}});
    }
  }
  Context ctx;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        loop.done = true;
        return;
      }
    }
    if (Step(loop, ctx)) continue;
    std::lock_guard lock(mu_);
    if (loop.wake && !stopping_) {
      loop.wake = false;
      continue;
    }
    loop.done = true;
    return;
  }
}

Status Sender::Refresh(Loop& loop, Context& ctx) {
  OUTFLOW_ASSIGN_OR_RETURN(SendingAccount account, accounts_.GetAccount(loop.account));
  if (ctx.sender && ctx.account.updated_at == account.updated_at) return Status::Ok();
  ctx.sender.reset();
  OUTFLOW_ASSIGN_OR_RETURN(SendWindows windows, SendWindows::Create(account.time_zone, account.windows));
  OUTFLOW_ASSIGN_OR_RETURN(std::unique_ptr<channels::ChannelSender> sender, senders_(account));
  ctx.account = std::move(account);
  ctx.windows = std::move(windows);
  ctx.sender = std::move(sender);
  ctx.gate = GateFor(ctx.account);
  ctx.rules = MergeRules(ctx.account.rules, options_.global_rules);
  ctx.quiet_by_zone.clear();
  return Status::Ok();
}

bool Sender::Gated(Loop& loop, Context& ctx) {
  const Timestamp now = clock_.Now();
  if (!ctx.windows->IsOpen(now)) {
    Sleep(loop, ctx.windows->NextOpen(now));
    return false;
  }
  if (const Timestamp hold = ctx.gate->HeldUntil(); hold > now) {
    Sleep(loop, hold);
    return false;
  }
  return true;
}

bool Sender::Step(Loop& loop, Context& ctx) {
  if (Status st = Refresh(loop, ctx); !st.ok()) {
    log::Error("account cannot send; retrying later", {{"account", loop.account.value()}, {"error", st.ToString()}});
    const bool store_trouble = st.code() == Code::kUnavailable || st.code() == Code::kNotFound;
    if (store_trouble) {
      Sleep(loop, clock_.Now() + std::chrono::seconds(1));
      return true;
    }
    if (listener_ != nullptr) listener_->AccountUnusable(loop.account, st.message());
    // Its campaigns have failed; what is still queued (transactional sends) waits for a fix.
    Result<std::optional<Timestamp>> next = outbox_.NextDue(loop.account);
    if (next.ok() && !*next) return false;
    Sleep(loop, clock_.Now() + options_.account_retry);
    return true;
  }
  if (!Gated(loop, ctx)) return true;
  const SendingAccount& acct = ctx.account;
  const Timestamp now = clock_.Now();
  Result<std::string> day = LocalDay(acct.time_zone, now);
  if (!day.ok()) {
    Sleep(loop, now + options_.account_retry);
    return true;
  }
  const int by_rate = static_cast<int>(std::max<int64_t>(
      1, acct.rate_per_second * options_.batch_time.count() / Duration(std::chrono::seconds(1)).count()));
  const int want = ctx.gate->CircuitOpen() ? 1 : std::min(options_.max_batch, by_rate);  // open circuit: one probe
  uint64_t seq = 0;  // read before the claim: an interrupt after it is seen by the batch
  {
    std::lock_guard lock(mu_);
    seq = interrupt_seq_;
  }
  Result<OutboxClaim> claim = outbox_.Claim(acct.id, now, want, *day, acct.daily_cap);
  if (!claim.ok()) {
    log::Error("outbox claim failed; retrying", {{"account", acct.id.value()}, {"error", claim.status().ToString()}});
    Sleep(loop, clock_.Now() + std::chrono::seconds(1));
    return true;
  }
  if (listener_ != nullptr) {
    for (SourceRef s : claim->drained) listener_->SourceDrained(s);
  }
  if (claim->messages.empty()) return Idle(loop, ctx, claim->cap_reached, *day);
  loop.idle_since.reset();
  loop.due_unclaimed = 0;
  Batch batch;
  batch.claimed = std::move(claim->messages);
  batch.seq = seq;
  if (!ctx.rules.empty()) ApplyContactRules(ctx, batch, now);
  Render(ctx, batch);
  SendChunks(loop, ctx, batch, *day);
  Record(loop, batch);  // render failures and give-backs
  return true;
}

bool Sender::Idle(Loop& loop, Context& ctx, bool cap_reached, const std::string& day) {
  const SendingAccount& acct = ctx.account;
  const Timestamp now = clock_.Now();
  if (cap_reached && acct.daily_cap) {
    // The claim was cut to what the cap leaves; it is used up only if nothing is left.
    Result<int64_t> used = outbox_.DayCount(acct.id, day);
    if (used.ok() && *used >= *acct.daily_cap) {
      log::Info("account waits for the next day: daily cap reached", {{"account", acct.name}, {"day", day}});
      if (listener_ != nullptr) listener_->CapReached(acct.id, day);
      Result<Timestamp> tomorrow = StartOfNextLocalDay(acct.time_zone, now);
      Sleep(loop, tomorrow.ok() ? *tomorrow : now + std::chrono::hours(1));
      return true;
    }
  }
  Result<std::optional<Timestamp>> next = outbox_.NextDue(acct.id);
  if (!next.ok()) {
    Sleep(loop, now + std::chrono::seconds(1));
    return true;
  }
  if (!*next) {
    // Nothing queued: linger a while before ending, so that a steady trickle of
    // transactional sends does not start a thread for each message.
    if (!loop.idle_since) loop.idle_since = now;
    if (now - *loop.idle_since >= options_.idle_linger) return false;
    Sleep(loop, *loop.idle_since + options_.idle_linger);
    return true;
  }
  loop.idle_since.reset();
  // Due already: the claim read the time before it came due (or skipped it: its
  // contact unsubscribed). Claim again at once, twice; then wait a little, so that
  // nothing spins. (Sleeping first would wait for the clock to move past `now`,
  // which a clock that stands still, as in tests, never does.)
  if (**next <= now && ++loop.due_unclaimed <= 2) return true;
  loop.due_unclaimed = 0;
  Sleep(loop, std::max(**next, now + std::chrono::milliseconds(1)));
  return true;
}

namespace {

// The hours outside quiet hours, as send windows in `zone` (the window rule of
// time/send_window.h: a DST gap removes what does not exist).
Result<SendWindows> AllowedHours(const std::string& zone, const QuietHours& q) {
  std::vector<Window> allowed;
  if (q.start_minute > q.end_minute) {
    allowed.push_back(Window{0x7f, q.end_minute, q.start_minute});  // 21:00-08:00 quiet: 08:00-21:00
  } else {
    if (q.start_minute > 0) allowed.push_back(Window{0x7f, 0, q.start_minute});
    allowed.push_back(Window{0x7f, q.end_minute, 24 * 60});
  }
  return SendWindows::Create(zone, std::move(allowed));
}

// When the contact is under its caps again, given its recent sends (oldest first)
// and those planned in this batch; nullopt: under them now.
std::optional<Timestamp> OverCapUntil(const ContactRules& r, std::vector<Timestamp> sends, int planned, Timestamp now) {
  for (int i = 0; i < planned; ++i) sends.push_back(now);
  std::optional<Timestamp> until;
  auto check = [&](std::optional<int> cap, Duration window) {
    if (!cap) return;
    std::vector<Timestamp> in;
    for (Timestamp t : sends) {
      if (t > now - window) in.push_back(t);
    }
    if (static_cast<int>(in.size()) < *cap) return;
    // Under the cap once the oldest send that keeps it full leaves the window.
    const Timestamp free_at = in[in.size() - static_cast<size_t>(*cap)] + window + std::chrono::microseconds(1);
    until = std::max(until.value_or(free_at), free_at);
  };
  check(r.per_day, std::chrono::hours(24));
  check(r.per_week, std::chrono::hours(24 * 7));
  return until;
}

std::string CapText(const ContactRules& r) {
  std::string out;
  if (r.per_day) out += std::to_string(*r.per_day) + " a day";
  if (r.per_week) out += (out.empty() ? "" : ", ") + std::to_string(*r.per_week) + " a week";
  return out;
}

}  // namespace

void Sender::ApplyContactRules(Context& ctx, Batch& batch, Timestamp now) {
  const ContactRules& rules = ctx.rules;
  std::vector<ClaimedMessage> kept;
  std::map<ContactId, int> planned;  // sends to each contact already let through in this batch
  for (ClaimedMessage& cm : batch.claimed) {
    const Message& m = cm.message;
    if (rules.quiet_hours) {
      const std::string zone = cm.contact.time_zone.value_or(ctx.account.time_zone);
      auto it = ctx.quiet_by_zone.find(zone);
      if (it == ctx.quiet_by_zone.end()) {
        Result<SendWindows> w = AllowedHours(zone, *rules.quiet_hours);
        if (!w.ok()) w = AllowedHours(ctx.account.time_zone, *rules.quiet_hours);
        if (w.ok()) it = ctx.quiet_by_zone.emplace(zone, std::move(w).value()).first;
      }
      if (it != ctx.quiet_by_zone.end() && !it->second.IsOpen(now)) {
        MessageOutcome o = GiveBack(m);
        o.retry_at = it->second.NextOpen(now);
        o.reason = "deferred: quiet hours in " + zone;
        batch.outcomes.push_back(std::move(o));
        continue;
      }
    }
    if (rules.capped()) {
      Result<std::vector<Timestamp>> sends =
          outbox_.RecentSends(m.contact, ctx.account.channel, now - std::chrono::hours(24 * 7));
      if (!sends.ok()) {
        batch.outcomes.push_back(GiveBack(m));  // cannot tell: not now
        continue;
      }
      std::optional<Timestamp> until = OverCapUntil(rules, std::move(sends).value(), planned[m.contact], now);
      if (until) {
        if (rules.skip_over_cap) {
          MessageOutcome o = OutcomeFor(m, MessageState::kSkipped, "frequency cap: " + CapText(rules));
          o.attempted = false;
          batch.outcomes.push_back(std::move(o));
        } else {
          MessageOutcome o = GiveBack(m);
          o.retry_at = *until;
          o.reason = "deferred: frequency cap (" + CapText(rules) + ")";
          batch.outcomes.push_back(std::move(o));
        }
        continue;
      }
      ++planned[m.contact];
      batch.count_send.insert(m.id);
    }
    kept.push_back(std::move(cm));
  }
  batch.claimed = std::move(kept);
}

void Sender::Render(Context& ctx, Batch& batch) {
  batch.outcomes.reserve(batch.claimed.size());
  batch.messages.reserve(batch.claimed.size());
  std::set<TemplateId> fresh;  // templates re-read in this batch: an edit applies from the next batch on
  for (size_t i = 0; i < batch.claimed.size(); ++i) {
    const ClaimedMessage& cm = batch.claimed[i];
    const Message& m = cm.message;
    Context::CachedTemplate& cached = ctx.templates[m.template_id];
    if (fresh.insert(m.template_id).second) {
      Result<MessageTemplateRecord> t = accounts_.GetTemplate(m.template_id);
      if (!t.ok()) {
        cached.compiled = t.status();
        cached.updated_at = {};
      } else if (t->updated_at != cached.updated_at || !cached.compiled.ok()) {
        cached.updated_at = t->updated_at;
        cached.tracking = t->tracking;
        cached.compiled = compile_(*t);
        if (!cached.compiled.ok()) {
          cached.compiled = Status::InvalidArgument("template " + t->name + ": " + cached.compiled.status().message());
        }
      }
    }
    Result<RenderedMessage> r = cached.compiled.status();
    if (cached.compiled.ok()) {
      Result<TemplateValues> values = MessageTemplateValues(cm.contact, m.variables_json);
      r = values.ok() ? outflow::Render(*cached.compiled, *values) : Result<RenderedMessage>(values.status());
      if (!r.ok()) r = Status::InvalidArgument("template: " + r.status().message());
    }
    if (!r.ok()) {
      stats_.failed.fetch_add(1, std::memory_order_relaxed);
      MessageOutcome o = OutcomeFor(m, MessageState::kFailed, r.status().message());
      o.attempted = false;  // never handed to the channel
      batch.outcomes.push_back(std::move(o));
      continue;
    }
    channels::OutboundMessage out;
    out.idempotency_key = MessageKey(m);
    out.to = m.address;
    out.to_name = DisplayName(cm.contact);
    out.subject = std::move(r->subject);
    out.text = std::move(r->text);
    out.html = std::move(r->html);
    if (ctx.account.channel == Channel::kEmail) {
      if (options_.unsubscribe_url) out.unsubscribe_url = options_.unsubscribe_url(m);
      if (options_.links != nullptr && cached.tracking && !out.html.empty())
        out.html = options_.links->Instrument(m.id, out.html);
    }
    batch.messages.push_back(std::move(out));
    batch.message_of.push_back(i);
  }
}

bool Sender::Interrupted(const Batch& batch, size_t i) const {
  auto it = interrupted_.find(batch.claimed[batch.message_of[i]].message.source);
  return it != interrupted_.end() && it->second > batch.seq;
}

namespace {

// Full jitter around half the ceiling: never less than half of it.
Duration RetryDelay(const BackoffPolicy& policy, int attempt, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  return policy.Ceiling(attempt) / 2 + policy.Delay(attempt, jitter(rng)) / 2;
}

}  // namespace

void Sender::SendChunks(Loop& loop, Context& ctx, Batch& batch, const std::string& day) {
  Gate& gate = *ctx.gate;
  size_t next = 0;
  while (next < batch.messages.size()) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
      if (interrupt_seq_ > batch.seq) {
        // Give back the interrupted sources' messages; keep the rest in order.
        size_t keep = next;
        for (size_t i = next; i < batch.messages.size(); ++i) {
          if (Interrupted(batch, i)) {
            batch.outcomes.push_back(GiveBack(batch.claimed[batch.message_of[i]].message));
            continue;
          }
          batch.messages[keep] = std::move(batch.messages[i]);
          batch.message_of[keep++] = batch.message_of[i];
        }
        batch.messages.resize(keep);
        batch.message_of.resize(keep);
        batch.seq = interrupt_seq_;
      }
    }
    if (next >= batch.messages.size()) break;
    const Timestamp now = clock_.Now();
    // The claim's window, hold and day must still hold when a chunk goes: a batch that
    // waited past the window's end or local midnight gives the rest back.
    if (gate.HeldUntil() > now || !ctx.windows->IsOpen(now)) break;
    if (Result<std::string> today = LocalDay(ctx.account.time_zone, now); !today.ok() || *today != day) break;
    const int remaining = static_cast<int>(batch.messages.size() - next);
    const bool probe = gate.CircuitOpen();
    const int want = probe ? 1 : std::min({remaining, gate.limiter.burst(), options_.max_chunk});
    const int granted = gate.limiter.TryAcquire(want, now);
    if (granted == 0) {
      Sleep(loop, gate.limiter.NextAvailable(now));
      continue;
    }
    std::span<const channels::OutboundMessage> chunk(batch.messages.data() + next, static_cast<size_t>(granted));
    std::vector<channels::SendResult> results = ctx.sender->SendBatch(chunk);
    const Timestamp after_send = clock_.Now();
    bool answered = false;  // the provider answered (sent or refused) at least once
    std::optional<Duration> retry_after;
    for (size_t k = 0; k < chunk.size(); ++k) {
      const Message& m = batch.claimed[batch.message_of[next + k]].message;
      channels::SendResult& res = k < results.size() ? results[k] : results.emplace_back();
      MessageOutcome o = OutcomeFor(m, MessageState::kSent);
      switch (res.outcome) {
        case channels::SendOutcome::kSent:
          answered = true;
          o.provider_id = std::move(res.provider_id);
          o.count_send = batch.count_send.contains(m.id);
          stats_.sent.fetch_add(1, std::memory_order_relaxed);
          break;
        case channels::SendOutcome::kPermanent:
          answered = true;
          o.state = MessageState::kFailed;
          o.reason = std::move(res.error);
          stats_.failed.fetch_add(1, std::memory_order_relaxed);
          break;
        case channels::SendOutcome::kTransient:
          stats_.transient.fetch_add(1, std::memory_order_relaxed);
          if (res.retry_after) retry_after = std::max(retry_after.value_or(Duration::zero()), *res.retry_after);
          if (probe) {
            // A probe of an open circuit that failed: the outage, not this message. It
            // keeps its attempts and its place, so a long outage fails no message.
            o = GiveBack(m);
            o.reason = "provider unavailable: " + res.error;
          } else if (m.attempts >= m.max_attempts) {
            o.state = MessageState::kFailed;
            o.reason = "gave up after " + std::to_string(m.attempts) + " attempts: " + res.error;
            stats_.failed.fetch_add(1, std::memory_order_relaxed);
          } else {
            Duration delay = RetryDelay(options_.retry_backoff, m.attempts, ctx.rng);
            if (res.retry_after) delay = std::max(delay, *res.retry_after);
            o.state = MessageState::kQueued;
            o.reason = std::move(res.error);
            o.retry_at = after_send + delay;
          }
          break;
      }
      batch.outcomes.push_back(std::move(o));
    }
    {
      std::lock_guard g(gate.mu);
      if (answered) {
        gate.outage_failures = 0;
        gate.failing.clear();
      } else {
        ++gate.outage_failures;
        for (size_t k = 0; k < chunk.size(); ++k)
          gate.failing.insert(batch.claimed[batch.message_of[next + k]].message.id);
        gate.hold_until = std::max(gate.hold_until, after_send + options_.outage_backoff.Ceiling(gate.outage_failures));
      }
      if (retry_after) gate.hold_until = std::max(gate.hold_until, after_send + *retry_after);
    }
    next += static_cast<size_t>(granted);
    // Committed while the next chunk goes (one record in flight at most), so what a
    // crash can re-send is bounded by two chunks. The batch's last chunk is recorded
    // by Step at once: no thread to start for a batch of one chunk.
    if (next < batch.messages.size()) RecordAsync(loop, batch);
  }
  for (size_t k = next; k < batch.messages.size(); ++k) {
    batch.outcomes.push_back(GiveBack(batch.claimed[batch.message_of[k]].message));
  }
  stats_.batches.fetch_add(1, std::memory_order_relaxed);
}

void Sender::Record(Loop& loop, Batch& batch) {
  if (batch.recording.valid()) batch.recording.get();
  if (batch.outcomes.empty()) return;
  RecordOutcomes(loop.account, std::move(batch.outcomes));
  batch.outcomes.clear();
}

void Sender::RecordAsync(Loop& loop, Batch& batch) {
  if (batch.recording.valid()) batch.recording.get();
  if (batch.outcomes.empty()) return;
  batch.recording = std::async(
      std::launch::async,
      [this, account = loop.account, outcomes = std::move(batch.outcomes)] { RecordOutcomes(account, outcomes); });
  batch.outcomes.clear();
}

void Sender::RecordOutcomes(AccountId account, const std::vector<MessageOutcome>& outcomes) {
  // The outcomes must be recorded: retry until the store takes them (or we stop,
  // leaving the messages `sending` for the account's next loop to requeue).
  const Timestamp deadline = clock_.Now() + std::chrono::seconds(5);
  while (true) {
    Result<std::vector<SourceRef>> drained = outbox_.Record(account, outcomes, clock_.Now());
    if (drained.ok()) {
      if (listener_ != nullptr) {
        for (SourceRef s : *drained) listener_->SourceDrained(s);
      }
      return;
    }
    log::Error("cannot record sends; retrying", {{"account", account.value()}, {"error", drained.status().ToString()}});
    std::unique_lock lock(mu_);
    if (stopping_ && clock_.Now() >= deadline) return;  // left `sending`: the next start requeues them
    // Neither a wake nor an interrupt may cut this wait short (they would make it spin).
    const Timestamp until = clock_.Now() + std::chrono::milliseconds(500);
    while (clock_.Now() < until && !(stopping_ && clock_.Now() >= deadline)) {
      clock_.WaitUntil(cv_, lock, stopping_ ? std::min(until, deadline) : until);
    }
  }
}

}  // namespace outflow
