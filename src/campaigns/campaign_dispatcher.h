// CampaignDispatcher: sends the processing campaigns, each on its own sending
// loop, through their accounts' channels at the accounts' pace (docs/campaigns.md).
//
// One loop per processing campaign (a thread), repeating:
//   claim due pending entries (at most max_batch, and at most `batch_time` of the
//   account's rate, so that a pause takes effect within about that long)
//   -> render each for its contact (a render error fails that recipient with the
//      reason; the rest go on)
//   -> take grants from the account's RateLimiter, send each granted chunk with
//      ChannelSender::SendBatch
//   -> record every outcome in one transaction.
// It sleeps, woken early by Wake/Interrupt/Stop, while the account's send window
// is closed, while the account is held (a provider's Retry-After, or an outage:
// see below), until the next retry is due, or until the next local day when the
// daily cap is reached (or fails the campaign, by its cap policy). When nothing is
// pending or sending any more the campaign completes and the loop ends.
//
// Pacing. All the campaigns of one account share one RateLimiter (the hard
// ceiling: never more than rate_per_second hand-offs in any window of one second
// plus `pacing_guard`, across campaigns, so that the provider too sees no more in
// any one-second window). Its history is in memory only, so a limiter made after a start is
// seeded as if `rate` sends had just happened at the dispatcher's start: nothing
// is sent on that account during the first second after a restart, which keeps
// the ceiling across restarts without reading send times back from the ledger.
//
// Failures. A permanent result fails the recipient with the channel's reason. A
// transient one puts it back to pending after a backoff (at least the provider's
// Retry-After), until max_attempts: then it fails with "gave up after N
// attempts: <reason>". When a whole chunk fails transiently (the provider is
// down), the account is held for an exponential backoff so that an outage costs
// each waiting recipient no attempts; any success resets it.
//
// Interruptions. Pause and cancel call Interrupt: the loop stops before its next
// chunk; entries it claimed but did not hand to the channel go back to pending
// without counting the attempt. A chunk already handed to the channel finishes.
//
// Crashes. Start() puts entries left `sending` by a crash back to pending (their
// send may have happened: the ledger key is the idempotency key, so a provider
// that honours it drops the repeat) and starts a loop per processing campaign.
//
// Thread-safety: all public methods are safe to call from any thread.
#pragma once

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
#include "store/campaign_store.h"

namespace outflow {

struct DispatcherOptions {
  int max_batch = 1000;  // entries claimed per transaction at most
  // A claim holds at most this much of the account's rate (29/s: 7 entries), so a
  // pause or cancel stops sending within about this long.
  Duration batch_time = std::chrono::milliseconds(250);
  // Per-recipient retry delays after a transient failure (full jitter).
  BackoffPolicy retry_backoff{std::chrono::seconds(30), std::chrono::hours(1)};
  // How long an account is held after a chunk that failed wholly transiently.
  BackoffPolicy outage_backoff{std::chrono::seconds(5), std::chrono::minutes(10)};
  // Seed each account's limiter as full at Start() (see "Pacing"). Only tests that
  // are not about restarts turn this off.
  bool guard_restart = true;
  // The limiter's window is one second plus this guard band. Grants are counted at
  // hand-off to the channel; requests reach the provider a variable time later, and
  // a whole burst that arrives a little late can share a provider-side window with
  // the next burst arriving early (measured on loopback: up to 42 in a second under
  // a 29/s limit without the band; bench/campaign_send_bench). The band absorbs that
  // much difference in delivery delay at a cost of band/(1 s + band) of the rate
  // (10 ms: 1%; 29/s becomes 28.71/s; with burst 1 the wake-up latency of each
  // spaced send costs a little more: 28.6/s measured).
  Duration pacing_guard = std::chrono::milliseconds(10);
  // The List-Unsubscribe link of an email to a contact (empty: none).
  std::function<std::string(CampaignId, int64_t)> unsubscribe_url;
};

// Counters for /metrics.
struct DispatcherStats {
  std::atomic<int64_t> sent{0};
  std::atomic<int64_t> failed{0};     // recipients failed (permanent, render, gave up)
  std::atomic<int64_t> transient{0};  // transient results (each retried or given up)
  std::atomic<int64_t> batches{0};
};

// The values a template may use, from a contact.
TemplateValues ContactTemplateValues(const Contact& c);

class CampaignDispatcher {
 public:
  // Builds the sender of an account (decrypting its credentials).
  using SenderFactory = std::function<Result<std::unique_ptr<channels::ChannelSender>>(const SendingAccount&)>;
  // Compiles a stored template.
  using TemplateCompiler = std::function<Result<CompiledTemplate>(const MessageTemplateRecord&)>;

  CampaignDispatcher(CampaignStore& store, SenderFactory senders, TemplateCompiler compile, Clock& clock,
                     DispatcherOptions options = {});
  ~CampaignDispatcher();
  CampaignDispatcher(const CampaignDispatcher&) = delete;
  CampaignDispatcher& operator=(const CampaignDispatcher&) = delete;

  // Requeues crashed sends of processing and paused campaigns and starts the loops
  // of the processing ones.
  Status Start();
  // Starts the loop of a processing campaign, or wakes it (resume, retry failed).
  void Wake(CampaignId id);
  // Makes the campaign's loop stop sending at once (pause, cancel).
  void Interrupt(CampaignId id);
  // Wakes every loop to look again (an account's windows, limits or cap changed).
  void WakeAll();
  // Stops every loop (claimed, unsent entries go back to pending) and joins them. Idempotent.
  void Stop();

  const DispatcherStats& stats() const { return stats_; }
  // Campaigns with a running loop.
  size_t active_loops() const;
  // The counters and the loop count as Prometheus text (outflow_campaign_*).
  std::string RenderMetrics() const;

 private:
  struct Loop;
  struct Gate;
  void Run(Loop& loop);
  // Sleeps until `deadline`, a wake, an interrupt or stop. REQUIRES: mu_ not held.
  void Sleep(Loop& loop, Timestamp deadline);
  // Sleeps until `deadline` or stop only. REQUIRES: mu_ not held.
  void SleepUntilStop(Timestamp deadline);
  std::shared_ptr<Gate> GateFor(const SendingAccount& a);

  CampaignStore& store_;
  SenderFactory senders_;
  TemplateCompiler compile_;
  Clock& clock_;
  const DispatcherOptions options_;
  DispatcherStats stats_;
  Timestamp started_at_{};  // GUARDED_BY(mu_)

  mutable std::mutex mu_;
  std::condition_variable cv_;  // loops sleep on it; notified on wake, interrupt, stop
  bool stopping_ = false;
  bool started_ = false;                // Start() has requeued and may start loops
  std::set<CampaignId> early_wakes_;    // Wake calls before Start() finished
  std::map<CampaignId, std::unique_ptr<Loop>> loops_;
  std::map<AccountId, std::shared_ptr<Gate>> gates_;
};

}  // namespace outflow
