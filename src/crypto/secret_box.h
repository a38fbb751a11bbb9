// SecretBox: credentials encrypted at rest (SMTP passwords, API tokens) with one
// 32-byte key, using libsodium's XChaCha20-Poly1305 IETF AEAD
// (crypto_aead_xchacha20poly1305_ietf_*). XChaCha20's 24-byte nonces are drawn at
// random for every Seal, so one key can seal any number of values without nonce
// bookkeeping; Poly1305 authenticates the ciphertext and the associated data.
//
// Sealed form, self-describing text safe for a TEXT column:
//   "v1:" + base64(nonce[24] || ciphertext || tag[16])   (standard alphabet, padded)
// Associated data is not stored: the caller passes the same value to Open (e.g.
// "account:7"), which binds a ciphertext to its row so that it cannot be copied to
// another row and decrypted there.
//
// Keys come from a key file or an environment value; see docs/secrets.md. A key
// file must not be accessible by group or others (mode & 077 == 0), like ssh's
// private keys: a looser file is refused, not used. No message ever contains key
// material or plaintext.
//
// Key memory is allocated with sodium_malloc (guard pages, mlock where allowed) and
// wiped by sodium_free when the SecretBox is destroyed. Move-only.
//
// Thread-safety: after construction, Seal, Open and KeyId are const and safe to call
// concurrently. libsodium is initialised once per process (std::call_once).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace outflow {

class SecretBox {
 public:
  static constexpr size_t kKeyBytes = 32;

  // Key from a file: exactly 32 raw bytes, or 64 hex characters optionally followed
  // by one "\n" (or "\r\n"). Errors name the path: NotFound if it does not exist,
  // FailedPrecondition if it is not a regular file, cannot be read, or is readable
  // or writable by group or others; InvalidArgument for a wrong length or bad hex.
  static Result<SecretBox> FromKeyFile(const std::string& path);

  // Key from an environment value: 64 hex characters, or base64 of 32 bytes (standard
  // or URL-safe alphabet, with or without padding). Surrounding whitespace is
  // ignored. InvalidArgument naming `var_name` (never the value) otherwise.
  static Result<SecretBox> FromEnvValue(std::string_view value, std::string_view var_name);

  // Creates a new random key file at `path` holding 64 hex characters and "\n", with
  // mode 0600, atomically (a temporary file in the same directory, fsynced, then
  // hard-linked into place): `path` either does not exist or holds a whole key.
  // Conflict if `path` already exists (it is never overwritten).
  static Status GenerateKeyFile(const std::string& path);

  // Encrypts `plaintext` bound to `associated_data`, with a fresh random nonce.
  std::string Seal(std::string_view plaintext, std::string_view associated_data) const;

  // Decrypts the output of Seal. InvalidArgument if `sealed` is not in the sealed form
  // (prefix, base64, length); Corruption if authentication fails: a different key, a
  // different associated data, or damaged bytes. Callers add where with WithContext.
  Result<std::string> Open(std::string_view sealed, std::string_view associated_data) const;

  // An authentication tag of `message` for links that must not be forged (e.g. an
  // unsubscribe link): 32 hex characters, BLAKE2b-128 keyed with a subkey derived
  // from the key for `context` (crypto_kdf, 8 characters, e.g. "unsubscr"), so a
  // tag never equals anything the cipher uses. VerifyTag compares in constant time.
  // REQUIRES: context.size() == 8.
  std::string Tag(std::string_view context, std::string_view message) const;
  bool VerifyTag(std::string_view context, std::string_view message, std::string_view tag) const;

  // A short fingerprint of the key: the first 8 hex characters of BLAKE2b-256(key).
  // Store it beside sealed values to tell "started with a different key" apart from
  // damaged data. Reveals nothing useful about the key.
  std::string KeyId() const;

  SecretBox(SecretBox&&) noexcept = default;
  SecretBox& operator=(SecretBox&&) noexcept = default;
  SecretBox(const SecretBox&) = delete;
  SecretBox& operator=(const SecretBox&) = delete;
  ~SecretBox() = default;

 private:
  struct KeyDeleter {
    void operator()(unsigned char* p) const;
  };
  using KeyPtr = std::unique_ptr<unsigned char[], KeyDeleter>;

  explicit SecretBox(KeyPtr key) : key_(std::move(key)) {}
  // REQUIRES: `bytes` holds kKeyBytes bytes.
  static Result<SecretBox> FromBytes(const unsigned char* bytes);

  KeyPtr key_;  // kKeyBytes bytes from sodium_malloc; null only after a move
};

}  // namespace outflow
