// SegmentService: segments as the API and the CLI use them. Validates names and
// filters (fields must be standard or defined custom fields), and serves the
// members and the membership log. Thread-safe.
#pragma once

#include "base/clock.h"
#include "contacts/contact_service.h"
#include "store/segment_store.h"

namespace outflow {

inline constexpr size_t kMaxMembersPerCall = 10'000;

class SegmentService {
 public:
  SegmentService(SegmentStore& store, ContactService& contacts, Clock& clock)
      : store_(store), contacts_(contacts), clock_(clock) {}

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
};

}  // namespace outflow
