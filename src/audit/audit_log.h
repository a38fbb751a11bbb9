// AuditLog: records who changed what (docs/security.md "Audit log").
//
// Record() appends one entry and returns once it is committed. Entries recorded
// at the same time share one AuditStore::Append (GroupCommitter), so a busy API
// costs one audit transaction per group of changes, not one per change. If a
// group fails, each entry is tried alone, so one bad entry fails only itself.
//
// An entry is written after the change it describes has committed, in its own
// transaction: a crash between the two can lose that one entry (never record a
// change that did not happen). docs/security.md says so.
// Thread-safe.
#pragma once

#include <string>

#include "base/group_committer.h"
#include "store/audit_store.h"

namespace outflow {

class AuditLog {
 public:
  explicit AuditLog(AuditStore& store, size_t max_group = 256);

  Status Record(const AuditEntry& entry);
  AuditStore& store() { return store_; }

 private:
  std::vector<Status> Commit(std::span<const AuditEntry* const> group);

  AuditStore& store_;
  GroupCommitter<AuditEntry, Status> committer_;
};

// The actor of a command run on the data directory: "cli:<Unix user name>" (the
// numeric uid when the name is unknown).
std::string CliActor();

// The entry of a change made by such a command: by CliActor(), from "local".
AuditEntry CliAuditEntry(std::string action, std::string object_type, std::string object_id, std::string summary,
                         Timestamp now);

}  // namespace outflow
