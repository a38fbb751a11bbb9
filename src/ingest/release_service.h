// ReleaseService and the `release.slot` job: paced release of staged contacts.
//
// A plan's slots run as jobs: each slot job releases up to the slot's size in one
// transaction, and its outcome carries the next slot's job (at slot + interval: the
// cadence does not drift with run time; or at the next window opening when the
// window is closed), committed with it. Creating, changing and resuming a plan
// store its slot job in the plan's own transaction, so an active plan always has
// the job of its next slot and no start-up sweep is needed. The slot time in the job must equal the plan's
// next_slot_at, so a slot job that runs twice (a lost lease) releases nothing the second time. Pause stops at the next
// slot; resume schedules from now. Thread-safe.
#pragma once

#include <atomic>
#include <functional>

#include "base/clock.h"
#include "engine/handler.h"
#include "engine/job_service.h"
#include "store/release_store.h"
#include "time/send_window.h"

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

 private:
  // The slot job of a plan as the store writes it; `made` receives a copy.
  ReleaseStore::JobFn SlotJob(std::optional<JobSpec>& made) const;
  // After a plan and its slot job committed: wakes the engine.
  void Stored(const std::optional<JobSpec>& slot_job);

  ReleaseStore& store_;
  JobService& jobs_;
  Clock& clock_;
};

class ReleaseRunner final : public JobHandler {
 public:
  ReleaseRunner(ReleaseStore& store, Clock& clock) : store_(store), clock_(clock) {}
  RunResult Run(const Job& job) override;
  Status ValidatePayload(std::string_view payload_json, std::string_view field) const override;
  std::string Description() const override;

 private:
  // Releases the slot due now (its window open); Done with the next slot's job.
  RunResult RunSlot(const ReleasePlan& plan, Timestamp slot, const SendWindows& windows, Timestamp now);

  ReleaseStore& store_;
  Clock& clock_;
};

// The job for one slot of a plan.
JobSpec ReleaseSlotJob(ReleasePlanId plan, Timestamp slot);

}  // namespace outflow
