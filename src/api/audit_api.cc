#include "api/audit_api.h"

#include <boost/url/params_view.hpp>
#include <boost/url/parse_query.hpp>

#include "api/http_util.h"

namespace outflow::api {

namespace json = boost::json;

namespace {

Status ApplyParam(AuditFilter& f, const std::string& key, const std::string& value) {
  if (key == "actor") {
    f.actor = value;
  } else if (key == "action") {
    f.action = value;
  } else if (key == "object_type") {
    f.object_type = value;
  } else if (key == "object_id") {
    f.object_id = value;
  } else if (key == "since" || key == "until") {
    Result<Timestamp> t = ParseRfc3339(value);
    if (!t.ok()) return Status::InvalidArgument(key + ": '" + value.substr(0, 40) + "' is not an RFC 3339 time");
    (key == "since" ? f.since : f.until) = *t;
  } else if (key == "limit" || key == "before") {
    OUTFLOW_ASSIGN_OR_RETURN(int64_t n, QueryInteger(key, value));
    if (key == "before") {
      f.before = n;
    } else if (n < 1 || n > 1000) {
      return Status::InvalidArgument("limit: must be between 1 and 1000");
    } else {
      f.limit = static_cast<int>(n);
    }
  } else {
    return Status::InvalidArgument(
        key + ": unknown parameter (known: actor, action, object_type, object_id, since, until, limit, before)");
  }
  return Status::Ok();
}

}  // namespace

json::object AuditEntryToJson(const AuditEntry& e) {
  boost::system::error_code ec;
  json::value summary = json::parse(e.summary, ec);
  if (ec) summary = e.summary;
  return json::object{{"id", e.id},
                      {"at", FormatRfc3339(e.at)},
                      {"actor", e.actor},
                      {"actor_name", e.actor_name},
                      {"action", e.action},
                      {"object_type", e.object_type},
                      {"object_id", OptText(e.object_id)},
                      {"address", e.address},
                      {"request_id", e.request_id},
                      {"summary", std::move(summary)}};
}

std::optional<HttpResponse> AuditApi::Route(const HttpRequest& req, std::string_view path, std::string_view query) {
  if (path != "/v1/audit") return std::nullopt;
  if (req.method != "GET" && req.method != "HEAD") return MethodNotAllowed("GET");
  return List(query);
}

HttpResponse AuditApi::List(std::string_view query) {
  if (auto parsed = boost::urls::parse_query(query); !parsed) {
    return ErrorResponse(Status::InvalidArgument("query string is malformed"));
  }
  AuditFilter f;
  for (const boost::urls::param& p : boost::urls::params_view(query)) {
    if (p.key.empty()) continue;  // "?a=1&" has an empty last parameter
    if (Status st = ApplyParam(f, p.key, p.value); !st.ok()) return ErrorResponse(st);
  }
  if (Status st = log_.Flush(); !st.ok()) return ErrorResponse(st);
  Result<AuditPage> page = log_.store().List(f);
  if (!page.ok()) return ErrorResponse(page.status());
  json::array entries;
  for (const AuditEntry& e : page->entries) entries.push_back(AuditEntryToJson(e));
  json::object body{{"entries", std::move(entries)}};
  if (page->next_before) body["next_before"] = *page->next_before;
  return JsonResponse(200, body);
}

}  // namespace outflow::api
