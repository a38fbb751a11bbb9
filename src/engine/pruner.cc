#include "engine/job_pruner.h"

#include "base/log.h"

namespace outflow {

JobPruner::JobPruner(JobStore& store, Clock& clock, JobPrunerOptions options)
    : store_(store), clock_(clock), options_(options) {}

JobPruner::~JobPruner() {
  Stop();
}

void JobPruner::Start() {
  std::lock_guard g(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void JobPruner::Stop() {
  {
    std::lock_guard g(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<int64_t> JobPruner::RunPass() {
  return Pass();
}

Result<int64_t> JobPruner::Pass() {
  const Timestamp before = clock_.Now() - options_.retention;
  int64_t total = 0;
  while (true) {
    OUTFLOW_ASSIGN_OR_RETURN(int64_t n, store_.Prune(before, options_.chunk));
    total += n;
    if (n < options_.chunk) return total;
    std::lock_guard g(mu_);
    if (stopping_) return total;
  }
}

void JobPruner::Loop() {
  std::unique_lock lk(mu_);
  while (!stopping_) {
    const Timestamp started = clock_.Now();  // the next pass is due an interval after this one began
    lk.unlock();
    Result<int64_t> n = Pass();
    lk.lock();
    Duration wait = options_.interval;
    if (!n.ok()) {
      log::Error("pruning finished jobs failed; will retry", {{"error", n.status().ToString()}});
      wait = options_.retry_delay;
    } else if (*n > 0) {
      log::Info("pruned finished jobs", {{"deleted", *n}});
    }
    const Timestamp next = started + wait;
    while (!stopping_ && clock_.Now() < next) clock_.WaitUntil(cv_, lk, next);
  }
}

}  // namespace outflow
