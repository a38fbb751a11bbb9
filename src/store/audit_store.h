// AuditStore: the append-only audit log (domain/audit_entry.h).
//
// Contract:
//  - Append stores a whole group in one transaction, all or nothing, and gives
//    each entry a new id. Ids are unique; entries appended by one caller one
//    after another get increasing ids. Nothing else changes a stored entry: there
//    is no update, and the only removal is Prune.
//  - List reads committed entries, newest id first, matching every field of the
//    filter that is set, at most `limit` (1..1000; else InvalidArgument naming it);
//    next_before is set when a page is full.
//  - Prune deletes up to `limit` entries whose `at` is before `before`, oldest
//    first, in one transaction, and returns how many; a caller empties a backlog
//    by calling again while the result equals `limit`. REQUIRES: limit >= 1.
// Thread-safe; no method relies on a single writer.
#pragma once

#include <span>

#include "base/status.h"
#include "domain/audit_entry.h"

namespace outflow {

class AuditStore {
 public:
  virtual ~AuditStore() = default;
  virtual Status Append(std::span<const AuditEntry> entries) = 0;
  virtual Result<AuditPage> List(const AuditFilter& filter) = 0;
  virtual Result<int64_t> Prune(Timestamp before, int limit) = 0;
};

}  // namespace outflow
