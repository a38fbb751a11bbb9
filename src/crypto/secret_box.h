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
// A SecretBox holds a key ring: the current key, which seals and tags, and the keys
// it replaced (`outflow secrets rotate`), which only open and verify, so that values
// and links made before a rotation keep working. A key file holds one key per line,
// current first. A SecretBox read from a key file notices when the file is replaced
// (by a rotation in another process): Seal and Tag look at the file at most once a
// second, and an Open or VerifyTag that no key passes looks at once, and each takes
// the new keys when the file changed.
//
// Key memory is allocated with sodium_malloc (guard pages, mlock where allowed) and
// wiped by sodium_free when the SecretBox is destroyed. Move-only.
//
// Thread-safety: after construction, every const method is safe to call
// concurrently (a mutex guards the ring while it is replaced). libsodium is
// initialised once per process (std::call_once).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace outflow {

class SecretBox {
 public:
  static constexpr size_t kKeyBytes = 32;

  static constexpr size_t kMaxKeys = 32;  // a key file's lines; a rotation keeps the newest

  // Keys from a file: exactly 32 raw bytes (one key), or lines of 64 hex characters,
  // each ended by "\n" (or "\r\n"; the last one may have none), the current key
  // first. Errors name the path: NotFound if it does not exist, FailedPrecondition if
  // it is not a regular file, cannot be read, or is readable or writable by group or
  // others; InvalidArgument for a wrong length or bad hex (naming the line when there
  // are several).
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

  // Rotation: puts a new random key first in the key file at `path`, keeping the
  // keys it held after it (the newest kMaxKeys in all), and returns the new ring.
  // The file is replaced atomically (a temporary file, fsynced, renamed over it,
  // the directory fsynced): it holds the old ring or the new one, never half. The
  // errors of FromKeyFile for the file as it was.
  static Result<SecretBox> RotateKeyFile(const std::string& path);

  // Encrypts `plaintext` bound to `associated_data`, with a fresh random nonce.
  std::string Seal(std::string_view plaintext, std::string_view associated_data) const;

  // Decrypts the output of Seal, with whichever key of the ring sealed it.
  // InvalidArgument if `sealed` is not in the sealed form (prefix, base64, length);
  // Corruption if no key authenticates it: a different key, a different associated
  // data, or damaged bytes. Callers add where with WithContext.
  Result<std::string> Open(std::string_view sealed, std::string_view associated_data) const;

  // An authentication tag of `message` for links that must not be forged (e.g. an
  // unsubscribe link): 32 hex characters, BLAKE2b-128 keyed with a subkey derived
  // from the key for `context` (crypto_kdf, 8 characters, e.g. "unsubscr"), so a
  // tag never equals anything the cipher uses. VerifyTag compares in constant time.
  // REQUIRES: context.size() == 8.
  // Tag uses the current key; VerifyTag accepts a tag of any key of the ring.
  std::string Tag(std::string_view context, std::string_view message) const;
  bool VerifyTag(std::string_view context, std::string_view message, std::string_view tag) const;

  // A short fingerprint of the key: the first 8 hex characters of BLAKE2b-256(key).
  // Store it beside sealed values to tell "started with a different key" apart from
  // damaged data. Reveals nothing useful about the key.
  std::string KeyId() const;  // the current key's
  // Every key's id, current first.
  std::vector<std::string> KeyIds() const;

  SecretBox(SecretBox&&) noexcept;
  SecretBox& operator=(SecretBox&&) noexcept;
  SecretBox(const SecretBox&) = delete;
  SecretBox& operator=(const SecretBox&) = delete;
  ~SecretBox();

 private:
  struct KeyDeleter {
    void operator()(unsigned char* p) const;
  };
  using KeyPtr = std::unique_ptr<unsigned char[], KeyDeleter>;

  using Keys = std::vector<KeyPtr>;  // each kKeyBytes bytes from sodium_malloc; current first
  struct Ring;                       // the keys, and the file they came from (secret_box.cc)

  explicit SecretBox(std::unique_ptr<Ring> ring);
  // REQUIRES: `bytes` holds kKeyBytes bytes.
  static Result<KeyPtr> CopyKey(const unsigned char* bytes);
  static Result<SecretBox> FromBytes(const unsigned char* bytes);
  // The keys now (shared: a reload swaps in a new set, never changes this one).
  std::shared_ptr<const Keys> keys() const;
  // Reads the key file again if it changed: at most once a second unless `now`.
  // Whether the keys changed.
  bool Refresh(bool now) const;

  std::unique_ptr<Ring> ring_;  // null only after a move
};

}  // namespace outflow
