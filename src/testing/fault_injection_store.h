// FaultInjectionStore: a JobStore wrapper that makes chosen calls fail, to prove
// that no job is lost and none is run twice after its completion was committed.
//
//   FailNext(Op::kCommit, n):  the next n Commit calls return Unavailable and apply
//                              nothing, the outcomes' follow-up jobs included (a
//                              locked or full database).
//   AckLostNext(Op::kCommit):  the next Commit applies, then reports Unavailable
//                              (the reply was lost after the database committed).
//   CrashAfter(Op::kClaim):    the next Claim applies, then the store is "dead":
//                              it and every later call return Unavailable, as if
//                              the process had died right after that step.
// Thread-safe.
#pragma once

#include <atomic>
#include <map>
#include <mutex>

#include "store/job_store_wrapper.h"

namespace outflow::testing {

class FaultInjectionStore final : public JobStoreWrapper {
 public:
  enum class Op { kEnqueue, kClaim, kCommit, kRecover, kNextWake };
  using JobStoreWrapper::JobStoreWrapper;

  void FailNext(Op op, int n = 1);
  void AckLostNext(Op op, int n = 1);
  void CrashAfter(Op op);
  bool crashed() const { return crashed_; }
  int calls(Op op) const;

  Result<std::vector<EnqueueResult>> Enqueue(std::span<const JobSpec> specs, Timestamp now) override;
  Result<std::vector<Job>> Claim(std::string_view owner, Timestamp now, Duration lease, int limit) override;
  Result<CommitStats> Commit(std::string_view owner, std::span<const JobOutcome> outcomes, Timestamp now) override;
  Result<RecoverStats> RecoverLeases(Timestamp now, std::optional<std::string_view> owner) override;
  Result<WakeTimes> NextWakeTimes() override;

 private:
  enum class Action { kPass, kFailBefore, kFailAfter };
  // Decides what happens to this call of `op`.
  Action Next(Op op);
  template <typename T, typename F>
  Result<T> Wrap(Op op, F&& call);

  mutable std::mutex mu_;
  std::map<Op, int> fail_before_;
  std::map<Op, int> fail_after_;
  std::map<Op, int> calls_;
  std::map<Op, bool> crash_after_;
  std::atomic<bool> crashed_{false};
};

}  // namespace outflow::testing
