// JobService: the one code path through which jobs are created, read and
// cancelled, shared by the REST API and (through it) the CLI.
//
// It validates input before touching the store (a batch is checked whole, and
// nothing of it is applied when one job is bad), keeps the metrics, and wakes the
// engine when a new job falls due earlier than the engine expected.
// Thread-safety: safe to call from any thread.
#pragma once

#include <span>
#include <vector>

#include "base/clock.h"
#include "engine/engine.h"
#include "engine/handler.h"
#include "engine/metrics.h"
#include "store/job_store.h"

namespace outflow {

inline constexpr int kMaxListLimit = 1000;

class JobService {
 public:
  // `engine` may be null (no engine to wake, e.g. in tools).
  JobService(JobStore& store, Clock& clock, const HandlerRegistry& handlers, EngineMetrics& metrics, Engine* engine)
      : store_(store), clock_(clock), handlers_(handlers), metrics_(metrics), engine_(engine) {}

  // Checks one spec as it would be enqueued; `field` prefixes messages.
  Status Validate(const JobSpec& spec, std::string_view field) const;
  // Validates all, then enqueues all in one transaction. `batch` names the array
  // in messages ("jobs"); empty for a single job.
  Result<std::vector<EnqueueResult>> Enqueue(std::span<const JobSpec> specs, std::string_view batch);
  // Jobs another store wrote in the transaction of its own change (see
  // store/sqlite/job_rows.h): counts them as enqueued and wakes the engine if one
  // falls due earlier than it expected. Call after that transaction committed.
  void Stored(std::span<const JobSpec> specs);
  // Wakes the engine for jobs that a store inserted in a domain change's own
  // transaction (not through Enqueue), the earliest due at `due_at`.
  void NotifyInserted(Timestamp due_at) {
    if (engine_ != nullptr) engine_->NotifyEnqueued(due_at);
  }
  Result<Job> Get(JobId id) { return store_.Get(id); }
  Result<JobPage> List(const JobFilter& filter);
  Result<Job> Cancel(JobId id) { return store_.Cancel(id, clock_.Now()); }
  Result<StateCounts> CountByState() { return store_.CountByState(); }

  const HandlerRegistry& handlers() const { return handlers_; }
  Clock& clock() { return clock_; }

 private:
  JobStore& store_;
  Clock& clock_;
  const HandlerRegistry& handlers_;
  EngineMetrics& metrics_;
  Engine* engine_;
};

}  // namespace outflow
