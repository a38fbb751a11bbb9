#include "api/job_json.h"

#include "base/time.h"

namespace outflow::api {

namespace json = boost::json;

namespace {

std::string Field(std::string_view prefix, std::string_view name) {
  if (prefix.empty()) return std::string(name);
  return std::string(prefix) + "." + std::string(name);
}

Status Bad(std::string_view prefix, std::string_view name, std::string_view what) {
  return Status::InvalidArgument(Field(prefix, name) + ": " + std::string(what));
}

json::value OptString(const std::optional<std::string>& s) {
  return s ? json::value(*s) : json::value(nullptr);
}

json::value OptTime(const std::optional<Timestamp>& t) {
  return t ? json::value(FormatRfc3339(*t)) : json::value(nullptr);
}

}  // namespace

Result<json::value> ParseJsonBody(std::string_view body) {
  if (body.empty()) return Status::InvalidArgument("request body is empty; expected a JSON object");
  json::stream_parser p;
  boost::system::error_code ec;
  size_t n = p.write(body.data(), body.size(), ec);
  if (!ec) p.finish(ec);
  if (ec) {
    return Status::InvalidArgument("request body is not valid JSON: " + ec.message() + " at byte " + std::to_string(n));
  }
  return p.release();
}

Result<JobSpec> ParseJobSpec(const json::value& v, std::string_view field, Timestamp now) {
  const json::object* o = v.if_object();
  if (o == nullptr) {
    return Status::InvalidArgument((field.empty() ? std::string("body") : std::string(field)) +
                                   ": must be a JSON object");
  }
  JobSpec spec;
  spec.due_at = now;
  bool has_kind = false;
  for (const auto& [key, val] : *o) {
    if (key == "kind") {
      if (!val.is_string()) return Bad(field, "kind", "must be a string");
      spec.kind = std::string(val.as_string());
      has_kind = true;
    } else if (key == "due_at") {
      if (val.is_null()) continue;
      if (!val.is_string()) return Bad(field, "due_at", "must be an RFC 3339 string such as 2026-11-24T09:30:00Z");
      Result<Timestamp> t = ParseRfc3339(val.as_string());
      if (!t.ok()) return t.status().WithContext(Field(field, "due_at"));
      spec.due_at = *t;
    } else if (key == "max_attempts") {
      if (!val.is_int64() && !val.is_uint64()) return Bad(field, "max_attempts", "must be an integer");
      auto n = val.to_number<int64_t>();
      if (n < 1 || n > kMaxAttemptsLimit) {
        return Bad(field, "max_attempts", "must be between 1 and " + std::to_string(kMaxAttemptsLimit));
      }
      spec.max_attempts = static_cast<int>(n);
    } else if (key == "idempotency_key") {
      if (val.is_null()) continue;
      if (!val.is_string()) return Bad(field, "idempotency_key", "must be a string");
      spec.idempotency_key = std::string(val.as_string());
    } else if (key == "payload") {
      if (val.is_null()) continue;
      if (!val.is_object()) return Bad(field, "payload", "must be a JSON object");
      spec.payload = json::serialize(val);
    } else {
      return Bad(field, key, "unknown field (known: kind, due_at, max_attempts, idempotency_key, payload)");
    }
  }
  if (!has_kind) return Bad(field, "kind", "is required");
  return spec;
}

json::object JobToJson(const Job& j) {
  json::object o;
  o["id"] = j.id.value();
  o["kind"] = j.kind;
  o["state"] = JobStateName(j.state);
  o["due_at"] = FormatRfc3339(j.due_at);
  o["attempts"] = j.attempts;
  o["max_attempts"] = j.max_attempts;
  o["idempotency_key"] = OptString(j.idempotency_key);
  boost::system::error_code ec;
  json::value payload = json::parse(j.payload, ec);
  o["payload"] = ec ? json::value(j.payload) : std::move(payload);
  o["last_error"] = OptString(j.last_error);
  o["lease_owner"] = OptString(j.lease_owner);
  o["lease_expires_at"] = OptTime(j.lease_expires_at);
  o["created_at"] = FormatRfc3339(j.created_at);
  o["updated_at"] = FormatRfc3339(j.updated_at);
  o["started_at"] = OptTime(j.started_at);
  o["finished_at"] = OptTime(j.finished_at);
  return o;
}

}  // namespace outflow::api
