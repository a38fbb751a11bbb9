#include "auth/api_keys.h"

#include "crypto/digest.h"
#include "crypto/hmac.h"

namespace outflow::auth {

namespace {

constexpr size_t kLookupBytes = 8;
constexpr size_t kSecretBytes = 32;

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::optional<KeyParts> ParseKey(std::string_view text) {
  if (!text.starts_with(kKeyPrefix)) return std::nullopt;
  std::string_view rest = text.substr(kKeyPrefix.size());
  if (rest.size() != 2 * kLookupBytes + 1 + 2 * kSecretBytes || rest[2 * kLookupBytes] != '_') return std::nullopt;
  std::string_view lookup = rest.substr(0, 2 * kLookupBytes);
  std::string_view secret = rest.substr(2 * kLookupBytes + 1);
  if (!IsLowerHex(lookup) || !IsLowerHex(secret)) return std::nullopt;
  return KeyParts{std::string(lookup), std::string(secret)};
}

std::string HashKey(std::string_view text) {
  return crypto::Hex(crypto::Sha256(text));
}

std::string DisplayPrefix(const ApiKey& key) {
  return std::string(kKeyPrefix) + key.lookup;
}

Status ValidateSpec(const NewKeySpec& spec) {
  if (spec.name.empty() || spec.name.size() > 100) {
    return Status::InvalidArgument("name: is required, 1 to 100 characters");
  }
  if (spec.expires_in_days && (*spec.expires_in_days < 1 || *spec.expires_in_days > 3650)) {
    return Status::InvalidArgument("expires_in_days: must be between 1 and 3650");
  }
  return Status::Ok();
}

Result<CreatedKey> CreateKey(KeyStore& store, const NewKeySpec& spec, Timestamp now) {
  OUTFLOW_RETURN_IF_ERROR(ValidateSpec(spec));
  ApiKey k;
  k.lookup = crypto::Hex(crypto::RandomBytes(kLookupBytes));
  std::string text = std::string(kKeyPrefix) + k.lookup + "_" + crypto::Hex(crypto::RandomBytes(kSecretBytes));
  k.name = spec.name;
  k.role = spec.role;
  k.hash = HashKey(text);
  if (spec.expires_in_days) k.expires_at = now + std::chrono::hours(24) * *spec.expires_in_days;
  OUTFLOW_ASSIGN_OR_RETURN(ApiKey stored, store.Create(k, now));
  return CreatedKey{std::move(stored), std::move(text)};
}

Result<ApiKey> VerifyKey(KeyStore& store, std::string_view text) {
  std::optional<KeyParts> parts = ParseKey(text);
  if (!parts) return Status::Unauthenticated("the API key is malformed (expected ofk_...)");
  Result<ApiKey> key = store.FindByLookup(parts->lookup);
  if (!key.ok()) {
    if (key.status().code() == Code::kNotFound) return Status::Unauthenticated("the API key is not valid");
    return key.status();
  }
  if (!crypto::ConstantTimeEqual(HashKey(text), key->hash)) {
    return Status::Unauthenticated("the API key is not valid");
  }
  return key;
}

}  // namespace outflow::auth
