// API keys and roles as the rest of Outflow sees them: pure data, no I/O. How a
// key is made, hashed and checked is in auth/ (docs/security.md).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/strong_id.h"
#include "base/time.h"

namespace outflow {

struct ApiKeyTag;
using ApiKeyId = StrongId<ApiKeyTag>;

// Ordered: each role may do everything the roles below it may.
//   viewer: reads everything except secrets; no writes.
//   editor: + contacts, imports, segments, templates, campaigns, messages,
//             releases, jobs.
//   admin:  + keys, accounts and their credentials, settings.
enum class Role { kViewer = 1, kEditor = 2, kAdmin = 3 };

std::string_view RoleName(Role r);
std::optional<Role> ParseRole(std::string_view name);
inline bool RoleAtLeast(Role have, Role need) {
  return static_cast<int>(have) >= static_cast<int>(need);
}

// One stored key. The secret itself is never stored: `hash` is the hex SHA-256 of
// the whole key. `lookup` is the non-secret id part of the key (after "ofk_"),
// unique, by which a presented key is found.
struct ApiKey {
  ApiKeyId id;
  std::string lookup;
  std::string name;
  Role role = Role::kViewer;
  std::string hash;
  Timestamp created_at{};
  std::optional<Timestamp> expires_at;
  std::optional<Timestamp> revoked_at;
  std::optional<Timestamp> last_used_at;

  // Not revoked and not expired at `now` (a key expires at expires_at exactly).
  bool ActiveAt(Timestamp now) const { return !revoked_at && (!expires_at || now < *expires_at); }
};

}  // namespace outflow
