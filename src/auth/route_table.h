// The route table: every route of the API (method + path pattern) and who may call
// it. One table, read by ApiHandler::Handle before it routes a request, and walked
// by the tests against every operation of /openapi.json (docs/security.md).
//
// A pattern is a path whose segments are literal or a parameter "{name}" (one
// non-empty segment; "{tag}.gif" is one parameter segment too). HEAD is checked as
// GET. A request that matches no rule needs an admin key: a route added to the
// router but forgotten here fails closed, and the tests name it.
//
// Pure; thread-safe.
#pragma once

#include <span>
#include <string_view>

#include "domain/api_key.h"

namespace outflow::auth {

enum class Access {
  kPublic,   // no key: health, signed links, signature-checked callbacks
  kMetrics,  // any key, or none under `serve --metrics-public`
  kViewer,
  kEditor,
  kAdmin,
};

struct RouteRule {
  std::string_view method;
  std::string_view pattern;
  Access access;
  // A POST, PATCH, PUT or DELETE that stores nothing (a template preview) says so,
  // and the audit log leaves it out (api/audit_trail.h).
  bool changes = true;
};

std::span<const RouteRule> RouteTable();
// The first rule that `method` and `path` (without the query) match; null if none.
const RouteRule* FindRule(std::string_view method, std::string_view path);
// What a request needs: its rule's access, kAdmin when no rule matches.
Access RequiredAccess(std::string_view method, std::string_view path);
// The least role that has `access` (kPublic and kMetrics: viewer).
Role MinRole(Access access);
std::string_view AccessName(Access access);

}  // namespace outflow::auth
