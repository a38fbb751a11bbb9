#include "engine/job_service.h"

#include <algorithm>

namespace outflow {

Status JobService::Validate(const JobSpec& spec, std::string_view field) const {
  OUTFLOW_RETURN_IF_ERROR(ValidateJobSpec(spec, field));
  std::string dot = field.empty() ? "" : std::string(field) + ".";
  const JobHandler* h = handlers_.Find(spec.kind);
  if (h == nullptr) {
    std::string kinds;
    for (const auto& k : handlers_.Kinds()) kinds += (kinds.empty() ? "" : ", ") + k;
    return Status::InvalidArgument(dot + "kind: unknown kind '" + spec.kind + "' (known kinds: " + kinds + ")");
  }
  return h->ValidatePayload(spec.payload, dot + "payload");
}

Result<std::vector<EnqueueResult>> JobService::Enqueue(std::span<const JobSpec> specs, std::string_view batch) {
  if (specs.empty())
    return Status::InvalidArgument(std::string(batch.empty() ? "jobs" : batch) + ": the batch is empty");
  if (specs.size() > kMaxBatchSize) {
    return Status::InvalidArgument(std::string(batch) + ": " + std::to_string(specs.size()) +
                                   " jobs, over the limit of " + std::to_string(kMaxBatchSize) + " per batch");
  }
  for (size_t i = 0; i < specs.size(); ++i) {
    std::string field = batch.empty() ? "" : std::string(batch) + "[" + std::to_string(i) + "]";
    OUTFLOW_RETURN_IF_ERROR(Validate(specs[i], field));
  }
  OUTFLOW_ASSIGN_OR_RETURN(auto results, store_.Enqueue(specs, clock_.Now()));
  Timestamp earliest = Timestamp::max();
  uint64_t created = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].created) continue;
    ++created;
    earliest = std::min(earliest, specs[i].due_at);
  }
  metrics_.enqueued += created;
  if (engine_ != nullptr && created > 0) engine_->NotifyEnqueued(earliest);
  return results;
}

void JobService::Stored(std::span<const JobSpec> specs) {
  if (specs.empty()) return;
  Timestamp earliest = Timestamp::max();
  for (const JobSpec& s : specs) earliest = std::min(earliest, s.due_at);
  metrics_.enqueued += specs.size();
  if (engine_ != nullptr) engine_->NotifyEnqueued(earliest);
}

Result<JobPage> JobService::List(const JobFilter& filter) {
  if (filter.limit < 1 || filter.limit > kMaxListLimit) {
    return Status::InvalidArgument("limit: must be between 1 and " + std::to_string(kMaxListLimit));
  }
  if (filter.due_from && filter.due_until && *filter.due_from > *filter.due_until) {
    return Status::InvalidArgument("due_from: later than due_until");
  }
  return store_.List(filter);
}

}  // namespace outflow
