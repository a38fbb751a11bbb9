#include "contacts/segment_service.h"

#include <boost/json.hpp>

#include "base/log.h"

namespace outflow {

JobSpec SegmentRefreshJob(SegmentId id, Timestamp now) {
  constexpr int64_t kHour = 3'600'000'000;
  const int64_t hour = ToMicros(now) / kHour + 1;
  JobSpec spec;
  spec.kind = std::string(kSegmentRefreshKind);
  spec.due_at = FromMicros(hour * kHour);
  spec.max_attempts = 10;
  spec.idempotency_key = "segment-refresh-" + std::to_string(id.value()) + "-" + std::to_string(hour);
  spec.payload = boost::json::serialize(boost::json::object{{"segment_id", id.value()}});
  return spec;
}

std::string SegmentRefresher::Description() const {
  return "re-evaluates a dynamic segment whose filter uses relative times, hourly (payload: {\"segment_id\": N})";
}

RunResult SegmentRefresher::Run(const Job& job) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(job.payload, ec);
  if (ec || !v.is_object() || !v.as_object().contains("segment_id")) return RunResult::Fail("payload: no segment_id");
  SegmentId id(v.at("segment_id").to_number<int64_t>());
  Result<std::pair<int64_t, int64_t>> r = store_.Refresh(id, clock_.Now());
  if (!r.ok()) {
    if (r.status().code() == Code::kNotFound) return RunResult::Done();  // deleted: the chain ends
    return RunResult::Retry(r.status().message());
  }
  if (r->first + r->second > 0) {
    log::Info("segment refreshed", {{"segment", id.value()}, {"joined", r->first}, {"left", r->second}});
  }
  JobSpec next = SegmentRefreshJob(id, clock_.Now());
  Result<std::vector<EnqueueResult>> q = jobs_->Enqueue(std::span(&next, 1), "");
  return q.ok() ? RunResult::Done() : RunResult::Retry(q.status().message());
}

Status SegmentService::RequeueRefreshes() {
  if (jobs_ == nullptr) return Status::Ok();
  OUTFLOW_ASSIGN_OR_RETURN(auto all, store_.List());
  std::vector<JobSpec> specs;
  for (const Segment& s : all) {
    if (s.kind == SegmentKind::kDynamic && s.filter && UsesRelativeTime(*s.filter)) {
      specs.push_back(SegmentRefreshJob(s.id, clock_.Now()));
    }
  }
  if (specs.empty()) return Status::Ok();
  return jobs_->Enqueue(specs, "segments").status();
}

Result<Segment> SegmentService::Create(Segment segment) {
  OUTFLOW_RETURN_IF_ERROR(ValidateSegmentName(segment.name));
  if (segment.kind == SegmentKind::kDynamic) {
    if (!segment.filter) return Status::InvalidArgument("filter: a dynamic segment needs a filter");
    OUTFLOW_ASSIGN_OR_RETURN(auto defs, contacts_.Definitions());
    OUTFLOW_RETURN_IF_ERROR(ValidateFilter(*segment.filter, defs));
  } else if (segment.filter) {
    return Status::InvalidArgument("filter: a static segment has no filter (its members are added by hand)");
  }
  OUTFLOW_ASSIGN_OR_RETURN(Segment created, store_.Create(segment, clock_.Now()));
  if (jobs_ != nullptr && created.filter && UsesRelativeTime(*created.filter)) {
    JobSpec refresh = SegmentRefreshJob(created.id, clock_.Now());
    OUTFLOW_RETURN_IF_ERROR(jobs_->Enqueue(std::span(&refresh, 1), "").status());
  }
  return created;
}

Result<MemberPage> SegmentService::Members(SegmentId id, ContactId after, int limit) {
  if (limit < 1 || limit > kMaxContactListLimit) {
    return Status::InvalidArgument("limit: must be between 1 and " + std::to_string(kMaxContactListLimit));
  }
  return store_.Members(id, after, limit);
}

Result<int64_t> SegmentService::AddMembers(SegmentId id, std::span<const ContactId> contacts) {
  if (contacts.empty() || contacts.size() > kMaxMembersPerCall) {
    return Status::InvalidArgument("contact_ids: give 1 to " + std::to_string(kMaxMembersPerCall) + " ids");
  }
  return store_.AddMembers(id, contacts, clock_.Now());
}

Result<int64_t> SegmentService::RemoveMembers(SegmentId id, std::span<const ContactId> contacts) {
  if (contacts.empty() || contacts.size() > kMaxMembersPerCall) {
    return Status::InvalidArgument("contact_ids: give 1 to " + std::to_string(kMaxMembersPerCall) + " ids");
  }
  return store_.RemoveMembers(id, contacts, clock_.Now());
}

Result<std::vector<MembershipEvent>> SegmentService::Events(int64_t after_id, int limit) {
  if (limit < 1 || limit > 10'000) return Status::InvalidArgument("limit: must be between 1 and 10000");
  return store_.Events(after_id, limit);
}

}  // namespace outflow
