// SegmentStore: segments, their members, and the durable log of membership
// changes that campaigns, journeys and automations will act on.
//
// Contract:
//  - A dynamic segment's members are exactly the live contacts its filter
//    matches: populated when it is created, and kept in step by every contact
//    write (create, update, upsert, import, delete) in that write's transaction.
//  - A static segment's members change through AddMembers/RemoveMembers, an
//    import's segment_name column or segment option, and a contact's deletion;
//    a staged contact is recorded (staged_memberships) and joins when it goes live.
//  - Every join and leave is appended to the membership log in the same
//    transaction as the change; member_count is maintained with it.
// Thread-safety: all methods may be called concurrently from any thread.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "base/status.h"
#include "domain/segment.h"

namespace outflow {

struct MembershipEvent {
  int64_t id = 0;  // increasing: a consumer keeps the last id it handled
  SegmentId segment;
  ContactId contact;
  bool joined = true;  // false: left
  Timestamp at;
};

struct MemberPage {
  std::vector<ContactId> contacts;  // ascending id
  std::optional<ContactId> next_after;
};

class SegmentStore {
 public:
  virtual ~SegmentStore() = default;
  // Conflict if the name is taken. A dynamic segment is populated in the same transaction.
  virtual Result<Segment> Create(const Segment& segment, Timestamp now) = 0;
  virtual Result<Segment> Get(SegmentId id) = 0;
  virtual Result<std::optional<Segment>> FindByName(std::string_view name) = 0;
  virtual Result<std::vector<Segment>> List() = 0;
  virtual Status Delete(SegmentId id) = 0;
  virtual Result<MemberPage> Members(SegmentId id, ContactId after, int limit) = 0;
  // Static segments only (Conflict for a dynamic one); NotFound names a missing contact.
  virtual Result<int64_t> AddMembers(SegmentId id, std::span<const ContactId> contacts, Timestamp now) = 0;
  virtual Result<int64_t> RemoveMembers(SegmentId id, std::span<const ContactId> contacts, Timestamp now) = 0;
  // Re-evaluates a dynamic segment over every live contact at `now` (for filters
  // with relative times), applying and logging the differences in one transaction.
  // Returns {joined, left}. NotFound if the segment is gone.
  virtual Result<std::pair<int64_t, int64_t>> Refresh(SegmentId id, Timestamp now) = 0;
  // The segments a contact is in.
  virtual Result<std::vector<SegmentId>> SegmentsOf(ContactId contact) = 0;
  virtual Result<std::vector<MembershipEvent>> Events(int64_t after_id, int limit) = 0;
};

}  // namespace outflow
