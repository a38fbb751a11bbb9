#include "contacts/segment_service.h"

namespace outflow {

Result<Segment> SegmentService::Create(Segment segment) {
  OUTFLOW_RETURN_IF_ERROR(ValidateSegmentName(segment.name));
  if (segment.kind == SegmentKind::kDynamic) {
    if (!segment.filter) return Status::InvalidArgument("filter: a dynamic segment needs a filter");
    OUTFLOW_ASSIGN_OR_RETURN(auto defs, contacts_.Definitions());
    OUTFLOW_RETURN_IF_ERROR(ValidateFilter(*segment.filter, defs));
  } else if (segment.filter) {
    return Status::InvalidArgument("filter: a static segment has no filter (its members are added by hand)");
  }
  return store_.Create(segment, clock_.Now());
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
