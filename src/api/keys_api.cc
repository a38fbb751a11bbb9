#include "api/keys_api.h"

#include <boost/json.hpp>

#include <algorithm>

#include "api/http_util.h"
#include "api/job_json.h"
#include "auth/api_keys.h"

namespace outflow::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kKeys = "/v1/keys";

Result<auth::NewKeySpec> ParseSpec(const json::value& body) {
  const json::object* o = body.if_object();
  if (o == nullptr) return Status::InvalidArgument("body: must be a JSON object");
  auth::NewKeySpec spec;
  for (const auto& [k, v] : *o) {
    if (k == "name" && v.is_string()) {
      spec.name = std::string(v.as_string());
    } else if (k == "role" && v.is_string()) {
      std::optional<Role> role = ParseRole(v.as_string());
      if (!role) return Status::InvalidArgument("role: must be viewer, editor or admin");
      spec.role = *role;
    } else if (k == "expires_in_days" && v.is_int64()) {
      spec.expires_in_days = static_cast<int>(std::clamp<int64_t>(v.as_int64(), -1, 100000));
    } else if (k == "name" || k == "role" || k == "expires_in_days") {
      return Status::InvalidArgument(std::string(k) + ": has the wrong type");
    } else {
      return Status::InvalidArgument(std::string(k) + ": unknown field (known: name, role, expires_in_days)");
    }
  }
  if (!o->contains("role")) return Status::InvalidArgument("role: is required (viewer, editor or admin)");
  OUTFLOW_RETURN_IF_ERROR(auth::ValidateSpec(spec));
  return spec;
}

}  // namespace

json::object KeyToJson(const ApiKey& k, Timestamp now) {
  return json::object{{"id", k.id.value()},
                      {"prefix", auth::DisplayPrefix(k)},
                      {"name", k.name},
                      {"role", RoleName(k.role)},
                      {"created_at", FormatRfc3339(k.created_at)},
                      {"expires_at", OptTime(k.expires_at)},
                      {"revoked_at", OptTime(k.revoked_at)},
                      {"last_used_at", OptTime(k.last_used_at)},
                      {"active", k.ActiveAt(now)}};
}

std::optional<HttpResponse> KeysApi::Route(const HttpRequest& req, std::string_view path) {
  if (path == kKeys) {
    if (req.method == "POST") return Create(req);
    if (req.method == "GET" || req.method == "HEAD") return List();
    return MethodNotAllowed("GET, POST");
  }
  if (path.starts_with(std::string(kKeys) + "/")) {
    if (req.method != "DELETE") return MethodNotAllowed("DELETE");
    return Revoke(path.substr(kKeys.size() + 1));
  }
  return std::nullopt;
}

HttpResponse KeysApi::Create(const HttpRequest& req) {
  Result<json::value> body = ParseJsonBody(req.body);
  if (!body.ok()) return ErrorResponse(body.status());
  Result<auth::NewKeySpec> spec = ParseSpec(*body);
  if (!spec.ok()) return ErrorResponse(spec.status());
  const Timestamp now = auth_.clock().Now();
  Result<auth::CreatedKey> made = auth::CreateKey(auth_.keys(), *spec, now);
  if (!made.ok()) return ErrorResponse(made.status());
  json::object out = KeyToJson(made->key, now);
  out["key"] = made->secret;
  return JsonResponse(201, out);
}

HttpResponse KeysApi::List() {
  Result<std::vector<ApiKey>> keys = auth_.keys().List();
  if (!keys.ok()) return ErrorResponse(keys.status());
  const Timestamp now = auth_.clock().Now();
  json::array arr;
  for (const ApiKey& k : *keys) arr.push_back(KeyToJson(k, now));
  return JsonResponse(200, json::object{{"keys", std::move(arr)}});
}

HttpResponse KeysApi::Revoke(std::string_view id_text) {
  Result<int64_t> id = ParsePositiveId(id_text, "key id");
  if (!id.ok()) return ErrorResponse(id.status());
  const Timestamp now = auth_.clock().Now();
  Result<ApiKey> k = auth_.keys().Revoke(ApiKeyId(*id), now);
  if (!k.ok()) return ErrorResponse(k.status());
  return JsonResponse(200, KeyToJson(*k, now));
}

}  // namespace outflow::api
