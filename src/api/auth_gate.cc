#include "api/auth_gate.h"

#include <boost/json.hpp>

#include <algorithm>

#include "api/http_util.h"
#include "auth/route_table.h"

namespace outflow::api {

namespace json = boost::json;

namespace {

HttpResponse Refusal(int status, std::string_view code, const std::string& message) {
  json::object body{{"error", json::object{{"code", code}, {"message", message}}}};
  return JsonResponse(status, body);
}

HttpResponse Unauthorized(const std::string& message, bool key_given) {
  HttpResponse r = Refusal(401, "unauthenticated", message);
  r.headers.emplace_back("WWW-Authenticate",
                         key_given ? "Bearer realm=\"outflow\", error=\"invalid_token\"" : "Bearer realm=\"outflow\"");
  return r;
}

HttpResponse TooManyRequests(Duration wait) {
  const int64_t seconds = std::max<int64_t>(1, (wait.count() + 999'999) / 1'000'000);
  HttpResponse r = Refusal(429, "rate_limited",
                           "this API key is over its request rate; retry after " + std::to_string(seconds) + " s");
  r.headers.emplace_back("Retry-After", std::to_string(seconds));
  return r;
}

}  // namespace

Admission Admit(auth::Authenticator* auth, bool metrics_public, const HttpRequest& req, std::string_view path) {
  const auth::RouteRule* rule = auth::FindRule(req.method, path);
  const auth::Access need = rule == nullptr ? auth::Access::kAdmin : rule->access;
  if (need == auth::Access::kPublic || (need == auth::Access::kMetrics && metrics_public)) {
    return {std::nullopt, std::nullopt, rule};
  }
  const std::string_view header = req.Header("Authorization");
  if (auth == nullptr) return {Unauthorized("this daemon accepts no API keys", !header.empty()), std::nullopt};
  Result<auth::Principal> who = auth->Authenticate(header);
  if (!who.ok()) {
    if (who.status().code() != Code::kUnauthenticated) return {ErrorResponse(who.status()), std::nullopt};
    return {Unauthorized(who.status().message(), !header.empty()), std::nullopt};
  }
  const Role min = auth::MinRole(need);
  if (!RoleAtLeast(who->role, min)) {
    return {Refusal(403, "permission_denied",
                    req.method + " " + std::string(path) + " needs the " + std::string(RoleName(min)) +
                        " role; this key (" + who->name + ") is " + std::string(RoleName(who->role))),
            std::nullopt};
  }
  if (std::optional<Duration> wait = auth->Throttle(who->id)) return {TooManyRequests(*wait), std::nullopt};
  return {std::nullopt, std::move(*who), rule};
}

}  // namespace outflow::api
