// Authenticator: who a request is, from its "Authorization: Bearer <key>" header,
// and whether that key has budget left (TokenBucket per key).
//
// Every check reads the key's row (KeyStore::FindByLookup, a reader connection):
// there is no cache of keys, so a revocation or an expiry, by this daemon or by
// `outflow key revoke` in another process, holds from the next request on.
// last_used_at is written at most once per `record_use_every` per key by this
// process (the request that finds the last write older does it, after the
// check; a failed write is logged, not fatal), so it lags by up to that long.
//
// Thread-safety: thread-safe (one mutex over the per-key buckets and write times;
// no store call is made under it).
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "auth/token_bucket.h"
#include "base/clock.h"
#include "base/status.h"
#include "domain/api_key.h"
#include "store/key_store.h"

namespace outflow::auth {

struct AuthOptions {
  double key_rate = 100;  // requests a second per key; the bucket holds as many
  Duration record_use_every = std::chrono::minutes(1);
};

struct Principal {
  ApiKeyId id;
  std::string name;
  Role role = Role::kViewer;

  // How the audit log names it: "key:<id>".
  std::string Actor() const { return "key:" + std::to_string(id.value()); }
};

class Authenticator {
 public:
  // REQUIRES: options.key_rate > 0. `keys` and `clock` outlive this.
  Authenticator(KeyStore& keys, const Clock& clock, AuthOptions options = {});

  // Unauthenticated for a missing header, another scheme, or a malformed, unknown,
  // revoked or expired key; the store's error if it cannot be read.
  Result<Principal> Authenticate(std::string_view authorization);
  // Takes one request from the key's budget: nullopt when allowed, else how long
  // until the next request would be.
  std::optional<Duration> Throttle(ApiKeyId key);

  KeyStore& keys() { return keys_; }
  const Clock& clock() const { return clock_; }

 private:
  struct KeyState {
    std::optional<TokenBucket> bucket;
    std::optional<Timestamp> recorded;  // this process's last write of last_used_at
  };
  // Writes last_used_at when this process has not for `record_use_every`.
  void MaybeRecordUse(ApiKeyId key, Timestamp now);

  KeyStore& keys_;
  const Clock& clock_;
  const AuthOptions options_;
  std::mutex mu_;
  std::unordered_map<ApiKeyId, KeyState> state_;  // GUARDED_BY(mu_)
};

}  // namespace outflow::auth
