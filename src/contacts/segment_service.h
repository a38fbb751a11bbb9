// SegmentService: segments as the API and the CLI use them. Validates names and
// filters (fields must be standard or defined custom fields), and serves the
// members and the membership log. Thread-safe.
#pragma once

#include "base/clock.h"
#include "contacts/contact_service.h"
#include "engine/handler.h"
#include "engine/job_service.h"
#include "store/segment_store.h"

namespace outflow {

inline constexpr size_t kMaxMembersPerCall = 10'000;
inline constexpr std::string_view kSegmentRefreshKind = "segment.refresh";

// The refresh job of a segment for the whole hour after `now`: filters with
// relative times are re-evaluated hourly. The key names the hour, so restarts and
// the job's own chain never start a second refresh for the same hour.
JobSpec SegmentRefreshJob(SegmentId id, Timestamp now);

class SegmentService {
 public:
  // `jobs` may be null (no refresh jobs: tools and tests).
  SegmentService(SegmentStore& store, ContactService& contacts, Clock& clock, JobService* jobs = nullptr)
      : store_(store), contacts_(contacts), clock_(clock), jobs_(jobs) {}

  Result<Segment> Create(Segment segment);
  Result<Segment> Get(SegmentId id) { return store_.Get(id); }
  Result<std::vector<Segment>> List() { return store_.List(); }
  Status Delete(SegmentId id) { return store_.Delete(id); }
  Result<MemberPage> Members(SegmentId id, ContactId after, int limit);
  Result<int64_t> AddMembers(SegmentId id, std::span<const ContactId> contacts);
  Result<int64_t> RemoveMembers(SegmentId id, std::span<const ContactId> contacts);
  Result<std::vector<SegmentId>> SegmentsOf(ContactId contact) { return store_.SegmentsOf(contact); }
  Result<std::vector<MembershipEvent>> Events(int64_t after_id, int limit);
  // Queues the hourly refresh of every dynamic segment whose filter uses relative times.
  Status RequeueRefreshes();

 private:
  SegmentStore& store_;
  ContactService& contacts_;
  Clock& clock_;
  JobService* jobs_;
};

// The `segment.refresh` job: re-evaluates one segment, then queues the next hour's.
class SegmentRefresher final : public JobHandler {
 public:
  SegmentRefresher(SegmentStore& store, Clock& clock) : store_(store), clock_(clock) {}
  // REQUIRES: called once before the engine starts.
  void SetJobs(JobService* jobs) { jobs_ = jobs; }
  RunResult Run(const Job& job) override;
  std::string Description() const override;

 private:
  SegmentStore& store_;
  Clock& clock_;
  JobService* jobs_ = nullptr;
};

}  // namespace outflow
