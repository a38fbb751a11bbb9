// SegmentService: segments as the API and the CLI use them. Validates names and
// filters (fields must be standard or defined custom fields), and serves the
// members and the membership log. A dynamic segment is filled in chunks
// (store/segment_store.h): Create returns after the first chunk, `filling` when
// contacts remain, and its `segment.fill` job, stored with it, finishes the pass.
// Thread-safe.
#pragma once

#include "base/clock.h"
#include "contacts/contact_service.h"
#include "engine/handler.h"
#include "engine/job_service.h"
#include "store/segment_store.h"

namespace outflow {

inline constexpr size_t kMaxMembersPerCall = 10'000;
inline constexpr std::string_view kSegmentRefreshKind = "segment.refresh";
inline constexpr std::string_view kSegmentFillKind = "segment.fill";

// The refresh job of a segment for the whole hour after `now`: filters with
// relative times are re-evaluated hourly. The key names the hour, so restarts and
// the job's own chain never start a second refresh for the same hour.
JobSpec SegmentRefreshJob(SegmentId id, Timestamp now);
// The job that finishes a pass a write left unfinished, due at once. The key
// names the segment and the time of the write, so a pass has one.
JobSpec SegmentFillJob(SegmentId id, Timestamp now);
// The jobs a write of `segment` at `now` stores with it: the fill job, and the
// next hourly refresh when its filter uses relative times.
SegmentJobs JobsFor(const Segment& segment, Timestamp now);

class SegmentService {
 public:
  // `jobs` may be null (tools and tests): then no jobs, and Create fills the
  // whole segment in the caller's thread, chunk by chunk.
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

 private:
  SegmentStore& store_;
  ContactService& contacts_;
  Clock& clock_;
  JobService* jobs_;
};

// The `segment.refresh` job: starts a re-evaluation pass of one segment with the
// next hour's job in the same transaction (for filters with relative times; the
// chain ends for others), then runs the pass to its end, one chunk a transaction.
// The `segment.fill` job: runs a pending pass to its end. A rerun after a crash
// resumes at the pass's committed cursor.
class SegmentRefresher final : public JobHandler {
 public:
  SegmentRefresher(SegmentStore& store, Clock& clock, bool fill_only)
      : store_(store), clock_(clock), fill_only_(fill_only) {}
  RunResult Run(const Job& job) override;
  std::string Description() const override;

 private:
  SegmentStore& store_;
  Clock& clock_;
  bool fill_only_;
};

}  // namespace outflow
