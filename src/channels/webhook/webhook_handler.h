// WebhookHandler: the "webhook" job kind. Sends payload.body as JSON to
// payload.url over HTTP(S) with libcurl, reusing one connection per worker thread.
//
// Payload: {"url": "https://...", "method"?: "POST", "headers"?: {"K": "V"},
//           "body"?: <any JSON, default {}>, "timeout_ms"?: 1..60000 (default 10000)}
// Every request carries Idempotency-Key: outflow-job-<id> (the same on every
// attempt), X-Outflow-Job-Id and X-Outflow-Attempt.
// Outcome: 2xx done; 408, 425, 429, 5xx, timeouts and connection errors retried,
// honouring Retry-After (seconds or an HTTP date, base/retry_after.h; at most
// kMaxRetryAfter, an hour); any other status fails the
// job with the status and the start of the response body. A destination the
// outbound policy refuses (net/outbound_policy.h) fails the job at once with the
// policy's reason: retrying would not change the answer. Thread-safe.
#pragma once

#include "base/clock.h"
#include "engine/handler.h"
#include "net/outbound_policy.h"

namespace outflow::channels {

class WebhookHandler final : public JobHandler {
 public:
  // REQUIRES: `clock` and `outbound` outlive the handler.
  WebhookHandler(Clock& clock, const net::OutboundPolicy& outbound);
  RunResult Run(const Job& job) override;
  Status ValidatePayload(std::string_view payload_json, std::string_view field) const override;
  std::string Description() const override;

 private:
  Clock& clock_;
  const net::OutboundPolicy& outbound_;
};

}  // namespace outflow::channels
