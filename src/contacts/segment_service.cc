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

JobSpec SegmentFillJob(SegmentId id, Timestamp now) {
  JobSpec spec;
  spec.kind = std::string(kSegmentFillKind);
  spec.due_at = now;
  spec.max_attempts = 100;  // store trouble retries; a dead fill leaves the segment filling
  spec.idempotency_key = "segment-fill-" + std::to_string(id.value()) + "-" + std::to_string(ToMicros(now));
  spec.payload = boost::json::serialize(boost::json::object{{"segment_id", id.value()}});
  return spec;
}

SegmentJobs JobsFor(const Segment& segment, Timestamp now) {
  SegmentJobs jobs;
  jobs.fill = SegmentFillJob(segment.id, now);
  if (segment.filter && UsesRelativeTime(*segment.filter)) jobs.refresh = SegmentRefreshJob(segment.id, now);
  return jobs;
}

std::string SegmentRefresher::Description() const {
  return fill_only_ ? "finishes a dynamic segment's fill or refresh, a chunk of contacts a transaction "
                      "(payload: {\"segment_id\": N})"
                    : "re-evaluates a dynamic segment whose filter uses relative times, hourly "
                      "(payload: {\"segment_id\": N})";
}

RunResult SegmentRefresher::Run(const Job& job) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(job.payload, ec);
  if (ec || !v.is_object() || !v.as_object().contains("segment_id")) return RunResult::Fail("payload: no segment_id");
  SegmentId id(v.at("segment_id").to_number<int64_t>());
  FillProgress sum;
  if (!fill_only_) {
    // The next hour's job is stored with the start of this pass: no gap for a crash.
    const Timestamp now = clock_.Now();
    Result<FillProgress> first = store_.Refresh(id, now, [now](const Segment& s) {
      SegmentJobs jobs;
      if (s.filter && UsesRelativeTime(*s.filter)) jobs.refresh = SegmentRefreshJob(s.id, now);
      return jobs;  // no fill job: this job runs the pass itself, and is rerun after a crash
    });
    if (!first.ok()) {
      if (first.status().code() == Code::kNotFound) return RunResult::Done();  // deleted: the chain ends
      return RunResult::Retry(first.status().message());
    }
    sum = *first;
  }
  while (!sum.done || fill_only_) {
    Result<FillProgress> p = store_.FillChunk(id, clock_.Now());
    if (!p.ok()) {
      if (p.status().code() == Code::kNotFound) return RunResult::Done();
      return RunResult::Retry(p.status().message());
    }
    sum = {sum.joined + p->joined, sum.left + p->left, p->done};
    if (p->done) break;
  }
  if (sum.joined + sum.left > 0) {
    log::Info(fill_only_ ? "segment filled" : "segment refreshed",
              {{"segment", id.value()}, {"joined", sum.joined}, {"left", sum.left}});
  }
  return RunResult::Done();
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
  const Timestamp now = clock_.Now();
  if (jobs_ == nullptr) {
    OUTFLOW_ASSIGN_OR_RETURN(Segment created, store_.Create(segment, now));
    if (!created.filling) return created;
    OUTFLOW_RETURN_IF_ERROR(FillToEnd(store_, created.id, now).status());
    return store_.Get(created.id);
  }
  OUTFLOW_ASSIGN_OR_RETURN(Segment created,
                           store_.Create(segment, now, [now](const Segment& s) { return JobsFor(s, now); }));
  if (created.kind == SegmentKind::kDynamic) jobs_->NotifyInserted(now);  // a job may be due at once
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
