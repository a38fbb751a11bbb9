// JSON mapping of jobs for the REST API (Boost.JSON). Parsing is strict: unknown
// fields, wrong types and missing required fields are InvalidArgument errors
// that name the field ("jobs[3].due_at: ...").
#pragma once

#include <boost/json.hpp>

#include <string_view>

#include "base/status.h"
#include "domain/job.h"

namespace outflow::api {

// Parses a request body; the error names the byte offset of a syntax error.
Result<boost::json::value> ParseJsonBody(std::string_view body);

// {"kind", "due_at"?, "max_attempts"?, "idempotency_key"?, "payload"?}; due_at
// defaults to `now`, payload to {}. `field` prefixes messages ("" or "jobs[3]").
Result<JobSpec> ParseJobSpec(const boost::json::value& v, std::string_view field, Timestamp now);

boost::json::object JobToJson(const Job& job);

}  // namespace outflow::api
