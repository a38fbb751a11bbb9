#include "auth/route_table.h"

#include <array>

namespace outflow::auth {

namespace {

constexpr Access P = Access::kPublic;
constexpr Access V = Access::kViewer;
constexpr Access E = Access::kEditor;
constexpr Access A = Access::kAdmin;

// Reads are viewer; writes to the data people work with are editor; keys, users
// and sending accounts (their credentials) are admin. A user's own session (who
// am I, logout, own password) is any role. Order matters only where two
// patterns match one path with the same method (none today).
constexpr std::array kRules = std::to_array<RouteRule>({
    {"GET", "/", P},              // a static page of links, no data (where the web UI's login will be)
    {"GET", "/openapi.json", P},  // the API's description, no data
    {"GET", "/healthz", P},
    {"GET", "/readyz", P},
    {"GET", "/metrics", Access::kMetrics},
    {"GET", "/v1/kinds", V},
    // jobs
    {"POST", "/v1/jobs", E},
    {"GET", "/v1/jobs", V},
    {"POST", "/v1/jobs/batch", E},
    {"GET", "/v1/jobs/{id}", V},
    {"POST", "/v1/jobs/{id}/cancel", E},
    // contacts and fields
    {"POST", "/v1/contacts", E},
    {"GET", "/v1/contacts", V},
    {"POST", "/v1/contacts/upsert", E},
    {"GET", "/v1/contacts/count", V},
    {"GET", "/v1/contacts/{id}", V},
    {"PATCH", "/v1/contacts/{id}", E},
    {"DELETE", "/v1/contacts/{id}", E},
    {"GET", "/v1/fields", V},
    {"POST", "/v1/fields", E},
    {"POST", "/v1/contacts/{id}/unsubscribe", E},
    {"POST", "/v1/contacts/{id}/resubscribe", E},
    {"GET", "/v1/contacts/{id}/subscription", V},
    {"GET", "/v1/contacts/{id}/messages", V},
    // imports
    {"POST", "/v1/imports", E},
    {"GET", "/v1/imports", V},
    {"GET", "/v1/imports/{id}", V},
    {"GET", "/v1/imports/{id}/errors", V},
    {"POST", "/v1/imports/{id}/cancel", E},
    // segments
    {"GET", "/v1/segments", V},
    {"POST", "/v1/segments", E},
    {"GET", "/v1/segments/events", V},
    {"GET", "/v1/segments/{id}", V},
    {"DELETE", "/v1/segments/{id}", E},
    {"GET", "/v1/segments/{id}/members", V},
    {"POST", "/v1/segments/{id}/members", E},
    {"POST", "/v1/segments/{id}/members/remove", E},
    // paced releases
    {"GET", "/v1/releases", V},
    {"POST", "/v1/releases", E},
    {"GET", "/v1/releases/{id}", V},
    {"PATCH", "/v1/releases/{id}", E},
    {"POST", "/v1/releases/{id}/pause", E},
    {"POST", "/v1/releases/{id}/resume", E},
    {"POST", "/v1/releases/{id}/cancel", E},
    {"GET", "/v1/releases/{id}/log", V},
    // sending accounts: reads never include credentials; changes are admin's
    {"GET", "/v1/accounts", V},
    {"POST", "/v1/accounts", A},
    {"GET", "/v1/accounts/{id}", V},
    {"PATCH", "/v1/accounts/{id}", A},
    {"POST", "/v1/accounts/{id}/verify", A},
    // templates and campaigns
    {"GET", "/v1/templates", V},
    {"POST", "/v1/templates", E},
    {"GET", "/v1/templates/{id}", V},
    {"PATCH", "/v1/templates/{id}", E},
    {"POST", "/v1/templates/{id}/preview", E, /*changes=*/false},  // renders, stores nothing
    {"GET", "/v1/campaigns", V},
    {"POST", "/v1/campaigns", E},
    {"GET", "/v1/campaigns/{id}", V},
    {"POST", "/v1/campaigns/{id}/schedule", E},
    {"POST", "/v1/campaigns/{id}/pause", E},
    {"POST", "/v1/campaigns/{id}/resume", E},
    {"POST", "/v1/campaigns/{id}/cancel", E},
    {"POST", "/v1/campaigns/{id}/retry-failed", E},
    {"GET", "/v1/campaigns/{id}/recipients", V},
    // messages and suppressions
    {"POST", "/v1/messages", E},
    {"GET", "/v1/messages", V},
    {"POST", "/v1/messages/batch", E},
    {"GET", "/v1/messages/{id}", V},
    {"GET", "/v1/suppressions", V},
    {"DELETE", "/v1/suppressions/{address}", E},
    // API keys
    {"GET", "/v1/keys", A},
    {"POST", "/v1/keys", A},
    {"DELETE", "/v1/keys/{id}", A},
    // the audit log (admins only: it names every actor and address)
    {"GET", "/v1/audit", A},
    // web UI users and sessions (docs/security.md "Users and sessions")
    {"POST", "/v1/session", P},  // login: the password is the credential; throttled per email
    {"GET", "/v1/session", V},
    {"DELETE", "/v1/session", V},
    {"POST", "/v1/session/password", V},
    {"GET", "/v1/users", A},
    {"POST", "/v1/users", A},
    {"GET", "/v1/users/{id}", A},
    {"PATCH", "/v1/users/{id}", A},
    {"DELETE", "/v1/users/{id}", A},
    {"POST", "/v1/users/{id}/setup-link", A},
    {"POST", "/v1/users/{id}/unlock", A},
    {"GET", "/setup", P},      // the set-your-password page: the one-time token is the credential
    {"POST", "/v1/setup", P},  // its form: one-time token, valid an hour
    // signed links (the token or signature is the credential)
    {"GET", "/u/{token}", P},
    {"POST", "/u/{token}", P},
    {"GET", "/t/o/{id}/{tag}.gif", P},
    {"GET", "/t/c/{id}/{tag}", P},
    // provider callbacks (signature-checked; WhatsApp's GET is the hub.challenge)
    {"POST", "/v1/callbacks/twilio/{account}", P},
    {"GET", "/v1/callbacks/whatsapp/{account}", P},
    {"POST", "/v1/callbacks/whatsapp/{account}", P},
    {"POST", "/v1/callbacks/status/{account}", P},
});

// The next segment of `s` (after a leading '/'), advancing `s` past it.
std::string_view NextSegment(std::string_view& s) {
  if (!s.empty() && s.front() == '/') s.remove_prefix(1);
  size_t slash = s.find('/');
  std::string_view seg = s.substr(0, slash);
  s = slash == std::string_view::npos ? std::string_view() : s.substr(slash);
  return seg;
}

bool Matches(std::string_view pattern, std::string_view path) {
  if (path.empty() || path.front() != '/') return false;
  while (!pattern.empty() || !path.empty()) {
    if (pattern.empty() || path.empty()) return false;
    std::string_view want = NextSegment(pattern);
    std::string_view got = NextSegment(path);
    const bool param = !want.empty() && want.front() == '{';
    if (param ? got.empty() : want != got) return false;
  }
  return true;
}

}  // namespace

std::span<const RouteRule> RouteTable() {
  return kRules;
}

const RouteRule* FindRule(std::string_view method, std::string_view path) {
  if (method == "HEAD") method = "GET";
  for (const RouteRule& r : kRules) {
    if (r.method == method && Matches(r.pattern, path)) return &r;
  }
  return nullptr;
}

Access RequiredAccess(std::string_view method, std::string_view path) {
  const RouteRule* r = FindRule(method, path);
  return r == nullptr ? Access::kAdmin : r->access;
}

Role MinRole(Access access) {
  switch (access) {
    case Access::kPublic:
    case Access::kMetrics:
    case Access::kViewer: return Role::kViewer;
    case Access::kEditor: return Role::kEditor;
    case Access::kAdmin: return Role::kAdmin;
  }
  return Role::kAdmin;
}

std::string_view AccessName(Access access) {
  switch (access) {
    case Access::kPublic: return "public";
    case Access::kMetrics: return "metrics";
    case Access::kViewer: return "viewer";
    case Access::kEditor: return "editor";
    case Access::kAdmin: return "admin";
  }
  return "admin";
}

}  // namespace outflow::auth
