// API keys: their text form, how they are made and how a presented key is checked.
//
// A key reads "ofk_<lookup>_<secret>": `lookup` is 16 hex characters (8 random
// bytes), not secret, shown in listings as the key's prefix "ofk_<lookup>" and
// used to find its row; `secret` is 64 hex characters (32 bytes from the
// CSPRNG). Only the hex SHA-256 of the whole key is stored. A slow password hash
// would add milliseconds to every request and buys nothing for 256 random bits;
// the comparison of digests is in constant time. docs/security.md.
//
// Pure functions plus the KeyStore calls named; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "domain/api_key.h"
#include "store/key_store.h"

namespace outflow::auth {

inline constexpr std::string_view kKeyPrefix = "ofk_";

// The parts of a key's text; nullopt when it is not in the form above.
struct KeyParts {
  std::string lookup;
  std::string secret;
};
std::optional<KeyParts> ParseKey(std::string_view text);
// The stored digest of a key's text: hex SHA-256.
std::string HashKey(std::string_view text);
// "ofk_<lookup>": what listings show of a key.
std::string DisplayPrefix(const ApiKey& key);

struct NewKeySpec {
  std::string name;
  Role role = Role::kViewer;
  std::optional<int> expires_in_days;  // none: never expires
};
// Checks a spec: name 1..100 characters, expires_in_days 1..3650.
Status ValidateSpec(const NewKeySpec& spec);

struct CreatedKey {
  ApiKey key;          // as stored
  std::string secret;  // the whole key text: shown once, never stored
};
// Makes a fresh random key for `spec` and stores its hash.
Result<CreatedKey> CreateKey(KeyStore& store, const NewKeySpec& spec, Timestamp now);

// The stored key that `text` is, if it is one and its digest matches (compared in
// constant time). Unauthenticated for a malformed, unknown or wrong key; the key
// may still be revoked or expired (see ApiKey::ActiveAt).
Result<ApiKey> VerifyKey(KeyStore& store, std::string_view text);

}  // namespace outflow::auth
