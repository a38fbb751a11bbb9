#include "auth/authenticator.h"

#include <cctype>

#include "auth/api_keys.h"
#include "base/log.h"

namespace outflow::auth {

namespace {

// The credentials of "Bearer <credentials>" (the scheme in any case); empty otherwise.
std::string_view BearerToken(std::string_view header) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return {};
  }
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

}  // namespace

Authenticator::Authenticator(KeyStore& keys, const Clock& clock, AuthOptions options)
    : keys_(keys), clock_(clock), options_(options) {}

Result<Principal> Authenticator::Authenticate(std::string_view authorization) {
  if (authorization.empty()) {
    return Status::Unauthenticated("this route needs an API key: send Authorization: Bearer <key>");
  }
  std::string_view token = BearerToken(authorization);
  if (token.empty()) return Status::Unauthenticated("Authorization: must be Bearer <API key>");
  OUTFLOW_ASSIGN_OR_RETURN(ApiKey key, VerifyKey(keys_, token));
  const Timestamp now = clock_.Now();
  if (key.revoked_at) return Status::Unauthenticated("the API key was revoked");
  if (!key.ActiveAt(now)) return Status::Unauthenticated("the API key has expired");
  MaybeRecordUse(key.id, now);
  return Principal{.kind = Principal::Kind::kApiKey, .id = key.id, .name = std::move(key.name), .role = key.role};
}

std::optional<Duration> Authenticator::Throttle(ApiKeyId key) {
  const Timestamp now = clock_.Now();
  std::lock_guard lock(mu_);
  KeyState& s = state_[key];
  if (!s.bucket) s.bucket.emplace(NewBucket(now));
  return s.bucket->Take(now);
}

std::optional<Duration> Authenticator::Throttle(const Principal& who) {
  if (!who.is_user()) return Throttle(who.id);
  const Timestamp now = clock_.Now();
  std::lock_guard lock(mu_);
  auto it = user_buckets_.find(who.user_id);
  if (it == user_buckets_.end()) it = user_buckets_.emplace(who.user_id, NewBucket(now)).first;
  return it->second.Take(now);
}

TokenBucket Authenticator::NewBucket(Timestamp now) const {
  return TokenBucket(options_.key_rate, std::max(1.0, options_.key_rate), now);  // a second's worth of burst
}

void Authenticator::MaybeRecordUse(ApiKeyId key, Timestamp now) {
  {
    std::lock_guard lock(mu_);
    KeyState& s = state_[key];
    if (s.recorded && now - *s.recorded < options_.record_use_every) return;
    s.recorded = now;
  }
  Status st = keys_.RecordUse(key, now);
  if (!st.ok())
    log::Warn("could not record an API key's last use", {{"key_id", key.value()}, {"error", st.ToString()}});
}

}  // namespace outflow::auth
