#include "domain/job.h"

#include <string>

namespace outflow {

std::string_view JobStateName(JobState s) {
  switch (s) {
    case JobState::kReady: return "ready";
    case JobState::kLeased: return "leased";
    case JobState::kDone: return "done";
    case JobState::kRetrying: return "retrying";
    case JobState::kDead: return "dead";
    case JobState::kCancelled: return "cancelled";
  }
  return "ready";
}

std::optional<JobState> ParseJobState(std::string_view name) {
  for (JobState s : kAllJobStates) {
    if (JobStateName(s) == name) return s;
  }
  return std::nullopt;
}

Status ValidateKind(std::string_view kind, std::string_view field) {
  std::string f(field);
  if (kind.empty()) return Status::InvalidArgument(f + ": must not be empty");
  if (kind.size() > kMaxKindLength) {
    return Status::InvalidArgument(f + ": longer than " + std::to_string(kMaxKindLength) + " characters");
  }
  if (kind[0] < 'a' || kind[0] > 'z') return Status::InvalidArgument(f + ": must start with a lower-case letter");
  for (char c : kind) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return Status::InvalidArgument(f + ": may hold only a-z, 0-9, '.', '_' and '-'");
  }
  return Status::Ok();
}

Status ValidateJobSpec(const JobSpec& spec, std::string_view field) {
  std::string f(field);
  std::string dot = f.empty() ? "" : f + ".";
  OUTFLOW_RETURN_IF_ERROR(ValidateKind(spec.kind, dot + "kind"));
  if (spec.max_attempts < 1 || spec.max_attempts > kMaxAttemptsLimit) {
    return Status::InvalidArgument(dot + "max_attempts: must be between 1 and " + std::to_string(kMaxAttemptsLimit));
  }
  if (spec.due_at > kLatestTimestamp) {
    return Status::InvalidArgument(dot + "due_at: after " + FormatRfc3339(kLatestTimestamp) +
                                   ", the latest time Outflow accepts");
  }
  if (spec.idempotency_key) {
    if (spec.idempotency_key->empty()) return Status::InvalidArgument(dot + "idempotency_key: must not be empty");
    if (spec.idempotency_key->size() > kMaxIdempotencyKeyLength) {
      return Status::InvalidArgument(dot + "idempotency_key: " + std::to_string(spec.idempotency_key->size()) +
                                     " bytes, over the limit of " + std::to_string(kMaxIdempotencyKeyLength));
    }
  }
  if (spec.payload.size() > kMaxPayloadBytes) {
    return Status::InvalidArgument(dot + "payload: " + std::to_string(spec.payload.size()) +
                                   " bytes, over the limit of " + std::to_string(kMaxPayloadBytes));
  }
  return Status::Ok();
}

}  // namespace outflow
