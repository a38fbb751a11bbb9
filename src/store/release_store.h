// ReleaseStore: paced release plans and their log.
//
// Contract:
//  - Each method is one transaction: it applies whole or not at all.
//  - ReleaseSlot takes up to `limit` of the oldest staged contacts, makes them
//    live, puts them into their segments (the static ones recorded for them and
//    the dynamic ones they match), logs the release, and moves the plan's next
//    slot; when no staged contact is left the plan completes. It applies nothing
//    unless the plan is active and `slot` is its current next slot (Conflict), so
//    a slot runs once even if its job runs twice. That check is the slot's first
//    statement, one conditional update of the plan's row (a row lock where writers
//    run concurrently), and each contact goes live only if it is still staged: of
//    two runs of one slot exactly one releases, and no contact is released twice.
//  - SetState and Update are conditional on the plan's state as the caller names
//    it (Conflict otherwise); of two racing transitions exactly one wins.
//  - A write that leaves a plan active enqueues, in the same transaction, the job
//    its JobFn returns for the plan as written (the slot job), so no crash can
//    leave an active plan without the job of its next slot.
// Thread-safe.
#pragma once

#include <functional>
#include <vector>

#include "base/status.h"
#include "domain/job.h"
#include "domain/release.h"

namespace outflow {

class ReleaseStore {
 public:
  virtual ~ReleaseStore() = default;
  // The job of a plan's next slot, given the plan as written. An error aborts the write.
  using JobFn = std::function<Result<JobSpec>(const ReleasePlan&)>;

  // A new active plan, and its first slot's job (none when `slot_job` is empty).
  virtual Result<ReleasePlan> Create(const ReleasePlan& plan, const JobFn& slot_job, Timestamp now) = 0;
  Result<ReleasePlan> Create(const ReleasePlan& plan, Timestamp now) { return Create(plan, {}, now); }
  virtual Result<ReleasePlan> Get(ReleasePlanId id) = 0;
  virtual Result<std::vector<ReleasePlan>> List() = 0;
  // Moves the plan from one of `from` to `to`, with a new next slot when given, and
  // enqueues `slot_job` (may be empty) when `to` is active.
  virtual Result<ReleasePlan> SetState(ReleasePlanId id, std::vector<ReleaseState> from, ReleaseState to,
                                       std::optional<Timestamp> next_slot, const JobFn& slot_job, Timestamp now) = 0;
  // Changes the pace, windows or time zone of an active or paused plan. In the same
  // transaction, `next_slot` is given the plan as stored (a slot may have run since
  // the caller read it) and returns its next slot under the new pace and windows.
  using NextSlotFn = std::function<Timestamp(const ReleasePlan& stored)>;
  // The plan's slot job (`slot_job`, may be empty) is enqueued when it is active.
  virtual Result<ReleasePlan> Update(const ReleasePlan& plan, const NextSlotFn& next_slot, const JobFn& slot_job,
                                     Timestamp now) = 0;
  Result<ReleasePlan> Update(const ReleasePlan& plan, const NextSlotFn& next_slot, Timestamp now) {
    return Update(plan, next_slot, {}, now);
  }
  // The slot found its window closed: the plan waits for `next_slot`.
  virtual Status Reschedule(ReleasePlanId id, Timestamp slot, Timestamp next_slot, Timestamp now) = 0;
  virtual Result<int64_t> ReleaseSlot(ReleasePlanId id, Timestamp slot, int64_t limit, Timestamp next_slot,
                                      Timestamp now) = 0;
  virtual Result<std::vector<ReleaseLogEntry>> Log(ReleasePlanId id, int limit) = 0;
  virtual Result<int64_t> StagedCount() = 0;
};

}  // namespace outflow
