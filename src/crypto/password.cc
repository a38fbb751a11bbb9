#include "crypto/password.h"

#include <sodium.h>

#include <mutex>

#include "crypto/digest.h"
#include "crypto/hmac.h"

namespace outflow::crypto {

namespace {

bool SodiumReady() {
  static std::once_flag once;
  static int rc = -1;
  std::call_once(once, [] { rc = sodium_init(); });
  return rc >= 0;
}

// Holds one of the hasher's slots for its lifetime.
class Slot {
 public:
  Slot(std::counting_semaphore<PasswordHasher::kMaxConcurrent>& s, std::chrono::milliseconds wait)
      : s_(s), held_(s.try_acquire_for(wait)) {}
  ~Slot() {
    if (held_) s_.release();
  }
  bool held() const { return held_; }

 private:
  std::counting_semaphore<PasswordHasher::kMaxConcurrent>& s_;
  bool held_;
};

Status Busy() {
  return Status::Unavailable("too many logins are being checked at once; retry in a moment");
}

}  // namespace

PasswordCost PasswordCost::Interactive() {
  return {crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE, crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE};
}

PasswordCost PasswordCost::Minimum() {
  return {crypto_pwhash_argon2id_OPSLIMIT_MIN, crypto_pwhash_argon2id_MEMLIMIT_MIN};
}

PasswordHasher::PasswordHasher(PasswordCost cost, std::chrono::milliseconds max_wait)
    : cost_(cost), max_wait_(max_wait) {
  Result<std::string> dummy = Hash(Hex(RandomBytes(16)));
  dummy_ = dummy.ok() ? *dummy : std::string();
}

Result<std::string> PasswordHasher::Hash(std::string_view password) {
  if (!SodiumReady()) return Status::Internal("libsodium could not be initialised");
  Slot slot(slots_, max_wait_);
  if (!slot.held()) return Busy();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), cost_.ops, cost_.mem_bytes,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status::Unavailable("out of memory hashing a password");
  }
  return std::string(out);
}

Result<bool> PasswordHasher::Verify(std::string_view hash, std::string_view password) {
  if (!SodiumReady()) return Status::Internal("libsodium could not be initialised");
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES) return false;
  Slot slot(slots_, max_wait_);
  if (!slot.held()) return Busy();
  char stored[crypto_pwhash_STRBYTES] = {};
  hash.copy(stored, hash.size());
  return crypto_pwhash_str_verify(stored, password.data(), password.size()) == 0;
}

}  // namespace outflow::crypto
