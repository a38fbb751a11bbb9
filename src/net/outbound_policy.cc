#include "net/outbound_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace outflow::net {

namespace {

using Bytes = std::array<uint8_t, 16>;

struct DenyRange {
  std::string_view cidr;
  std::string_view what;
};

// Most specific first: the first range that contains an address names it.
constexpr DenyRange kDenyRanges[] = {
    {"169.254.169.254/32", "cloud metadata"},
    {"fd00:ec2::254/128", "cloud metadata"},
    {"0.0.0.0/8", "this network"},
    {"10.0.0.0/8", "private"},
    {"100.64.0.0/10", "shared address space"},
    {"127.0.0.0/8", "loopback"},
    {"169.254.0.0/16", "link-local"},
    {"172.16.0.0/12", "private"},
    {"192.0.0.0/24", "IETF protocol assignments"},
    {"192.168.0.0/16", "private"},
    {"198.18.0.0/15", "benchmarking"},
    {"224.0.0.0/4", "multicast"},
    {"255.255.255.255/32", "broadcast"},
    {"240.0.0.0/4", "reserved"},
    {"::/128", "unspecified"},
    {"::1/128", "loopback"},
    {"fc00::/7", "unique local"},
    {"fe80::/10", "link-local"},
    {"ff00::/8", "multicast"},
};

constexpr Bytes kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0};
constexpr Bytes kNat64Prefix = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

Bytes MappedV4(const uint8_t v4[4]) {
  Bytes b = kMappedPrefix;
  std::memcpy(b.data() + 12, v4, 4);
  return b;
}

// NAT64 addresses carry an IPv4 address in their last 32 bits: judge that one.
Bytes Normalize(const Bytes& b) {
  if (std::equal(b.begin(), b.begin() + 12, kNat64Prefix.begin())) return MappedV4(b.data() + 12);
  return b;
}

std::optional<Bytes> ParseAddress(std::string_view text, bool* v4) {
  std::string s(text);
  uint8_t buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    *v4 = true;
    return MappedV4(buf);
  }
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    *v4 = false;
    Bytes b;
    std::memcpy(b.data(), buf, 16);
    return b;
  }
  return std::nullopt;
}

bool HostBitsClear(const Bytes& b, int prefix) {
  for (int bit = prefix; bit < 128; ++bit) {
    if (b[static_cast<size_t>(bit / 8)] & (0x80 >> (bit % 8))) return false;
  }
  return true;
}

const std::vector<std::pair<Cidr, std::string_view>>& DenySet() {
  static const auto* set = [] {
    auto* v = new std::vector<std::pair<Cidr, std::string_view>>;
    for (const DenyRange& r : kDenyRanges) v->emplace_back(ParseCidr(r.cidr).value(), r.what);
    return v;
  }();
  return *set;
}

// The smallest block that names just this address, for the hint in a refusal.
std::string HostCidr(const std::string& shown) {
  return shown + (shown.find(':') == std::string::npos ? "/32" : "/128");
}

}  // namespace

std::optional<Bytes> ParseIp(std::string_view text) {
  bool v4 = false;
  return ParseAddress(text, &v4);
}

bool AnyContains(const std::vector<Cidr>& blocks, std::string_view text) {
  std::optional<Bytes> b = ParseIp(text);
  return b && std::any_of(blocks.begin(), blocks.end(), [&](const Cidr& c) { return c.Contains(*b); });
}

bool Cidr::Contains(const Bytes& address) const {
  const Bytes a = Normalize(address);
  int full = prefix / 8;
  if (!std::equal(bytes.begin(), bytes.begin() + full, a.begin())) return false;
  int rest = prefix % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (bytes[static_cast<size_t>(full)] & mask) == (a[static_cast<size_t>(full)] & mask);
}

Result<Cidr> ParseCidr(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("'" + std::string(text) + "' is not a CIDR block (" + std::string(why) +
                                   "; e.g. 10.0.0.0/8, 127.0.0.1, fd00::/8)");
  };
  size_t slash = text.find('/');
  bool v4 = false;
  std::optional<Bytes> address = ParseAddress(text.substr(0, slash), &v4);
  if (!address) return bad("not an IPv4 or IPv6 address");
  const int width = v4 ? 32 : 128;
  int prefix = width;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3 || digits.find_first_not_of("0123456789") != std::string_view::npos) {
      return bad("the prefix length is not a number");
    }
    prefix = std::stoi(std::string(digits));
    if (prefix > width) return bad("the prefix length is over " + std::to_string(width));
  }
  Cidr c;
  c.bytes = *address;
  c.prefix = prefix + (v4 ? 96 : 0);
  c.text = std::string(text);
  if (!HostBitsClear(c.bytes, c.prefix)) return bad("bits are set after the prefix");
  return c;
}

Result<std::vector<Cidr>> ParseCidrs(const std::vector<std::string>& texts, std::string_view field) {
  std::vector<Cidr> out;
  for (size_t i = 0; i < texts.size(); ++i) {
    Result<Cidr> c = ParseCidr(texts[i]);
    if (!c.ok()) return c.status().WithContext(std::string(field) + "[" + std::to_string(i) + "]");
    out.push_back(std::move(c.value()));
  }
  return out;
}

OutboundPolicy::OutboundPolicy(std::vector<Cidr> allow) : allow_(std::move(allow)) {}

OutboundPolicy OutboundPolicy::AllowAll() {
  OutboundPolicy p({});
  p.allow_all_ = true;
  return p;
}

std::optional<std::string> OutboundPolicy::CheckBytes(const Bytes& address, const std::string& shown) const {
  if (allow_all_) return std::nullopt;
  for (const Cidr& c : allow_) {
    if (c.Contains(address)) return std::nullopt;
  }
  for (const auto& [range, what] : DenySet()) {
    if (range.Contains(address)) {
      return "destination " + shown + " (" + std::string(what) +
             ") is refused by the outbound policy; allow it with --outbound-allow " + HostCidr(shown);
    }
  }
  return std::nullopt;
}

std::optional<std::string> OutboundPolicy::Check(const sockaddr* address) const {
  char text[INET6_ADDRSTRLEN] = {};
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    return CheckBytes(MappedV4(reinterpret_cast<const uint8_t*>(&in->sin_addr)), text);
  }
  if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    Bytes b;
    std::memcpy(b.data(), &in6->sin6_addr, 16);
    return CheckBytes(b, text);
  }
  return "destination of address family " + std::to_string(address->sa_family) +
         " is refused by the outbound policy (only IPv4 and IPv6)";
}

Result<std::optional<std::string>> OutboundPolicy::CheckText(std::string_view address) const {
  bool v4 = false;
  std::optional<Bytes> b = ParseAddress(address, &v4);
  if (!b) return Status::InvalidArgument("'" + std::string(address) + "' is not an IPv4 or IPv6 address");
  return CheckBytes(*b, std::string(address));
}

}  // namespace outflow::net
