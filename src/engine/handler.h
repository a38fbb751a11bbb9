// JobHandler: the code that runs one attempt of a job of a given kind, and the
// registry that maps kinds to handlers.
//
// Handlers are called from several worker threads at once and must be
// thread-safe. A handler that throws is treated as RunResult::Retry with the
// exception's message.
//
// Deadlines: the engine passes no deadline and cannot cancel a run; a run that
// outlives the lease (default 5 min, `serve --lease-seconds`) loses it and its job
// runs again elsewhere. So a handler MUST bound each of its own outside calls
// (network, subprocesses, waits on other systems) with a total timeout well below
// the lease, and report a timeout as Retry. The webhook handler does so with
// libcurl's CURLOPT_TIMEOUT_MS (payload timeout_ms, 10 s by default, 60 s at most).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "domain/job.h"

namespace outflow {

class JobHandler {
 public:
  virtual ~JobHandler() = default;
  // One attempt. REQUIRES of the implementation: returns within a bounded time,
  // well below the engine's lease (see the file comment).
  virtual RunResult Run(const Job& job) = 0;
  // Checks a payload at enqueue time so that bad input is a 400, not a dead job.
  // `field` names the payload in messages ("jobs[2].payload").
  virtual Status ValidatePayload(std::string_view payload_json, std::string_view field) const {
    (void)payload_json;
    (void)field;
    return Status::Ok();
  }
  // One line for `outflow job kinds` and GET /v1/kinds.
  virtual std::string Description() const = 0;
};

// Adapts a function, for tests and trivial kinds.
class FunctionHandler final : public JobHandler {
 public:
  FunctionHandler(std::string description, std::function<RunResult(const Job&)> fn)
      : description_(std::move(description)), fn_(std::move(fn)) {}
  RunResult Run(const Job& job) override { return fn_(job); }
  std::string Description() const override { return description_; }

 private:
  std::string description_;
  std::function<RunResult(const Job&)> fn_;
};

// Filled before the engine starts and read-only afterwards; no locking.
class HandlerRegistry {
 public:
  // REQUIRES: `kind` passes ValidateKind and is not registered yet.
  void Register(std::string kind, std::shared_ptr<JobHandler> handler);
  JobHandler* Find(std::string_view kind) const;
  std::vector<std::string> Kinds() const;

 private:
  std::map<std::string, std::shared_ptr<JobHandler>, std::less<>> handlers_;
};

}  // namespace outflow
