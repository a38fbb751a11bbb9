// KeyStore: API keys (domain/api_key.h), stored only as hashes.
//
// Contract:
//  - Each method is one transaction (or one read): it applies whole or not at all.
//  - Create assigns the id and stores created_at = `now`; a `lookup` that exists is
//    Conflict (lookups are unique, so a presented key finds at most one row).
//  - FindByLookup and Get read the row as committed, by any process or node: a
//    revocation committed elsewhere is seen by the next read (no cache here).
//  - Revoke is conditional: it sets revoked_at only if it is not set, so of two
//    racing revocations the first time stays; revoking a revoked key returns it
//    unchanged. NotFound for no such key.
//  - RecordUse only moves last_used_at forward (last_used_at = max(old, at)), so
//    writes from several processes in any order keep the latest.
// Thread-safe; no method relies on a single writer.
#pragma once

#include <string_view>
#include <vector>

#include "base/status.h"
#include "domain/api_key.h"

namespace outflow {

class KeyStore {
 public:
  virtual ~KeyStore() = default;
  // Stores `key` (its id, created_at and last_used_at are ignored); returns it as stored.
  virtual Result<ApiKey> Create(const ApiKey& key, Timestamp now) = 0;
  virtual Result<ApiKey> Get(ApiKeyId id) = 0;
  // NotFound when no key has this lookup.
  virtual Result<ApiKey> FindByLookup(std::string_view lookup) = 0;
  // Every key, oldest first (revoked and expired ones too).
  virtual Result<std::vector<ApiKey>> List() = 0;
  virtual Result<ApiKey> Revoke(ApiKeyId id, Timestamp now) = 0;
  virtual Status RecordUse(ApiKeyId id, Timestamp at) = 0;
};

}  // namespace outflow
