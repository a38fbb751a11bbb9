// Audit entries as the rest of Outflow sees them: pure data, no I/O. Who made a
// change through the API or the CLI, when, from where, and what it changed
// (docs/security.md "Audit log"). An entry never holds a secret: its summary
// names the fields a change sent, never their values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/time.h"

namespace outflow {

struct AuditEntry {
  int64_t id = 0;  // assigned by the store
  Timestamp at{};
  // "key:12" (an API key), "user:3" (a signed-in user), "cli:alice" (a command run
  // on the data directory by that Unix user).
  std::string actor;
  std::string actor_name;  // the key's or user's name when the entry was written
  std::string action;      // "<object type>.<verb>": "campaign.cancel", "key.create"
  std::string object_type;
  std::string object_id;  // empty when the change has no single object (a batch)
  std::string address;    // the client's address; "local" for the CLI
  std::string request_id;
  std::string summary;  // a JSON object: {"fields": [...]} or {"items": N}, ...
};

// Which entries to read, newest first. Empty or absent fields do not filter.
struct AuditFilter {
  std::string actor;
  std::string action;
  std::string object_type;
  std::string object_id;
  std::optional<Timestamp> since;  // at >= since
  std::optional<Timestamp> until;  // at < until
  std::optional<int64_t> before;   // id < before: the next page
  int limit = 100;
};

struct AuditPage {
  std::vector<AuditEntry> entries;
  std::optional<int64_t> next_before;  // set when more entries may follow
};

}  // namespace outflow
