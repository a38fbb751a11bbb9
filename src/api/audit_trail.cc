#include "api/audit_trail.h"

#include <boost/json.hpp>
#include <boost/url/params_view.hpp>
#include <boost/url/parse_query.hpp>

#include <algorithm>
#include <random>
#include <vector>

namespace outflow::api {

namespace json = boost::json;

namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    if (path.front() == '/') path.remove_prefix(1);
    const size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
  }
  return out;
}

bool IsParam(std::string_view segment) {
  return !segment.empty() && segment.front() == '{';
}

std::string Singular(std::string_view collection) {
  std::string s(collection);
  if (s.size() > 1 && s.back() == 's') s.pop_back();
  return s;
}

std::string DefaultVerb(std::string_view method) {
  if (method == "POST") return "create";
  if (method == "PATCH") return "update";
  if (method == "DELETE") return "delete";
  return "replace";  // PUT
}

struct Target {
  std::string object_type;
  std::string object_id;
  std::string verb;
};

// Object type, id (from the path) and verb, from the rule's pattern.
Target FromPattern(std::string_view method, std::string_view pattern, std::string_view path) {
  std::vector<std::string_view> want = Segments(pattern);
  std::vector<std::string_view> got = Segments(path);
  Target t;
  size_t i = want.size() > 1 && want[0] == "v1" ? 1 : 0;
  if (i < want.size()) t.object_type = Singular(want[i++]);
  for (; i < want.size(); ++i) {
    if (IsParam(want[i])) {
      if (t.object_id.empty() && i < got.size()) t.object_id = std::string(got[i]);
      continue;
    }
    if (!t.verb.empty()) t.verb += '.';
    t.verb += want[i];
  }
  if (t.verb.empty()) t.verb = DefaultVerb(method);
  return t;
}

// The "id" of the object a response describes, at its top level or in its member
// named after the object's type ({"message": {"id": ...}}), as text; empty when
// there is none.
std::string ResponseId(const HttpResponse& r, const std::string& object_type) {
  if (r.content_type != "application/json") return "";
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  if (o != nullptr && !o->contains("id")) {
    const json::value* inner = o->if_contains(object_type);
    o = inner == nullptr ? nullptr : inner->if_object();
  }
  const json::value* id = o == nullptr ? nullptr : o->if_contains("id");
  if (id == nullptr) return "";
  if (id->is_int64()) return std::to_string(id->as_int64());
  if (id->is_string()) return std::string(id->as_string());
  return "";
}

// What the request sent, by name only (never a value).
json::object Summary(const HttpRequest& req) {
  json::object out;
  const size_t q = req.target.find('?');
  if (q != std::string::npos) {
    json::array names;
    auto params = boost::urls::parse_query(std::string_view(req.target).substr(q + 1));
    if (params) {
      for (auto p : *params) names.emplace_back(p.key);
    }
    if (!names.empty()) out["query"] = std::move(names);
  }
  const std::string_view length = req.Header("Content-Length");
  if (req.body.empty() && !length.empty() && length != "0") {  // an upload, streamed to a file
    out["upload_bytes"] = length;
    return out;
  }
  boost::system::error_code ec;
  json::value body = req.body.empty() ? json::value() : json::parse(req.body, ec);
  if (ec) return out;
  if (const json::array* items = body.if_array()) out["items"] = items->size();
  if (const json::object* o = body.if_object()) {
    json::array fields;
    json::object counts;
    for (const auto& [k, v] : *o) {
      fields.emplace_back(k);
      if (v.is_array()) counts[k] = v.as_array().size();
    }
    std::sort(fields.begin(), fields.end(),
              [](const json::value& a, const json::value& b) { return a.as_string() < b.as_string(); });
    out["fields"] = std::move(fields);
    if (!counts.empty()) out["items"] = std::move(counts);
  }
  return out;
}

bool IsChange(const ChangeContext& c, const HttpResponse& response) {
  const std::string_view m = c.request.method;
  if (m == "GET" || m == "HEAD" || m == "OPTIONS") return false;
  if (c.rule.access == auth::Access::kPublic) return false;
  if (!c.rule.changes) return false;  // the route stores nothing (a preview)
  return response.status >= 200 && response.status < 300;
}

}  // namespace

std::optional<AuditEntry> DescribeChange(const ChangeContext& c, const HttpResponse& response) {
  if (!IsChange(c, response)) return std::nullopt;
  Target t = FromPattern(c.request.method, c.rule.pattern, c.path);
  AuditEntry e;
  e.at = c.now;
  e.actor = c.principal.Actor();
  e.actor_name = c.principal.name;
  e.action = t.object_type + "." + t.verb;
  e.object_id = t.object_id.empty() && t.verb == "create" ? ResponseId(response, t.object_type) : t.object_id;
  e.object_type = std::move(t.object_type);
  e.address = c.request.client_address;
  e.request_id = std::string(c.request_id);
  e.summary = json::serialize(Summary(c.request));
  return e;
}

std::string RequestIdOf(const HttpRequest& req) {
  const std::string_view given = req.Header("X-Request-Id");
  const bool usable = !given.empty() && given.size() <= 64 && std::all_of(given.begin(), given.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-';
  });
  if (usable) return std::string(given);
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t r = rng();
  std::string id(16, '0');
  for (char& ch : id) {
    ch = kHex[r & 15];
    r >>= 4;
  }
  return id;
}

}  // namespace outflow::api
