// Membership maintenance on a connection inside a transaction, shared by every
// store whose writes change contacts (contacts, imports, segments).
#pragma once

#include <map>
#include <span>
#include <memory>
#include <mutex>
#include <vector>

#include "domain/segment.h"
#include "store/sqlite/db.h"

namespace outflow::sqlite {

// The dynamic segments and their filters, loaded once and reloaded after a
// segment is created or deleted. Thread-safe; shared by the stores of one database.
class DynamicSegments {
 public:
  // REQUIRES: `c` is the writer (so that a segment created in this transaction is seen).
  Result<std::shared_ptr<const std::vector<Segment>>> Get(Connection& c);
  void Invalidate();

 private:
  std::mutex mu_;
  std::shared_ptr<const std::vector<Segment>> cached_;  // GUARDED_BY(mu_)
};

// Member count changes not yet written, per segment: bulk writers collect them
// and apply them once per transaction with FlushCounts instead of once per row.
using CountDeltas = std::map<int64_t, int64_t>;
Status FlushCounts(Connection& c, CountDeltas& deltas);

// Puts contact `id` (as it now is) into the dynamic segments it matches and out of
// those it no longer matches, logging each change and keeping member counts (in
// `deltas` when given, else at once). `is_new`: the contact was just inserted and
// has no memberships yet.
// The dynamic segments a contact created in this transaction matches, appended to
// `joins` for JoinNewContacts (instead of SyncMemberships' row-by-row writes).
Status CollectNewMemberships(Connection& c, DynamicSegments& segments, ContactId id, const Contact& contact,
                             Timestamp now, std::vector<std::pair<SegmentId, ContactId>>& joins);
Status SyncMemberships(Connection& c, DynamicSegments& segments, ContactId id, const Contact& contact, Timestamp now,
                       bool is_new = false, CountDeltas* deltas = nullptr);
// A staged contact became live: it joins the static segments recorded for it.
Status ApplyStagedMemberships(Connection& c, ContactId id, Timestamp now, CountDeltas* deltas = nullptr);
// Takes a contact out of every segment (before it is deleted), logging each change,
// and forgets the memberships recorded for its release.
Status RemoveFromAllSegments(Connection& c, ContactId id, Timestamp now);
// The static segment named `name`, created if there is none: {id, existed}. The id
// is nullopt when a dynamic segment has that name.
Result<std::pair<std::optional<SegmentId>, bool>> EnsureStaticSegment(Connection& c, const std::string& name,
                                                                      Timestamp now);
// True when the contact is staged (not live yet).
Result<bool> IsStaged(Connection& c, ContactId contact);
// Puts a contact into a static segment; for a staged contact, records the
// membership for the release that makes it live (staged_memberships).
Status JoinStaticSegment(Connection& c, SegmentId segment, ContactId contact, bool staged, Timestamp now,
                         CountDeltas* deltas = nullptr);
// Adds memberships of contacts created in this transaction (members of nothing
// yet): the rows and their log entries as multi-row INSERTs, 64 rows a statement,
// and the counts into `deltas` (flushed by the caller). The same rows as SetMember
// for each pair, in order; several times faster for a bulk import
// (docs/benchmarks.md). Internal error if a membership existed already.
// REQUIRES: every contact is live, was created in the current transaction, and has
// not joined the segment by another path since.
Status JoinNewContacts(Connection& c, std::span<const std::pair<SegmentId, ContactId>> joins, Timestamp now,
                               CountDeltas& deltas);

// Adds or removes one membership with its log entry and count; false if it was already so.
Result<bool> SetMember(Connection& c, SegmentId segment, ContactId contact, bool member, Timestamp now,
                       CountDeltas* deltas = nullptr);

}  // namespace outflow::sqlite
