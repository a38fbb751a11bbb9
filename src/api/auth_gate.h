// The API's front door: what a request needs (auth/route_table.h) against who
// sent it (auth::Authenticator), before any route runs (docs/security.md).
//
//   public route                     -> let through, no credentials read
//   an Authorization header          -> the API key (a Bearer header wins over a cookie)
//   else a session cookie            -> the web UI user's session (auth/user_auth.h)
//   no credentials, or bad ones      -> 401 unauthenticated, WWW-Authenticate: Bearer
//                                       (a bad session cookie is also cleared)
//   a cookie-authenticated change    -> 403 csrf_failed unless X-CSRF-Token is the
//     (not GET or HEAD)                 session's token
//   a role below the route's         -> 403 permission_denied
//   the principal's budget is spent  -> 429 rate_limited, Retry-After (whole seconds)
//
// Thread-safe.
#pragma once

#include <optional>
#include <string_view>

#include "api/http_server.h"
#include "auth/authenticator.h"
#include "auth/route_table.h"
#include "auth/user_auth.h"

namespace outflow::api {

// The gate's answer: a refusal to send, or leave to route the request, with the
// principal it was admitted as (none on a public route) and, for a user, the
// session it came with.
struct Admission {
  std::optional<HttpResponse> refusal;
  std::optional<auth::Principal> principal;
  std::optional<auth::SessionUser> session;
  const auth::RouteRule* rule = nullptr;  // the route's rule; null for a path no rule matches
};

// A null `auth` refuses every route that is not public (there is no way to turn
// checks off).
Admission Admit(auth::Authenticator* auth, bool metrics_public, const HttpRequest& req, std::string_view path);

// The value of cookie `name` in a Cookie header; empty when absent.
std::string_view CookieValue(std::string_view cookie_header, std::string_view name);
// The Set-Cookie value of a session: HttpOnly, SameSite=Strict, Path=/, Max-Age,
// and Secure when the request came over TLS. An empty id clears the cookie.
std::string SessionCookie(std::string_view session_id, Duration max_age, bool secure);

}  // namespace outflow::api
