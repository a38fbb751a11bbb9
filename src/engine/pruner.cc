#include "engine/pruner.h"

#include "base/log.h"

namespace outflow {

Pruner::Pruner(std::string what, PruneFn prune, Clock& clock, PrunerOptions options)
    : what_(std::move(what)), prune_(std::move(prune)), clock_(clock), options_(options) {}

Pruner::~Pruner() {
  Stop();
}

void Pruner::Start() {
  std::lock_guard g(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Pruner::Stop() {
  {
    std::lock_guard g(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<int64_t> Pruner::RunPass() {
  return Pass();
}

Result<int64_t> Pruner::Pass() {
  const Timestamp before = clock_.Now() - options_.retention;
  int64_t total = 0;
  while (true) {
    OUTFLOW_ASSIGN_OR_RETURN(int64_t n, prune_(before, options_.chunk));
    total += n;
    if (n < options_.chunk) return total;
    std::lock_guard g(mu_);
    if (stopping_) return total;
  }
}

void Pruner::Loop() {
  std::unique_lock lk(mu_);
  while (!stopping_) {
    const Timestamp started = clock_.Now();  // the next pass is due an interval after this one began
    lk.unlock();
    Result<int64_t> n = Pass();
    lk.lock();
    Duration wait = options_.interval;
    if (!n.ok()) {
      log::Error("pruning failed; will retry", {{"what", what_}, {"error", n.status().ToString()}});
      wait = options_.retry_delay;
    } else if (*n > 0) {
      log::Info("pruned", {{"what", what_}, {"deleted", *n}});
    }
    const Timestamp next = started + wait;
    while (!stopping_ && clock_.Now() < next) clock_.WaitUntil(cv_, lk, next);
  }
}

}  // namespace outflow
