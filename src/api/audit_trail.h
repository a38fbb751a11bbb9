// The audit trail of the API: which requests are changes, and the audit entry
// each one gets (docs/security.md "Audit log"; the log itself is audit/audit_log.h).
//
// A change is a request, admitted with a key or a session, whose route is not a
// read (GET, HEAD) nor public, and that succeeded (2xx). Public routes (signed
// links, provider callbacks) act for contacts and providers, and are recorded in
// the message timelines instead. Routes marked as storing nothing in the route table
// (RouteRule::changes: template previews) are left out.
//
// The entry's action is "<object type>.<verb>", from the route's pattern:
// POST /v1/campaigns -> campaign.create, PATCH .../{id} -> update, DELETE -> delete,
// POST /v1/campaigns/{id}/cancel -> campaign.cancel, POST /v1/jobs/batch -> job.batch.
// The object id is the path's {id}, or the "id" of the created object's response.
// The summary names what was sent, never a value, so no secret, password or
// credential can reach the log: {"fields": [top-level body fields], "items":
// {array field: length}, "query": [parameter names], "upload_bytes": n}.
// Pure; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "api/http_server.h"
#include "auth/authenticator.h"
#include "auth/route_table.h"
#include "domain/audit_entry.h"

namespace outflow::api {

struct ChangeContext {
  const HttpRequest& request;
  std::string_view path;
  const auth::RouteRule& rule;
  const auth::Principal& principal;
  std::string_view request_id;
  Timestamp now;
};

// The entry of a change; nullopt when the request is not a change (see above).
std::optional<AuditEntry> DescribeChange(const ChangeContext& c, const HttpResponse& response);

// The client's request id from X-Request-Id when it is 1-64 characters of
// [A-Za-z0-9._-]; else a new random one (16 hex digits).
std::string RequestIdOf(const HttpRequest& req);

}  // namespace outflow::api
