// Authenticator: who a request is, from its "Authorization: Bearer <key>" header
// or its session cookie (auth/user_auth.h), and whether that principal has budget
// left (a TokenBucket per key and per user).
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
#include "domain/user.h"
#include "store/key_store.h"

namespace outflow::auth {

class UserAuth;

struct AuthOptions {
  double key_rate = 100;  // requests a second per key; the bucket holds as many
  Duration record_use_every = std::chrono::minutes(1);
};

// Who a request was admitted as: an API key or a logged-in user. The audit log
// names the actor from this: kind + (id or user_id) + name.
struct Principal {
  enum class Kind { kApiKey, kUser };
  Kind kind = Kind::kApiKey;
  ApiKeyId id;       // kApiKey: the key (invalid for a user)
  UserId user_id;    // kUser: the user (invalid for a key)
  std::string name;  // kApiKey: the key's name; kUser: the user's email
  Role role = Role::kViewer;

  bool is_user() const { return kind == Kind::kUser; }
  // How the audit log names it: "key:<id>" or "user:<id>".
  std::string Actor() const {
    return is_user() ? "user:" + std::to_string(user_id.value()) : "key:" + std::to_string(id.value());
  }
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
  // The same for any principal: a user has its own bucket, as large as a key's.
  std::optional<Duration> Throttle(const Principal& who);

  // Sessions of web UI users; null until set (cookies are then not looked at).
  // REQUIRES: set before serving; `users` outlives this.
  void SetUsers(UserAuth* users) { users_ = users; }
  UserAuth* users() const { return users_; }

  KeyStore& keys() { return keys_; }
  const Clock& clock() const { return clock_; }

 private:
  struct KeyState {
    std::optional<TokenBucket> bucket;
    std::optional<Timestamp> recorded;  // this process's last write of last_used_at
  };
  // A principal's budget: key_rate a second, a second's worth at once.
  TokenBucket NewBucket(Timestamp now) const;
  // Writes last_used_at when this process has not for `record_use_every`.
  void MaybeRecordUse(ApiKeyId key, Timestamp now);

  KeyStore& keys_;
  const Clock& clock_;
  const AuthOptions options_;
  std::mutex mu_;
  std::unordered_map<ApiKeyId, KeyState> state_;          // GUARDED_BY(mu_)
  std::unordered_map<UserId, TokenBucket> user_buckets_;  // GUARDED_BY(mu_)
  UserAuth* users_ = nullptr;
};

}  // namespace outflow::auth
