// JobStoreWrapper: forwards every call to a target store. Subclasses override the
// calls they want to decorate (fault injection in tests, instrumentation), in the
// manner of leveldb's EnvWrapper.
#pragma once

#include "store/job_store.h"

namespace outflow {

class JobStoreWrapper : public JobStore {
 public:
  explicit JobStoreWrapper(JobStore& target) : target_(target) {}
  JobStore& target() { return target_; }

  Result<std::vector<EnqueueResult>> Enqueue(std::span<const JobSpec> specs, Timestamp now) override {
    return target_.Enqueue(specs, now);
  }
  Result<Job> Get(JobId id) override { return target_.Get(id); }
  Result<JobPage> List(const JobFilter& filter) override { return target_.List(filter); }
  Result<Job> Cancel(JobId id, Timestamp now) override { return target_.Cancel(id, now); }
  Result<std::vector<Job>> Claim(std::string_view owner, Timestamp now, Duration lease, int limit) override {
    return target_.Claim(owner, now, lease, limit);
  }
  Result<std::vector<Job>> ClaimKinds(std::string_view owner, Timestamp now, Duration lease, int limit,
                                      std::span<const std::string> kinds) override {
    return target_.ClaimKinds(owner, now, lease, limit, kinds);
  }
  Result<CommitStats> Commit(std::string_view owner, std::span<const JobOutcome> outcomes, Timestamp now) override {
    return target_.Commit(owner, outcomes, now);
  }
  Result<RecoverStats> RecoverLeases(Timestamp now, std::optional<std::string_view> owner) override {
    return target_.RecoverLeases(now, owner);
  }
  Result<WakeTimes> NextWakeTimes() override { return target_.NextWakeTimes(); }
  Result<StateCounts> CountByState() override { return target_.CountByState(); }
  Result<int64_t> Prune(Timestamp before, int limit) override { return target_.Prune(before, limit); }

 private:
  JobStore& target_;
};

}  // namespace outflow
