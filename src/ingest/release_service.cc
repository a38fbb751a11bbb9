#include "ingest/release_service.h"

#include <boost/json.hpp>

#include "base/log.h"

namespace outflow {

namespace json = boost::json;

JobSpec ReleaseSlotJob(ReleasePlanId plan, Timestamp slot) {
  JobSpec spec;
  spec.kind = std::string(kReleaseJobKind);
  spec.due_at = slot;
  spec.max_attempts = 100;  // a dead slot job would stall its plan
  spec.idempotency_key = "release-" + std::to_string(plan.value()) + "-" + std::to_string(ToMicros(slot));
  spec.payload = json::serialize(json::object{{"plan_id", plan.value()}, {"slot_at", ToMicros(slot)}});
  return spec;
}

ReleaseStore::JobFn ReleaseService::SlotJob(std::optional<JobSpec>& made) const {
  return [this, &made](const ReleasePlan& plan) -> Result<JobSpec> {
    JobSpec spec = ReleaseSlotJob(plan.id, plan.next_slot_at);
    OUTFLOW_RETURN_IF_ERROR(jobs_.Validate(spec, "slot job"));
    made = spec;
    return spec;
  };
}

void ReleaseService::Stored(const std::optional<JobSpec>& slot_job) {
  if (slot_job) jobs_.Stored(std::span(&*slot_job, 1));
}

namespace {

// The pace, windows and zone of a plan; returns its windows.
Result<SendWindows> ValidatePlan(const ReleasePlan& plan) {
  if (plan.per_slot < 1 || plan.per_slot > kMaxReleasePerSlot) {
    return Status::InvalidArgument("per_slot: must be between 1 and " + std::to_string(kMaxReleasePerSlot));
  }
  if (plan.interval_seconds < 1 || plan.interval_seconds > 7 * 86400) {
    return Status::InvalidArgument("interval_seconds: must be between 1 and 604800 (a week)");
  }
  if (plan.ramp_percent < 0 || plan.ramp_percent > 1000) {
    return Status::InvalidArgument("ramp_percent_per_day: must be between 0 and 1000");
  }
  return SendWindows::Create(plan.time_zone, plan.windows);
}

}  // namespace

Result<ReleasePlan> ReleaseService::Create(ReleasePlan plan) {
  if (plan.name.empty() || plan.name.size() > 255) return Status::InvalidArgument("name: must be 1 to 255 bytes");
  OUTFLOW_ASSIGN_OR_RETURN(SendWindows windows, ValidatePlan(plan));
  Timestamp now = clock_.Now();
  plan.started_at = now;
  plan.next_slot_at = windows.NextOpen(now);
  std::optional<JobSpec> slot_job;
  OUTFLOW_ASSIGN_OR_RETURN(ReleasePlan created, store_.Create(plan, SlotJob(slot_job), now));
  Stored(slot_job);
  return created;
}

Result<ReleasePlan> ReleaseService::Change(ReleasePlanId id, const std::function<Status(ReleasePlan&)>& change) {
  OUTFLOW_ASSIGN_OR_RETURN(ReleasePlan plan, store_.Get(id));
  OUTFLOW_RETURN_IF_ERROR(change(plan));
  OUTFLOW_ASSIGN_OR_RETURN(SendWindows windows, ValidatePlan(plan));
  Timestamp now = clock_.Now();
  // Computed from the plan as stored when the change commits, not as read above: a
  // slot that ran in between moved next_slot_at, and the new pace counts from it.
  auto next = [&](const ReleasePlan& stored) {
    // The last slot ran one old interval before the next one.
    const Timestamp last_slot = stored.next_slot_at - std::chrono::seconds(stored.interval_seconds);
    return windows.NextOpen(std::max(now, last_slot + std::chrono::seconds(plan.interval_seconds)));
  };
  std::optional<JobSpec> slot_job;
  OUTFLOW_ASSIGN_OR_RETURN(ReleasePlan changed, store_.Update(plan, next, SlotJob(slot_job), now));
  Stored(slot_job);
  return changed;
}

Result<ReleasePlan> ReleaseService::Pause(ReleasePlanId id) {
  return store_.SetState(id, {ReleaseState::kActive}, ReleaseState::kPaused, std::nullopt, {}, clock_.Now());
}

Result<ReleasePlan> ReleaseService::Resume(ReleasePlanId id) {
  OUTFLOW_ASSIGN_OR_RETURN(ReleasePlan p, store_.Get(id));
  OUTFLOW_ASSIGN_OR_RETURN(SendWindows windows, SendWindows::Create(p.time_zone, p.windows));
  std::optional<JobSpec> slot_job;
  OUTFLOW_ASSIGN_OR_RETURN(ReleasePlan resumed,
                           store_.SetState(id, {ReleaseState::kPaused}, ReleaseState::kActive,
                                           windows.NextOpen(clock_.Now()), SlotJob(slot_job), clock_.Now()));
  Stored(slot_job);
  return resumed;
}

Result<ReleasePlan> ReleaseService::Cancel(ReleasePlanId id) {
  return store_.SetState(id, {ReleaseState::kActive, ReleaseState::kPaused}, ReleaseState::kCancelled, std::nullopt, {},
                         clock_.Now());
}

std::string ReleaseRunner::Description() const {
  return "releases one slot of a paced release plan from staging into the live base (payload: {\"plan_id\", "
         "\"slot_at\"})";
}

Status ReleaseRunner::ValidatePayload(std::string_view payload_json, std::string_view field) const {
  boost::system::error_code ec;
  json::value v = json::parse(payload_json, ec);
  if (ec || !v.is_object() || !v.as_object().contains("plan_id") || !v.as_object().contains("slot_at")) {
    return Status::InvalidArgument(std::string(field) + ": must be {\"plan_id\": N, \"slot_at\": microseconds}");
  }
  return Status::Ok();
}

// The next slot's job is a follow-up of this run's outcome, committed with it: a
// crash or a failed commit after the slot leaves this job to run again, and that
// run (finding next_slot_at moved past its slot) brings the same follow-up.
RunResult ReleaseRunner::Run(const Job& job) {
  json::value v = json::parse(job.payload);
  ReleasePlanId id(v.at("plan_id").to_number<int64_t>());
  Timestamp slot = FromMicros(v.at("slot_at").to_number<int64_t>());
  Result<ReleasePlan> plan = store_.Get(id);
  if (!plan.ok())
    return plan.status().code() == Code::kNotFound ? RunResult::Fail(plan.status().message())
                                                   : RunResult::Retry(plan.status().message());
  auto then = [&](Timestamp next) { return RunResult::Done({ReleaseSlotJob(id, next)}); };
  if (plan->state != ReleaseState::kActive) return RunResult::Done();
  // This slot ran already (its job ran twice) or the plan was resumed or changed:
  // make sure the plan's own next slot has its job, then stop.
  if (plan->next_slot_at != slot) return then(plan->next_slot_at);
  Result<SendWindows> windows = SendWindows::Create(plan->time_zone, plan->windows);
  if (!windows.ok()) return RunResult::Fail(windows.status().message());
  const Timestamp now = clock_.Now();
  if (!windows->IsOpen(now)) {  // checked when the slot runs: a late slot never releases outside its window
    Timestamp next = windows->NextOpen(now);
    Status st = store_.Reschedule(id, slot, next, clock_.Now());
    if (st.code() == Code::kConflict) return RunResult::Done();  // moved on, as for ReleaseSlot below
    if (!st.ok()) return RunResult::Retry(st.message());
    return then(next);
  }
  return RunSlot(*plan, slot, *windows, now);
}

RunResult ReleaseRunner::RunSlot(const ReleasePlan& plan, Timestamp slot, const SendWindows& windows, Timestamp now) {
  const int64_t limit = SlotSize(plan, windows.LocalDaysBetween(plan.started_at, slot));
  // On time, the cadence counts from the scheduled slot, so lateness does not drift it;
  // more than an interval late (after a stop), it counts from now: missed slots are
  // skipped, never released back to back.
  const auto interval = std::chrono::seconds(plan.interval_seconds);
  Timestamp next = windows.NextOpen(now > slot + interval ? now + interval : slot + interval);
  Result<int64_t> released = store_.ReleaseSlot(plan.id, slot, limit, next, clock_.Now());
  if (!released.ok()) {
    // Conflict: the plan was paused, cancelled or changed since it was read; whatever
    // moved it stored the job of its next slot in the same transaction.
    if (released.status().code() == Code::kConflict) return RunResult::Done();
    return RunResult::Retry(released.status().message());
  }
  log::Info("release slot", {{"plan", plan.id.value()}, {"released", *released}, {"limit", limit}});
  // The slot is committed; a failed read must not end the chain: the retry finds
  // next_slot_at moved past this slot and brings the plan's next slot.
  Result<ReleasePlan> after = store_.Get(plan.id);
  if (!after.ok()) return RunResult::Retry(after.status().message());
  if (after->state == ReleaseState::kActive) return RunResult::Done({ReleaseSlotJob(plan.id, after->next_slot_at)});
  return RunResult::Done();
}

}  // namespace outflow
