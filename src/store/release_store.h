// ReleaseStore: paced release plans and their log.
//
// Contract: ReleaseSlot is one transaction: it takes up to `limit` of the oldest
// staged contacts, makes them live, puts them into their segments (the static
// ones recorded for them and the dynamic ones they match), logs the release,
// and moves the plan's next slot; when no staged contact is left the plan
// completes. It applies nothing unless the plan is active and `slot` is its
// current next slot (Conflict), so a slot runs once even if its job runs twice.
// Thread-safe.
#pragma once

#include <functional>
#include <vector>

#include "base/status.h"
#include "domain/release.h"

namespace outflow {

class ReleaseStore {
 public:
  virtual ~ReleaseStore() = default;
  virtual Result<ReleasePlan> Create(const ReleasePlan& plan, Timestamp now) = 0;
  virtual Result<ReleasePlan> Get(ReleasePlanId id) = 0;
  virtual Result<std::vector<ReleasePlan>> List() = 0;
  // Moves the plan from one of `from` to `to`, with a new next slot when given.
  virtual Result<ReleasePlan> SetState(ReleasePlanId id, std::vector<ReleaseState> from, ReleaseState to,
                                       std::optional<Timestamp> next_slot, Timestamp now) = 0;
  // Changes the pace, windows or time zone of an active or paused plan. In the same
  // transaction, `next_slot` is given the plan as stored (a slot may have run since
  // the caller read it) and returns its next slot under the new pace and windows.
  using NextSlotFn = std::function<Timestamp(const ReleasePlan& stored)>;
  virtual Result<ReleasePlan> Update(const ReleasePlan& plan, const NextSlotFn& next_slot, Timestamp now) = 0;
  // The slot found its window closed: the plan waits for `next_slot`.
  virtual Status Reschedule(ReleasePlanId id, Timestamp slot, Timestamp next_slot, Timestamp now) = 0;
  virtual Result<int64_t> ReleaseSlot(ReleasePlanId id, Timestamp slot, int64_t limit, Timestamp next_slot,
                                      Timestamp now) = 0;
  virtual Result<std::vector<ReleaseLogEntry>> Log(ReleasePlanId id, int limit) = 0;
  virtual Result<int64_t> StagedCount() = 0;
};

}  // namespace outflow
