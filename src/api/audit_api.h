// The audit log's route (admin only; docs/api.md, docs/security.md):
//
//   GET /v1/audit   entries newest first: id, at, actor, actor_name, action,
//                   object_type, object_id, address, request_id, summary.
//                   Filters: actor ("key:12"), action, object_type, object_id,
//                   since, until (RFC 3339), limit (1-1000, default 100), before
//                   (the next page: the previous page's next_before).
//
// No route changes or deletes an entry. Thread-safe.
#pragma once

#include <boost/json.hpp>

#include <optional>
#include <string_view>

#include "api/http_server.h"
#include "store/audit_store.h"

namespace outflow::api {

// An entry as the API and `outflow audit --json` show it.
boost::json::object AuditEntryToJson(const AuditEntry& e);

class AuditApi {
 public:
  explicit AuditApi(AuditStore& store) : store_(store) {}
  std::optional<HttpResponse> Route(const HttpRequest& req, std::string_view path, std::string_view query);

 private:
  HttpResponse List(std::string_view query);
  AuditStore& store_;
};

}  // namespace outflow::api
