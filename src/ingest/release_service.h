// ReleaseService and the `release.slot` job: paced release of staged contacts.
//
// A plan's slots run as jobs: each slot job releases up to the slot's size in one
// transaction and enqueues the next slot at slot + interval (the cadence does not
// drift with run time), or at the next window opening when the window is
// closed. The slot time in the job must equal the plan's next_slot_at, so a slot
// job that runs twice (a lost lease) releases nothing the second time. Pause
// stops at the next slot; resume schedules from now. Thread-safe.
#pragma once

#include <atomic>
#include <functional>

#include "base/clock.h"
#include "engine/handler.h"
#include "engine/job_service.h"
#include "store/release_store.h"

namespace outflow {

inline constexpr std::string_view kReleaseJobKind = "release.slot";

class ReleaseService {
 public:
  ReleaseService(ReleaseStore& store, JobService& jobs, Clock& clock) : store_(store), jobs_(jobs), clock_(clock) {}

  // Validates and starts a plan: its first slot is the first open moment from now.
  Result<ReleasePlan> Create(ReleasePlan plan);
  Result<ReleasePlan> Get(ReleasePlanId id) { return store_.Get(id); }
  Result<std::vector<ReleasePlan>> List() { return store_.List(); }
  // Changes pace, windows or time zone: `change` edits the stored plan; the next
  // slot becomes the last slot plus the new interval (not before now), in the new windows.
  Result<ReleasePlan> Change(ReleasePlanId id, const std::function<Status(ReleasePlan&)>& change);
  Result<ReleasePlan> Pause(ReleasePlanId id);
  Result<ReleasePlan> Resume(ReleasePlanId id);
  Result<ReleasePlan> Cancel(ReleasePlanId id);
  Result<std::vector<ReleaseLogEntry>> Log(ReleasePlanId id, int limit) { return store_.Log(id, limit); }
  Result<int64_t> StagedCount() { return store_.StagedCount(); }
  // Enqueues the slot job of every active plan (idempotent): after a crash between
  // a slot's commit and the next slot's enqueue, the plan goes on.
  Status RequeueActive();

 private:
  Status EnqueueSlot(const ReleasePlan& plan);

  ReleaseStore& store_;
  JobService& jobs_;
  Clock& clock_;
};

class ReleaseRunner final : public JobHandler {
 public:
  ReleaseRunner(ReleaseStore& store, Clock& clock) : store_(store), clock_(clock) {}
  // REQUIRES: called once before the engine starts (the job service is built after the handlers).
  void SetJobs(JobService* jobs) { jobs_ = jobs; }
  RunResult Run(const Job& job) override;
  Status ValidatePayload(std::string_view payload_json, std::string_view field) const override;
  std::string Description() const override;

 private:
  ReleaseStore& store_;
  Clock& clock_;
  JobService* jobs_ = nullptr;
};

// The job for one slot of a plan.
JobSpec ReleaseSlotJob(ReleasePlanId plan, Timestamp slot);

}  // namespace outflow
