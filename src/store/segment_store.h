// SegmentStore: segments, their members, and the durable log of membership
// changes that campaigns, journeys and automations will act on.
//
// Contract (the conformance suite, segment_store_conformance_test.cc, checks it):
//  - A dynamic segment's members are exactly the live contacts its filter
//    matches, except while a pass over the contacts is under way (below). Every
//    contact write (create, update, upsert, import, delete) applies the contact's
//    memberships in every dynamic segment, filling or not, in that write's
//    transaction.
//  - Passes: a dynamic segment is filled (on Create) and re-evaluated (Refresh,
//    for filters with relative times) by a pass over the live contacts in id order,
//    in chunks of a bounded number of contacts, each chunk one transaction that
//    applies the differences for its id range and commits the pass's cursor (the
//    last id handled) with them; no call holds a writer for a whole pass. A chunk
//    evaluates each contact in its range as committed when the chunk runs, and
//    holds it against change until the chunk commits (SQLite: the one writer; a
//    server database: the chunk locks its contacts and the segment row). So a
//    contact written during a pass ends up right whether it is below the cursor
//    (its write applied it) or above it (its chunk will read it as written).
//    A crash loses at most the chunk in flight; the next FillChunk resumes at the
//    committed cursor. Passes of one segment are safe to run from several threads:
//    each chunk reads and advances the cursor under the segment's lock.
//  - A segment is `filling` until its first pass ends: its members are
//    incomplete, and a campaign must not freeze its audience from it
//    (CampaignStore::Start refuses with FailedPrecondition). A refresh leaves a
//    segment usable (`refreshing`): each member is as of the pass or of its last write.
//  - The jobs that continue a write are inserted in that write's transaction
//    (`jobs_for`): the fill job when a pass is left unfinished, the next refresh of
//    a chain. Nothing at start-up repairs a missing one.
//  - A static segment's members change through AddMembers/RemoveMembers, an
//    import's segment_name column or segment option, and a contact's deletion;
//    a staged contact is recorded (staged_memberships) and joins when it goes live.
//  - Every join and leave is appended to the membership log in the same
//    transaction as the change; member_count is maintained with it.
//  - The log is numbered in commit order: an event committed after a reader saw
//    the events up to id N has an id above N. So a consumer that keeps the last id
//    it handled and asks for Events(after that id) sees every event exactly once.
//    A store must therefore number events under a lock held until commit (SQLite:
//    the one writer; PostgreSQL: a counter row updated in the transaction, not a
//    sequence, whose values are not in commit order). Ids may have gaps.
// Thread-safety: all methods may be called concurrently from any thread.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "base/status.h"
#include "domain/job.h"
#include "domain/segment.h"

namespace outflow {

struct MembershipEvent {
  int64_t id = 0;  // commit order: a consumer keeps the last id it handled (see above)
  SegmentId segment;
  ContactId contact;
  bool joined = true;  // false: left
  Timestamp at;
};

struct MemberPage {
  std::vector<ContactId> contacts;  // ascending id
  std::optional<ContactId> next_after;
};

// What one chunk of a pass did.
struct FillProgress {
  int64_t joined = 0;
  int64_t left = 0;
  bool done = true;  // no pass is pending any more
};

// The jobs a segment write inserts in its own transaction.
struct SegmentJobs {
  std::optional<JobSpec> fill;     // inserted when the write leaves a pass unfinished
  std::optional<JobSpec> refresh;  // inserted with the write: the next refresh of the chain
};
using SegmentJobsFn = std::function<SegmentJobs(const Segment&)>;

class SegmentStore {
 public:
  virtual ~SegmentStore() = default;
  // Conflict if the name is taken. A dynamic segment starts its first pass: the
  // first chunk runs in this transaction, with `jobs_for`'s jobs (may be empty).
  virtual Result<Segment> Create(const Segment& segment, Timestamp now, const SegmentJobsFn& jobs_for = {}) = 0;
  virtual Result<Segment> Get(SegmentId id) = 0;
  virtual Result<std::optional<Segment>> FindByName(std::string_view name) = 0;
  virtual Result<std::vector<Segment>> List() = 0;
  virtual Status Delete(SegmentId id) = 0;
  virtual Result<MemberPage> Members(SegmentId id, ContactId after, int limit) = 0;
  // Static segments only (Conflict for a dynamic one); NotFound names a missing contact.
  virtual Result<int64_t> AddMembers(SegmentId id, std::span<const ContactId> contacts, Timestamp now) = 0;
  virtual Result<int64_t> RemoveMembers(SegmentId id, std::span<const ContactId> contacts, Timestamp now) = 0;
  // Starts a re-evaluation pass of a dynamic segment at `now` (for filters with
  // relative times) from the first contact (one under way starts over) and runs its first chunk,
  // with `jobs_for`'s jobs, in one transaction. A static segment: nothing, done.
  // NotFound if the segment is gone (and no job is inserted).
  virtual Result<FillProgress> Refresh(SegmentId id, Timestamp now, const SegmentJobsFn& jobs_for = {}) = 0;
  // The next chunk of the segment's pending pass, in one transaction; done when no
  // pass is pending. NotFound if the segment is gone.
  virtual Result<FillProgress> FillChunk(SegmentId id, Timestamp now) = 0;
  // The segments a contact is in.
  virtual Result<std::vector<SegmentId>> SegmentsOf(ContactId contact) = 0;
  // Events with id > after_id, ascending, at most `limit`.
  virtual Result<std::vector<MembershipEvent>> Events(int64_t after_id, int limit) = 0;
};

// Runs FillChunk until the pass is done (tools, tests, benchmarks: the daemon
// leaves it to the fill job). Returns the sums.
inline Result<FillProgress> FillToEnd(SegmentStore& store, SegmentId id, Timestamp now) {
  FillProgress sum{0, 0, false};
  while (!sum.done) {
    OUTFLOW_ASSIGN_OR_RETURN(FillProgress p, store.FillChunk(id, now));
    sum = {sum.joined + p.joined, sum.left + p.left, p.done};
  }
  return sum;
}

}  // namespace outflow
