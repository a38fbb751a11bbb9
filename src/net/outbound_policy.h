// OutboundPolicy: which IP addresses Outflow may connect to when it calls out
// (webhook jobs, HTTP providers, SMTP servers; docs/security.md, "Outbound calls").
//
// A destination is refused when it lies in a default deny range (loopback, private,
// link-local, cloud metadata, CGNAT, multicast, reserved...; kDenyRanges in the .cc)
// unless a CIDR of the allowlist contains it: the allowlist overrides the deny set.
// Every other address is allowed. IPv4-mapped (::ffff:0:0/96) and NAT64
// (64:ff9b::/96) IPv6 addresses are judged by the IPv4 address they carry, for the
// deny set and the allowlist alike.
//
// The policy judges an address, not a name: callers check the address actually
// connected to (net/curl_outbound.h), so a name whose answer changes between a check
// and the connection cannot get around it.
//
// Thread-safety: immutable after construction; share it freely.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

struct sockaddr;

namespace outflow::net {

// An IPv4 or IPv6 block. IPv4 is kept as its IPv4-mapped IPv6 form, so one
// comparison serves both families.
struct Cidr {
  std::array<uint8_t, 16> bytes{};
  int prefix = 0;  // over the 128-bit form
  std::string text;
  bool Contains(const std::array<uint8_t, 16>& address) const;
};

// An IP address in 16 bytes (IPv4 as IPv4-mapped IPv6); nullopt when `text` is
// not an IPv4 or IPv6 address.
std::optional<std::array<uint8_t, 16>> ParseIp(std::string_view text);
// True when one of `blocks` contains the address in `text` (false for a non-address).
bool AnyContains(const std::vector<Cidr>& blocks, std::string_view text);

// Parses "10.0.0.0/8", "fd00::/8", or a single address ("127.0.0.1" is /32, "::1"
// /128). Host bits set below the prefix are an error. InvalidArgument naming the value.
Result<Cidr> ParseCidr(std::string_view text);
// Parses a list; errors name the position ("--outbound-allow[2]: ...").
Result<std::vector<Cidr>> ParseCidrs(const std::vector<std::string>& texts, std::string_view field);

class OutboundPolicy {
 public:
  // The default deny set, overridden by `allow`. The library has no hidden default:
  // every owner of an outbound connection is handed its policy.
  explicit OutboundPolicy(std::vector<Cidr> allow);
  // Allows everything: for tools that never connect (settings checks).
  static OutboundPolicy AllowAll();
  // Denies the default set with no exceptions (the daemon's default).
  static OutboundPolicy DenyPrivate() { return OutboundPolicy({}); }

  // Nullopt when `address` may be connected to; else why not, e.g. "destination
  // 127.0.0.1 (loopback) is refused by the outbound policy; allow it with
  // --outbound-allow 127.0.0.1/32".
  std::optional<std::string> Check(const sockaddr* address) const;
  // The same for an address in text; InvalidArgument when it is not one.
  Result<std::optional<std::string>> CheckText(std::string_view address) const;

  const std::vector<Cidr>& allow() const { return allow_; }

 private:
  std::optional<std::string> CheckBytes(const std::array<uint8_t, 16>& address, const std::string& shown) const;

  std::vector<Cidr> allow_;
  bool allow_all_ = false;
};

}  // namespace outflow::net
