// SHA-256 and random bytes from the operating system's CSPRNG (OpenSSL's
// libcrypto: RAND_bytes). Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace outflow::crypto {

// The raw 32-byte SHA-256 digest of `data`.
std::string Sha256(std::string_view data);
// `n` bytes from a cryptographically secure generator. Aborts the process if the
// generator fails (it does not, short of a broken system: no key may be weak).
std::string RandomBytes(size_t n);

}  // namespace outflow::crypto
