#include "api/auth_gate.h"

#include <boost/json.hpp>

#include <algorithm>

#include "api/http_util.h"
#include "auth/route_table.h"
#include "crypto/hmac.h"

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
  HttpResponse r =
      Refusal(429, "rate_limited",
              "this API key or user is over its request rate; retry after " + std::to_string(seconds) + " s");
  r.headers.emplace_back("Retry-After", std::to_string(seconds));
  return r;
}

bool IsRead(const std::string& method) {
  return method == "GET" || method == "HEAD";
}

// Admits a request by its session cookie, or refuses it.
Admission AdmitSession(auth::UserAuth& users, const HttpRequest& req, std::string_view cookie) {
  Result<auth::SessionUser> s = users.Authenticate(cookie);
  if (!s.ok()) {
    if (s.status().code() != Code::kUnauthenticated) return {ErrorResponse(s.status()), std::nullopt, std::nullopt};
    HttpResponse r = Unauthorized(s.status().message(), false);
    r.headers.emplace_back("Set-Cookie", SessionCookie("", Duration::zero(), req.secure));
    return {std::move(r), std::nullopt, std::nullopt};
  }
  if (!IsRead(req.method) && !crypto::ConstantTimeEqual(req.Header(auth::kCsrfHeader), s->csrf_token)) {
    return {Refusal(403, "csrf_failed",
                    "a change made with a session cookie needs the header " + std::string(auth::kCsrfHeader) +
                        ": the csrf_token from POST or GET /v1/session"),
            std::nullopt, std::nullopt};
  }
  auth::Principal who{
      .kind = auth::Principal::Kind::kUser, .user_id = s->user.id, .name = s->user.email, .role = s->user.role};
  return {std::nullopt, std::move(who), std::move(*s)};
}

}  // namespace

std::string_view CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view part = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.starts_with(name) && part[name.size()] == '=') {
      return part.substr(name.size() + 1);
    }
  }
  return {};
}

std::string SessionCookie(std::string_view session_id, Duration max_age, bool secure) {
  const int64_t seconds = std::chrono::duration_cast<std::chrono::seconds>(max_age).count();
  std::string c = std::string(auth::kSessionCookie) + "=" + std::string(session_id) +
                  "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(session_id.empty() ? 0 : seconds);
  if (secure) c += "; Secure";
  return c;
}

Admission Admit(auth::Authenticator* auth, bool metrics_public, const HttpRequest& req, std::string_view path) {
  const auth::RouteRule* rule = auth::FindRule(req.method, path);
  const auth::Access need = rule == nullptr ? auth::Access::kAdmin : rule->access;
  if (need == auth::Access::kPublic || (need == auth::Access::kMetrics && metrics_public)) {
    return {.rule = rule};
  }
  const std::string_view header = req.Header("Authorization");
  if (auth == nullptr) return {Unauthorized("this daemon accepts no API keys", !header.empty()), std::nullopt};
  const std::string_view cookie = CookieValue(req.Header("Cookie"), auth::kSessionCookie);
  Admission in;
  if (header.empty() && !cookie.empty() && auth->users() != nullptr) {
    in = AdmitSession(*auth->users(), req, cookie);
    if (in.refusal) return in;
  } else {
    Result<auth::Principal> who = auth->Authenticate(header);
    if (!who.ok()) {
      if (who.status().code() != Code::kUnauthenticated) return {ErrorResponse(who.status()), std::nullopt};
      return {Unauthorized(who.status().message(), !header.empty()), std::nullopt};
    }
    in.principal = std::move(*who);
  }
  const auth::Principal& who = *in.principal;
  const Role min = auth::MinRole(need);
  if (!RoleAtLeast(who.role, min)) {
    return {Refusal(403, "permission_denied",
                    req.method + " " + std::string(path) + " needs the " + std::string(RoleName(min)) + " role; this " +
                        (who.is_user() ? "user (" : "key (") + who.name + ") is " + std::string(RoleName(who.role))),
            std::nullopt};
  }
  if (std::optional<Duration> wait = auth->Throttle(who)) return {TooManyRequests(*wait), std::nullopt};
  in.rule = rule;
  return in;
}

}  // namespace outflow::api
