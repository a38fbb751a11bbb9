// HMAC and the encodings that providers' webhook signatures use (OpenSSL's
// libcrypto, linked here only). Twilio signs with HMAC-SHA1 in base64, Meta
// (WhatsApp Cloud) and Outflow's own status endpoint with HMAC-SHA256 in hex.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace outflow::crypto {

// Raw digests (20 and 32 bytes).
std::string HmacSha1(std::string_view key, std::string_view message);
std::string HmacSha256(std::string_view key, std::string_view message);

std::string Base64(std::string_view bytes);  // standard alphabet, padded
std::string Hex(std::string_view bytes);     // lower case

// Compares in time that depends only on the lengths, so that a caller probing a
// signature learns nothing from how long a rejection took.
bool ConstantTimeEqual(std::string_view a, std::string_view b);

}  // namespace outflow::crypto
