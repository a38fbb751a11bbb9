// The API key routes of the REST API (admin only; docs/api.md, docs/security.md):
//
//   POST   /v1/keys        {"name", "role": viewer|editor|admin, "expires_in_days"?}
//                          201, with "key": the key itself, shown this once
//   GET    /v1/keys        every key: id, prefix, name, role, created_at,
//                          expires_at, revoked_at, last_used_at, active (never the
//                          key or its hash)
//   DELETE /v1/keys/{id}   revokes it, at once (200, the key as revoked)
// Thread-safe.
#pragma once

#include <boost/json.hpp>

#include <optional>
#include <string_view>

#include "api/http_server.h"
#include "auth/authenticator.h"

namespace outflow::api {

// A key as the API and `outflow key list --json` show it: never the key or its hash.
boost::json::object KeyToJson(const ApiKey& k, Timestamp now);

class KeysApi {
 public:
  explicit KeysApi(auth::Authenticator& auth) : auth_(auth) {}
  std::optional<HttpResponse> Route(const HttpRequest& req, std::string_view path);

 private:
  HttpResponse Create(const HttpRequest& req);
  HttpResponse List();
  HttpResponse Revoke(std::string_view id_text);
  auth::Authenticator& auth_;
};

}  // namespace outflow::api
