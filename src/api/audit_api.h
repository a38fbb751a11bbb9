// The audit log's route (admin only; docs/api.md, docs/security.md):
//
//   GET /v1/audit   entries newest first: id, at, actor, actor_name, action,
//                   object_type, object_id, address, request_id, summary.
//                   Filters: actor ("key:12"), action, object_type, object_id,
//                   since, until (RFC 3339), limit (1-1000, default 100), before
//                   (the next page: the previous page's next_before).
//
// A read first waits for the entries still queued (AuditLog::Flush), so it sees
// every change answered before it. No route changes or deletes an entry.
// Thread-safe.
#pragma once

#include <boost/json.hpp>

#include <optional>
#include <string_view>

#include "api/http_server.h"
#include "audit/audit_log.h"

namespace outflow::api {

// An entry as the API and `outflow audit --json` show it.
boost::json::object AuditEntryToJson(const AuditEntry& e);

class AuditApi {
 public:
  explicit AuditApi(AuditLog& log) : log_(log) {}
  std::optional<HttpResponse> Route(const HttpRequest& req, std::string_view path, std::string_view query);

 private:
  HttpResponse List(std::string_view query);
  AuditLog& log_;
};

}  // namespace outflow::api
