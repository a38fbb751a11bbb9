// Password hashing with Argon2id (libsodium's crypto_pwhash_str_alg with
// crypto_pwhash_ALG_ARGON2ID13), for the passwords of web UI users.
//
// Cost: libsodium's INTERACTIVE limits by default (2 passes over 64 MiB, about
// 50-100 ms on one core here), the level libsodium recommends for online logins.
// Each hash is a self-describing string ("$argon2id$v=19$m=65536,t=2,p=1$..."), so
// hashes made at another cost still verify. Tests use PasswordCost::Minimum().
//
// Bounded: at most `max_concurrent` hashes or verifications run at once (a
// semaphore), so a flood of logins costs at most max_concurrent x 64 MiB and as
// many cores; a caller that waits longer than `max_wait` gets Unavailable.
//
// DummyHash() is a hash of a random password made at construction with the same
// cost: verifying against it takes as long as against a real hash, for logins to
// an email no user has (the answer and its time must not tell).
//
// Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <semaphore>
#include <string>
#include <string_view>

#include "base/status.h"

namespace outflow::crypto {

struct PasswordCost {
  unsigned long long ops;
  size_t mem_bytes;
  static PasswordCost Interactive();
  static PasswordCost Minimum();  // for tests only: no protection
};

class PasswordHasher {
 public:
  static constexpr int kMaxConcurrent = 2;
  explicit PasswordHasher(PasswordCost cost = PasswordCost::Interactive(),
                          std::chrono::milliseconds max_wait = std::chrono::seconds(10));

  // Unavailable when hashing is busy for longer than max_wait, or out of memory.
  Result<std::string> Hash(std::string_view password);
  // Whether `password` matches `hash`; false for a hash that is not one (e.g.
  // empty). Unavailable as for Hash.
  Result<bool> Verify(std::string_view hash, std::string_view password);
  const std::string& DummyHash() const { return dummy_; }

 private:
  PasswordCost cost_;
  std::chrono::milliseconds max_wait_;
  std::counting_semaphore<kMaxConcurrent> slots_{kMaxConcurrent};
  std::string dummy_;
};

}  // namespace outflow::crypto
