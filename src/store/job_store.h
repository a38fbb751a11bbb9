// JobStore: the durable home of jobs, and the only storage the engine sees.
//
// Contract (every implementation passes store/job_store_conformance_test.cc):
//  - Each method is one transaction: it applies whole or not at all.
//  - Enqueue never creates a second job for an idempotency key already present;
//    it returns the existing job's id with created=false (also within one batch).
//  - Claim moves due jobs (ready/retrying, due_at <= now) to leased, oldest due
//    first, counts the attempt, and records owner and lease expiry. Two claimers
//    never receive the same job while its lease is held.
//  - Commit applies an outcome only while the job is still leased by `owner`;
//    otherwise the outcome is stale (the lease was lost) and is skipped. An
//    outcome's follow-up jobs are enqueued in the same transaction if and only if
//    the outcome applies (with Enqueue's idempotency-key rule).
//  - Cancel is one conditional transition (ready/retrying -> cancelled): of two
//    racing cancels, or a cancel and a claim, exactly one wins.
//  - No contract relies on there being one writer: every transition is a single
//    conditional statement (or happens under a row lock), so that implementations
//    over a database with concurrent writers keep it.
//  - Transient failures (locked, full, read-only, I/O) return Unavailable; the
//    caller may retry. Corruption returns Corruption.
// Thread-safety: all methods may be called concurrently from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "domain/job.h"

namespace outflow {

struct EnqueueResult {
  JobId id;
  bool created = false;  // false: the idempotency key matched an existing job
};

struct JobFilter {
  std::vector<JobState> states;  // empty: any
  std::optional<std::string> kind;
  std::optional<Timestamp> due_from;   // due_at >= due_from
  std::optional<Timestamp> due_until;  // due_at < due_until
  JobId after;                         // keyset paging: ids greater than this
  int limit = 100;
};

struct JobPage {
  std::vector<Job> jobs;            // ascending id
  std::optional<JobId> next_after;  // set when more may follow
};

struct CommitStats {
  int applied = 0;
  int stale = 0;                   // outcomes skipped because the lease was no longer ours
  std::vector<bool> applied_mask;  // per outcome, in order: true when it applied
  int follow_ups_created = 0;      // follow-up jobs inserted (not those whose key existed)
};

struct RecoverStats {
  int to_ready = 0;  // leases returned to ready for another attempt
  int to_dead = 0;   // leases lost on the last attempt
};

struct WakeTimes {
  std::optional<Timestamp> next_due;           // earliest due_at of a ready/retrying job
  std::optional<Timestamp> next_lease_expiry;  // earliest lease_expires_at of a leased job
};

using StateCounts = std::array<int64_t, std::size(kAllJobStates)>;

class JobStore {
 public:
  virtual ~JobStore() = default;

  // REQUIRES: every spec passed ValidateJobSpec.
  virtual Result<std::vector<EnqueueResult>> Enqueue(std::span<const JobSpec> specs, Timestamp now) = 0;
  virtual Result<Job> Get(JobId id) = 0;
  virtual Result<JobPage> List(const JobFilter& filter) = 0;
  // ready/retrying -> cancelled. NotFound, or Conflict naming the current state.
  virtual Result<Job> Cancel(JobId id, Timestamp now) = 0;

  virtual Result<std::vector<Job>> Claim(std::string_view owner, Timestamp now, Duration lease, int limit) = 0;
  // Claim, restricted to jobs of the given kinds (for tools that run one kind of work).
  virtual Result<std::vector<Job>> ClaimKinds(std::string_view owner, Timestamp now, Duration lease, int limit,
                                              std::span<const std::string> kinds) = 0;
  virtual Result<CommitStats> Commit(std::string_view owner, std::span<const JobOutcome> outcomes, Timestamp now) = 0;
  // Returns leased jobs to ready (keeping their due time and the counted attempt,
  // with last_error saying the lease was lost) or, on their last attempt, to dead:
  // those whose lease expired at or before `now`, and with `owner` all of that owner's
  // leases whatever their expiry (a restarted node's leases are dead by definition).
  virtual Result<RecoverStats> RecoverLeases(Timestamp now, std::optional<std::string_view> owner) = 0;
  // When the next pending job falls due and the next lease expires.
  virtual Result<WakeTimes> NextWakeTimes() = 0;
  // How many jobs are in each state. Kept with every transition, in its transaction,
  // so a call costs the same whatever the number of jobs (it backs /metrics).
  virtual Result<StateCounts> CountByState() = 0;
  // Deletes up to `limit` finished jobs (done, dead, cancelled) whose finished_at is
  // before `before`, oldest finish first, in one transaction; returns how many. A
  // caller empties a backlog by calling again while the result equals `limit`, with
  // a limit small enough that one call holds the writer briefly. A pruned job is
  // gone: Get says NotFound and its idempotency key may be used again.
  // REQUIRES: limit >= 1.
  virtual Result<int64_t> Prune(Timestamp before, int limit) = 0;
};

}  // namespace outflow
