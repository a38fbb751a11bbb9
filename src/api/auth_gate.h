// The API's front door: what a request needs (auth/route_table.h) against who
// sent it (auth::Authenticator), before any route runs (docs/security.md).
//
//   public route                   -> let through, no key read
//   no key, or a bad one           -> 401 unauthenticated, WWW-Authenticate: Bearer
//   a key below the route's role   -> 403 permission_denied
//   the key's budget is spent      -> 429 rate_limited, Retry-After (whole seconds)
//
// Thread-safe.
#pragma once

#include <optional>
#include <string_view>

#include "api/http_server.h"
#include "auth/authenticator.h"
#include "auth/route_table.h"

namespace outflow::api {

// The gate's answer: a refusal to send, or leave to route the request, with the
// principal it was admitted as (none on a public route).
struct Admission {
  std::optional<HttpResponse> refusal;
  std::optional<auth::Principal> principal;
  const auth::RouteRule* rule = nullptr;  // the route's rule; null for a path no rule matches
};

// A null `auth` refuses every route that is not public (there is no way to turn
// checks off).
Admission Admit(auth::Authenticator* auth, bool metrics_public, const HttpRequest& req, std::string_view path);

}  // namespace outflow::api
