#include "engine/engine.h"

#include <algorithm>
#include <exception>

#include "base/log.h"

namespace outflow {

Engine::Engine(JobStore& store, Clock& clock, const HandlerRegistry& handlers, EngineMetrics& metrics,
               EngineOptions options)
    : store_(store),
      clock_(clock),
      handlers_(handlers),
      metrics_(metrics),
      options_(std::move(options)),
      rng_(std::random_device{}()) {}

Engine::~Engine() {
  Stop();
}

bool Engine::running() const {
  std::lock_guard g(mu_);
  return started_ && !stopping_;
}

double Engine::Jitter() {
  std::lock_guard g(rng_mu_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

Status Engine::Start() {
  std::lock_guard g(mu_);
  if (started_) return Status::FailedPrecondition("engine already started");
  // Leases this node held before a crash are dead: nothing of ours runs yet.
  Result<RecoverStats> rec = store_.RecoverLeases(clock_.Now(), options_.node_id);
  if (!rec.ok()) return rec.status().WithContext("recover leases");
  if (rec->to_ready + rec->to_dead > 0) {
    log::Warn("recovered leases from a previous run",
              {{"node", options_.node_id}, {"to_ready", rec->to_ready}, {"to_dead", rec->to_dead}});
  }
  metrics_.recovered += static_cast<uint64_t>(rec->to_ready + rec->to_dead);
  metrics_.dead += static_cast<uint64_t>(rec->to_dead);
  started_ = true;
  dispatcher_ = std::thread([this] { DispatchLoop(); });
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  log::Info("engine started", {{"node", options_.node_id}, {"workers", options_.workers}});
  return Status::Ok();
}

void Engine::Stop() {
  {
    std::lock_guard g(mu_);
    if (!started_ || stopping_) return;
    stopping_ = true;
    ReleaseQueuedLocked();  // in the same critical section: no worker starts another job
  }
  dispatch_cv_.notify_all();
  if (dispatcher_.joinable()) dispatcher_.join();
  {
    std::lock_guard g(mu_);
    workers_stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& w : workers_) w.join();
  workers_.clear();
  log::Info("engine stopped", {{"node", options_.node_id}});
}

void Engine::ReleaseQueuedLocked() {
  while (!queue_.empty()) {
    outcomes_.push_back(JobOutcome{queue_.front().id, JobOutcome::Kind::kRelease, {}, {}});
    queue_.pop_front();
  }
}

void Engine::NotifyEnqueued(Timestamp due_at) {
  std::lock_guard g(mu_);
  notified_due_ = std::min(notified_due_, due_at);
  if (due_at < next_due_) next_due_ = due_at;
  if (due_at < sleep_target_) dispatch_cv_.notify_one();
}

Timestamp Engine::SleepTargetForTest() const {
  std::lock_guard g(mu_);
  return sleep_target_;
}

Status Engine::CheckFollowUps(const std::vector<JobSpec>& follow_ups) const {
  for (size_t i = 0; i < follow_ups.size(); ++i) {
    const std::string field = "follow-up job " + std::to_string(i);
    OUTFLOW_RETURN_IF_ERROR(ValidateJobSpec(follow_ups[i], field));
    if (handlers_.Find(follow_ups[i].kind) == nullptr) {
      return Status::InvalidArgument(field + ": no handler is registered for kind '" + follow_ups[i].kind + "'");
    }
  }
  return Status::Ok();
}

JobOutcome Engine::Execute(const Job& job) {
  const Timestamp start = clock_.Now();
  metrics_.start_lateness.Observe(std::chrono::duration<double>(start - job.due_at).count());
  JobOutcome out;
  out.id = job.id;
  RunResult r;
  JobHandler* handler = handlers_.Find(job.kind);
  if (handler == nullptr) {
    r = RunResult::Fail("no handler is registered for kind '" + job.kind + "'");
  } else {
    try {
      r = handler->Run(job);
    } catch (const std::exception& e) {
      r = RunResult::Retry(std::string("handler threw: ") + e.what());
    } catch (...) {
      r = RunResult::Retry("handler threw a non-standard exception");
    }
  }
  if (r.kind == RunResult::Kind::kDone) {
    if (Status bad = CheckFollowUps(r.follow_ups); !bad.ok()) r = RunResult::Fail(bad.message());
  }
  switch (r.kind) {
    case RunResult::Kind::kDone:
      out.kind = JobOutcome::Kind::kDone;
      out.follow_ups = std::move(r.follow_ups);
      break;
    case RunResult::Kind::kFail:
      out.kind = JobOutcome::Kind::kDead;
      out.error = std::move(r.error);
      break;
    case RunResult::Kind::kRetry:
      out.error =
          "attempt " + std::to_string(job.attempts) + " of " + std::to_string(job.max_attempts) + ": " + r.error;
      if (job.attempts >= job.max_attempts) {
        out.kind = JobOutcome::Kind::kDead;
      } else {
        out.kind = JobOutcome::Kind::kRetry;
        Timestamp now = clock_.Now();
        out.retry_at = r.retry_at ? std::max(*r.retry_at, now) : now + options_.backoff.Delay(job.attempts, Jitter());
      }
      break;
  }
  return out;
}

Status Engine::CommitOutcomes(const std::vector<JobOutcome>& batch) {
  Result<CommitStats> st = store_.Commit(options_.node_id, batch, clock_.Now());
  if (!st.ok()) {
    metrics_.store_errors++;
    return st.status();
  }
  metrics_.stale += static_cast<uint64_t>(st->stale);
  metrics_.enqueued += static_cast<uint64_t>(st->follow_ups_created);
  Timestamp earliest_follow_up = Timestamp::max();
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!st->applied_mask[i]) continue;  // the lease was lost: whoever holds it now reports
    for (const JobSpec& f : batch[i].follow_ups) earliest_follow_up = std::min(earliest_follow_up, f.due_at);
    switch (batch[i].kind) {
      case JobOutcome::Kind::kDone: metrics_.completed++; break;
      case JobOutcome::Kind::kRetry: metrics_.retried++; break;
      case JobOutcome::Kind::kDead: metrics_.dead++; break;
      case JobOutcome::Kind::kRelease: break;
    }
  }
  if (st->stale > 0) log::Warn("outcomes dropped: leases were lost before commit", {{"stale", st->stale}});
  if (earliest_follow_up != Timestamp::max()) NotifyEnqueued(earliest_follow_up);
  return Status::Ok();
}

Result<int> Engine::RunOnce(int limit) {
  return RunOnce(limit, {});
}

Result<int> Engine::RunOnce(int limit, std::span<const std::string> kinds) {
  Timestamp now = clock_.Now();
  Result<RecoverStats> rec = store_.RecoverLeases(now, std::nullopt);
  if (!rec.ok()) return rec.status();
  Result<std::vector<Job>> jobs = kinds.empty()
                                      ? store_.Claim(options_.node_id, now, options_.lease, limit)
                                      : store_.ClaimKinds(options_.node_id, now, options_.lease, limit, kinds);
  if (!jobs.ok()) return jobs.status();
  std::vector<JobOutcome> outcomes;
  for (const Job& j : *jobs) outcomes.push_back(Execute(j));
  if (!outcomes.empty()) OUTFLOW_RETURN_IF_ERROR(CommitOutcomes(outcomes));
  return static_cast<int>(outcomes.size());
}

void Engine::WorkerLoop() {
  std::unique_lock lk(mu_);
  while (true) {
    work_cv_.wait(lk, [&] { return !queue_.empty() || workers_stop_; });
    if (queue_.empty()) return;  // workers_stop_
    Job job = std::move(queue_.front());
    queue_.pop_front();
    lk.unlock();
    JobOutcome out = Execute(job);
    lk.lock();
    bool was_empty = outcomes_.empty();
    outcomes_.push_back(std::move(out));
    if (was_empty) dispatch_cv_.notify_one();
  }
}

void Engine::DispatchLoop() {
  std::unique_lock lk(mu_);
  Timestamp retry_store_at = Timestamp::min();  // after a store error, wait until then
  auto store_failed = [&](const Status& st, const char* what) {
    log::Error("store error; will retry", {{"op", what}, {"error", st.ToString()}});
    retry_store_at = clock_.Now() + options_.store_retry_delay;
  };
  while (true) {
    // 1. Group commit: everything finished since the last pass, in one transaction.
    if (!outcomes_.empty() && clock_.Now() >= retry_store_at) {
      std::vector<JobOutcome> batch;
      batch.swap(outcomes_);
      lk.unlock();
      Status st = CommitOutcomes(batch);
      lk.lock();
      if (!st.ok()) {
        store_failed(st, "commit");
        outcomes_.insert(outcomes_.begin(), std::make_move_iterator(batch.begin()),
                         std::make_move_iterator(batch.end()));
        continue;
      }
      in_flight_ -= static_cast<int>(batch.size());
      // Fall through: claim more while the workers run what they have.
    }

    if (stopping_) {
      // Stop() released what had not started; wait for running handlers; commit; leave.
      ReleaseQueuedLocked();
      if (in_flight_ == 0) return;
      if (!outcomes_.empty()) {
        if (clock_.Now() < retry_store_at) clock_.WaitUntil(dispatch_cv_, lk, retry_store_at);
        continue;
      }
      dispatch_cv_.wait(lk);
      continue;
    }

    Timestamp now = clock_.Now();
    if (now < retry_store_at) {
      sleep_target_ = retry_store_at;
      clock_.WaitUntil(dispatch_cv_, lk, retry_store_at);
      continue;
    }

    // 2. Leases that expired (another node died, or a handler overran its lease).
    if (now >= next_lease_expiry_) {
      lk.unlock();
      Result<RecoverStats> rec = store_.RecoverLeases(now, std::nullopt);
      lk.lock();
      if (!rec.ok()) {
        store_failed(rec.status(), "recover leases");
        continue;
      }
      if (rec->to_ready + rec->to_dead > 0) {
        metrics_.recovered += static_cast<uint64_t>(rec->to_ready + rec->to_dead);
        metrics_.dead += static_cast<uint64_t>(rec->to_dead);
        log::Warn("expired leases recovered", {{"to_ready", rec->to_ready}, {"to_dead", rec->to_dead}});
      }
      next_lease_expiry_ = kNever;   // looked up again below
      next_due_ = Timestamp::min();  // recovered jobs may be due now
      wake_times_known_ = false;
    }

    // 3. Claim what is due, as far as capacity allows.
    int capacity = options_.max_in_flight - in_flight_;
    bool claimed_full = false;
    if (capacity > 0 && now >= next_due_) {
      int limit = std::min(capacity, options_.claim_batch);
      lk.unlock();
      Result<std::vector<Job>> jobs = store_.Claim(options_.node_id, now, options_.lease, limit);
      lk.lock();
      if (!jobs.ok()) {
        store_failed(jobs.status(), "claim");
        continue;
      }
      int n = static_cast<int>(jobs->size());
      if (n > 0) {
        in_flight_ += n;
        for (Job& j : *jobs) queue_.push_back(std::move(j));
        work_cv_.notify_all();
      }
      claimed_full = n == limit;
      if (!claimed_full) next_due_ = kNever;  // nothing else due now: look up the next time
    }
    if (claimed_full) continue;  // more may be due right now

    // 4. When does anything next need us?
    if (next_due_ == kNever || !wake_times_known_) {
      lk.unlock();
      Result<WakeTimes> wake = store_.NextWakeTimes();
      lk.lock();
      if (!wake.ok()) {
        store_failed(wake.status(), "next wake time");
        continue;
      }
      next_due_ = std::min(wake->next_due.value_or(kNever), notified_due_);
      next_lease_expiry_ = wake->next_lease_expiry.value_or(kNever);
      notified_due_ = kNever;
      wake_times_known_ = true;
      if (next_due_ <= clock_.Now() && options_.max_in_flight > in_flight_) continue;
    }
    if (!outcomes_.empty() || stopping_) continue;
    Timestamp target = next_lease_expiry_;
    if (options_.max_in_flight > in_flight_ && next_due_ != kNever) {
      target = std::min(target, next_due_ + options_.batch_window);
    }
    sleep_target_ = target;
    if (target == kNever) {
      dispatch_cv_.wait(lk);
    } else {
      clock_.WaitUntil(dispatch_cv_, lk, target);
    }
    sleep_target_ = kNever;
  }
}

}  // namespace outflow
