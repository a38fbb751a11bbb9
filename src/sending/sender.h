// Sender: the one send path. One loop per sending account takes due messages from
// the outbox, whatever produced them, and sends them through the account's channel
// at the account's pace (docs/sending.md).
//
// A loop repeats:
//   claim due messages of the account (OutboxStore::Claim: by priority, sources of
//   one priority taking turns; at most max_batch and at most `batch_time` of the
//   account's rate, so a pause takes effect within about that long)
//   -> apply the per-contact rules (quiet hours in the contact's zone defer a
//      message to the next allowed minute; a frequency cap defers or skips it)
//   -> render each for its contact and variables (a render error fails that
//      message with the reason; the rest go on)
//   -> take grants from the account's RateLimiter, send each granted chunk (at
//      most max_chunk) with ChannelSender::SendBatch, and record its outcomes in
//      one transaction as soon as it returns, on another thread while the next
//      chunk goes (one record in flight at most; the batch's last one is waited for).
// It sleeps, woken early by Wake/Interrupt/Stop, while the account's send window is
// closed, while the account is held (a provider's Retry-After, or an outage), until
// the next message is due, or until the next local day when the daily cap is used
// up. With nothing queued in an active source for `idle_linger` the loop ends; Wake
// starts it again.
//
// Pacing. One RateLimiter per account, kept across loop restarts (never more than
// rate_per_second hand-offs in any window of one second plus `pacing_guard`). Its
// history is in memory only, so a limiter made after a start is seeded as if `rate`
// sends had just happened at Start(): nothing is sent on an account during the first
// second after a restart.
//
// Failures. A permanent result fails the message with the channel's reason. A
// transient one queues it again after a backoff (at least the provider's
// Retry-After), until its max_attempts: then it fails with "gave up after N
// attempts: <reason>". Circuit breaker: a chunk that fails wholly transiently holds
// the account for an exponential time capped at outage_backoff's maximum (2 s by
// default); once such failures in a row span 3 messages the circuit is open: each
// send is then a probe of one message, whose failure costs it no attempt (the
// outage is the provider's, not the message's, so an outage of any length fails
// no message), and any answer from the provider closes it, so sending resumes
// within about 2 s of a recovery (plus the channel's timeout if the provider hangs).
//
// Interruptions. Interrupt(source) (a campaign paused or cancelled) makes each loop
// give back the source's claimed, unsent messages before its next chunk, without
// counting the attempt. A chunk already handed to the channel finishes.
//
// Crashes. The first loop on an account in a process first puts the account's
// `sending` messages back to queued (their send may have happened: the message key is the
// idempotency key, so a provider that honours it drops the repeat).
//
// Thread-safety: all public methods are safe to call from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "base/clock.h"
#include "campaigns/template.h"
#include "channels/channel.h"
#include "engine/backoff.h"
#include "engine/rate_limiter.h"
#include "sending/link_tracking.h"
#include "store/campaign_store.h"
#include "store/outbox_store.h"

namespace outflow {

struct SenderOptions {
  int max_batch = 1000;  // messages claimed per transaction at most
  // At most this many messages are handed to the channel at once; the outcomes of
  // each chunk are committed while the next one goes, so a crash can re-send no
  // more than two chunks (the idempotency key lets a provider drop those repeats).
  int max_chunk = 100;
  // A claim holds at most this much of the account's rate (29/s: 7 messages).
  Duration batch_time = std::chrono::milliseconds(250);
  // Per-message retry delays after a transient failure (full jitter).
  BackoffPolicy retry_backoff{std::chrono::seconds(30), std::chrono::hours(1)};
  // How long the circuit stays open after chunks that failed wholly transiently.
  BackoffPolicy outage_backoff{std::chrono::milliseconds(250), std::chrono::seconds(2)};
  // Seed each account's limiter as full at Start() (see "Pacing"). Only tests that
  // are not about restarts turn this off.
  bool guard_restart = true;
  // The limiter's window is one second plus this guard band, for jitter in delivery
  // delay between hand-off and the provider (docs/pacing.md).
  Duration pacing_guard = std::chrono::milliseconds(10);
  // How long a loop with nothing to do waits for more before its thread ends.
  Duration idle_linger = std::chrono::seconds(5);
  // How long an account whose sender cannot be built waits before trying again.
  Duration account_retry = std::chrono::seconds(30);
  // Per-contact rules for every account (each account's own rules win, part by part).
  ContactRules global_rules;
  // The List-Unsubscribe link of an email message (empty: none).
  std::function<std::string(const Message&)> unsubscribe_url;
  // Open and click tracking of email html parts, for templates with tracking on
  // (null: none). REQUIRES: outlives the Sender.
  const LinkTracker* links = nullptr;
};

// What the loops tell the producers (campaigns complete, fail on a cap or account).
// Called on a sending thread (a loop's, or one recording a chunk's outcomes), without
// the Sender's locks held; calls for one account come one at a time.
class SendListener {
 public:
  virtual ~SendListener() = default;
  // The source's last pending message was recorded.
  virtual void SourceDrained(SourceRef source) = 0;
  // The account's daily cap is used up for `day`; the loop waits for the next day.
  virtual void CapReached(AccountId account, const std::string& day) = 0;
  // The account cannot send (bad settings or credentials); the loop retries later.
  virtual void AccountUnusable(AccountId account, const std::string& why) = 0;
};

// Counters for /metrics.
struct SenderStats {
  std::atomic<int64_t> sent{0};
  std::atomic<int64_t> failed{0};     // permanent, render, gave up
  std::atomic<int64_t> transient{0};  // transient results (each retried or given up)
  std::atomic<int64_t> batches{0};
};

class Sender {
 public:
  using SenderFactory = std::function<Result<std::unique_ptr<channels::ChannelSender>>(const SendingAccount&)>;
  using TemplateCompiler = std::function<Result<CompiledTemplate>(const MessageTemplateRecord&)>;

  // `accounts` reads accounts and templates.
  Sender(OutboxStore& outbox, CampaignStore& accounts, SenderFactory senders, TemplateCompiler compile, Clock& clock,
         SenderOptions options = {});
  ~Sender();
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;

  // REQUIRES: called once, before any loop may run. `listener` may be null.
  void SetListener(SendListener* listener) { listener_ = listener; }
  // Starts a loop for every account with queued messages.
  Status Start();
  // Starts the account's loop, or makes it look again (new messages, a resume).
  void Wake(AccountId account);
  // Wakes every loop (an account's windows, limits or cap changed).
  void WakeAll();
  // Every loop gives back the source's claimed, unsent messages before its next chunk.
  void Interrupt(SourceRef source);
  // Stops every loop (claimed, unsent messages go back to queued) and joins them. Idempotent.
  void Stop();

  const SenderStats& stats() const { return stats_; }
  size_t active_loops() const;
  // The counters and the loop count as Prometheus text (outflow_messages_*).
  std::string RenderMetrics() const;

 private:
  struct Loop;
  struct Gate;
  struct Context;
  struct Batch;
  void Run(Loop& loop);
  // One pass of the loop: false when it should end (nothing left to do).
  bool Step(Loop& loop, Context& ctx);
  Status Refresh(Loop& loop, Context& ctx);
  // Waits for the window and hold; true when the account may send now.
  bool Gated(Loop& loop, Context& ctx);
  // Nothing was claimed: waits for the cap, the next due message; false: nothing left.
  bool Idle(Loop& loop, Context& ctx, bool cap_reached, const std::string& day);
  // Defers or skips the claimed messages the per-contact rules hold back.
  void ApplyContactRules(Context& ctx, Batch& batch, Timestamp now);
  void Render(Context& ctx, Batch& batch);
  void SendChunks(Loop& loop, Context& ctx, Batch& batch, const std::string& day);
  // Records and clears the batch's outcomes so far, after the one in flight.
  void Record(Loop& loop, Batch& batch);
  // The same on another thread, after the one in flight: the next chunk goes meanwhile.
  void RecordAsync(Loop& loop, Batch& batch);
  void RecordOutcomes(AccountId account, const std::vector<MessageOutcome>& outcomes);
  bool Interrupted(const Batch& batch, size_t i) const;  // REQUIRES: mu_ held
  void Sleep(Loop& loop, Timestamp deadline);
  std::shared_ptr<Gate> GateFor(const SendingAccount& a);

  OutboxStore& outbox_;
  CampaignStore& accounts_;
  SenderFactory senders_;
  TemplateCompiler compile_;
  Clock& clock_;
  const SenderOptions options_;
  SendListener* listener_ = nullptr;
  SenderStats stats_;

  mutable std::mutex mu_;
  std::condition_variable cv_;                        // loops sleep on it
  Timestamp started_at_{};                            // GUARDED_BY(mu_)
  bool stopping_ = false;                             // GUARDED_BY(mu_)
  bool started_ = false;                              // GUARDED_BY(mu_)
  std::set<AccountId> early_wakes_;                   // GUARDED_BY(mu_): Wake before Start
  std::map<AccountId, std::unique_ptr<Loop>> loops_;  // GUARDED_BY(mu_)
  std::map<AccountId, std::shared_ptr<Gate>> gates_;  // GUARDED_BY(mu_)
  std::set<AccountId> requeued_;                      // GUARDED_BY(mu_): accounts whose crash leftovers were requeued
  uint64_t interrupt_seq_ = 0;                        // GUARDED_BY(mu_)
  std::map<SourceRef, uint64_t> interrupted_;         // GUARDED_BY(mu_): source -> seq of its last interrupt
};

}  // namespace outflow
