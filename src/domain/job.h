// The job: Outflow's one durable unit of due work. Every capability (campaign
// sends, schedule occurrences, journey steps, paced releases, outbound calls)
// compiles down to jobs. The state machine and delivery guarantee are in
// docs/jobs.md; this header holds the values and the validation rules.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/strong_id.h"
#include "base/time.h"

namespace outflow {

struct JobIdTag {};
using JobId = StrongId<JobIdTag>;

//  ready ──claim──> leased ──done──> done
//    ^                │  ├──retry──> retrying ──claim──> leased
//    │                │  └──fail / last attempt──> dead
//    └──lease lost (attempt counted; dead if it was the last) / drain (not counted;
//       back to retrying instead if an earlier attempt had failed)
//  ready | retrying ──cancel──> cancelled
enum class JobState { kReady, kLeased, kDone, kRetrying, kDead, kCancelled };

inline constexpr JobState kAllJobStates[] = {JobState::kReady,    JobState::kLeased, JobState::kDone,
                                             JobState::kRetrying, JobState::kDead,   JobState::kCancelled};

std::string_view JobStateName(JobState s);
std::optional<JobState> ParseJobState(std::string_view name);
// True for states a job never leaves.
inline bool IsTerminal(JobState s) {
  return s == JobState::kDone || s == JobState::kDead || s == JobState::kCancelled;
}

// Limits on what a caller may submit; checked by ValidateJobSpec.
inline constexpr size_t kMaxKindLength = 64;
inline constexpr size_t kMaxIdempotencyKeyLength = 255;
inline constexpr size_t kMaxPayloadBytes = 64 * 1024;
inline constexpr int kMaxAttemptsLimit = 100;
inline constexpr int kDefaultMaxAttempts = 5;
inline constexpr size_t kMaxBatchSize = 10'000;

// What a caller asks for. The payload is a JSON document, already serialised.
struct JobSpec {
  std::string kind;
  Timestamp due_at;
  int max_attempts = kDefaultMaxAttempts;
  std::optional<std::string> idempotency_key;
  std::string payload = "{}";
};

struct Job {
  JobId id;
  std::string kind;
  JobState state = JobState::kReady;
  Timestamp due_at;
  int attempts = 0;  // runs started so far, counted at claim
  int max_attempts = kDefaultMaxAttempts;
  std::optional<std::string> lease_owner;
  std::optional<Timestamp> lease_expires_at;
  std::optional<std::string> idempotency_key;
  std::string payload = "{}";
  std::optional<std::string> last_error;
  Timestamp created_at;
  Timestamp updated_at;
  std::optional<Timestamp> started_at;   // when the latest attempt was claimed
  std::optional<Timestamp> finished_at;  // when it reached done, dead or cancelled
};

// Checks a spec's fields (not the kind's registration; that is the service's job):
// the kind, max_attempts, the key and payload sizes, and due_at <= kLatestTimestamp.
// `field` prefixes messages, e.g. "jobs[3]".
Status ValidateJobSpec(const JobSpec& spec, std::string_view field);
// A kind is 1-64 characters of [a-z0-9._-], starting with a letter.
Status ValidateKind(std::string_view kind, std::string_view field);

// What a handler says about one run.
struct RunResult {
  enum class Kind { kDone, kRetry, kFail };
  Kind kind = Kind::kDone;
  std::string error;                  // for kRetry and kFail
  std::optional<Timestamp> retry_at;  // kRetry: the handler's own time (e.g. Retry-After)
  // kDone: jobs to enqueue in the transaction that commits this run (the next
  // step of a chain), so that the run cannot end without them. Each must pass
  // ValidateJobSpec and be of a registered kind, or the run fails.
  std::vector<JobSpec> follow_ups;

  static RunResult Done() { return {}; }
  static RunResult Done(std::vector<JobSpec> follow_ups) {
    return {Kind::kDone, {}, std::nullopt, std::move(follow_ups)};
  }
  static RunResult Retry(std::string error, std::optional<Timestamp> at = std::nullopt) {
    return {Kind::kRetry, std::move(error), at};
  }
  static RunResult Fail(std::string error) { return {Kind::kFail, std::move(error), std::nullopt}; }
};

// What the engine commits for one leased job.
struct JobOutcome {
  enum class Kind {
    kDone,     // -> done
    kRetry,    // -> retrying at retry_at
    kDead,     // -> dead, error kept
    kRelease,  // -> ready/retrying now, the attempt not counted (drain)
  };
  JobId id;
  Kind kind = Kind::kDone;
  Timestamp retry_at;
  std::string error;
  // Enqueued (as JobStore::Enqueue would) in the same transaction, if and only if
  // the outcome applies. REQUIRES: each passed ValidateJobSpec.
  std::vector<JobSpec> follow_ups;
};

}  // namespace outflow
