#include "testing/fault_injection_store.h"

namespace outflow::testing {

void FaultInjectionStore::FailNext(Op op, int n) {
  std::lock_guard g(mu_);
  fail_before_[op] += n;
}

void FaultInjectionStore::AckLostNext(Op op, int n) {
  std::lock_guard g(mu_);
  fail_after_[op] += n;
}

void FaultInjectionStore::CrashAfter(Op op) {
  std::lock_guard g(mu_);
  crash_after_[op] = true;
}

int FaultInjectionStore::calls(Op op) const {
  std::lock_guard g(mu_);
  auto it = calls_.find(op);
  return it == calls_.end() ? 0 : it->second;
}

FaultInjectionStore::Action FaultInjectionStore::Next(Op op) {
  std::lock_guard g(mu_);
  calls_[op]++;
  if (crashed_) return Action::kFailBefore;
  if (fail_before_[op] > 0) {
    fail_before_[op]--;
    return Action::kFailBefore;
  }
  if (crash_after_[op]) {
    crash_after_[op] = false;
    crashed_ = true;
    return Action::kFailAfter;
  }
  if (fail_after_[op] > 0) {
    fail_after_[op]--;
    return Action::kFailAfter;
  }
  return Action::kPass;
}

template <typename T, typename F>
Result<T> FaultInjectionStore::Wrap(Op op, F&& call) {
  Action a = Next(op);
  if (a == Action::kFailBefore) return Status::Unavailable("injected fault before the call");
  Result<T> r = call();
  if (a == Action::kFailAfter) return Status::Unavailable("injected fault after the call applied");
  return r;
}

Result<std::vector<EnqueueResult>> FaultInjectionStore::Enqueue(std::span<const JobSpec> specs, Timestamp now) {
  return Wrap<std::vector<EnqueueResult>>(Op::kEnqueue, [&] { return JobStoreWrapper::Enqueue(specs, now); });
}
Result<std::vector<Job>> FaultInjectionStore::Claim(std::string_view owner, Timestamp now, Duration lease, int limit) {
  return Wrap<std::vector<Job>>(Op::kClaim, [&] { return JobStoreWrapper::Claim(owner, now, lease, limit); });
}
Result<CommitStats> FaultInjectionStore::Commit(std::string_view owner, std::span<const JobOutcome> outcomes,
                                                Timestamp now) {
  return Wrap<CommitStats>(Op::kCommit, [&] { return JobStoreWrapper::Commit(owner, outcomes, now); });
}
Result<RecoverStats> FaultInjectionStore::RecoverLeases(Timestamp now, std::optional<std::string_view> owner) {
  return Wrap<RecoverStats>(Op::kRecover, [&] { return JobStoreWrapper::RecoverLeases(now, owner); });
}
Result<WakeTimes> FaultInjectionStore::NextWakeTimes() {
  return Wrap<WakeTimes>(Op::kNextWake, [&] { return JobStoreWrapper::NextWakeTimes(); });
}

}  // namespace outflow::testing
