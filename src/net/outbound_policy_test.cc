// OutboundPolicy: a table of addresses in and out of each deny range, mapped and
// NAT64 IPv6 forms, the allowlist's override, and CIDR parse errors.
#include "net/outbound_policy.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "testing/status_matchers.h"

namespace outflow::net {
namespace {

OutboundPolicy Policy(const std::vector<std::string>& allow) {
  Result<std::vector<Cidr>> cidrs = ParseCidrs(allow, "allow");
  EXPECT_OK(cidrs);
  return OutboundPolicy(cidrs.ok() ? cidrs.value() : std::vector<Cidr>{});
}

// The label in a refusal, or "" when allowed.
std::string Verdict(const OutboundPolicy& p, std::string_view address) {
  Result<std::optional<std::string>> r = p.CheckText(address);
  EXPECT_OK(r);
  if (!r.ok() || !r.value()) return "";
  const std::string& why = *r.value();
  size_t open = why.find('(');
  return why.substr(open + 1, why.find(')') - open - 1);
}

TEST(OutboundPolicy, DefaultDenySetByRange) {
  const OutboundPolicy p = OutboundPolicy::DenyPrivate();
  const std::pair<const char*, const char*> table[] = {
      {"0.0.0.0", "this network"},
      {"0.255.255.255", "this network"},
      {"10.0.0.1", "private"},
      {"10.255.255.255", "private"},
      {"100.64.0.1", "shared address space"},
      {"100.127.255.255", "shared address space"},
      {"127.0.0.1", "loopback"},
      {"127.255.255.254", "loopback"},
      {"169.254.0.1", "link-local"},
      {"169.254.169.254", "cloud metadata"},
      {"172.16.0.1", "private"},
      {"172.31.255.255", "private"},
      {"192.0.0.8", "IETF protocol assignments"},
      {"192.168.1.1", "private"},
      {"198.18.0.1", "benchmarking"},
      {"198.19.255.255", "benchmarking"},
      {"224.0.0.1", "multicast"},
      {"239.255.255.250", "multicast"},
      {"240.0.0.1", "reserved"},
      {"255.255.255.255", "broadcast"},
      {"::", "unspecified"},
      {"::1", "loopback"},
      {"fc00::1", "unique local"},
      {"fd12:3456::1", "unique local"},
      {"fd00:ec2::254", "cloud metadata"},
      {"fe80::1", "link-local"},
      {"febf::1", "link-local"},
      {"ff02::1", "multicast"},
      // IPv4 inside IPv6: judged by the IPv4 address.
      {"::ffff:127.0.0.1", "loopback"},
      {"::ffff:169.254.169.254", "cloud metadata"},
      {"::ffff:10.1.2.3", "private"},
      {"64:ff9b::7f00:1", "loopback"},
      {"64:ff9b::a9fe:a9fe", "cloud metadata"},
  };
  for (const auto& [address, label] : table) EXPECT_EQ(Verdict(p, address), label) << address;
}

TEST(OutboundPolicy, PublicAddressesAndRangeEdgesAreAllowed) {
  const OutboundPolicy p = OutboundPolicy::DenyPrivate();
  for (const char* address : {"1.1.1.1",
                              "8.8.8.8",
                              "9.255.255.255",
                              "11.0.0.0",
                              "100.63.255.255",
                              "100.128.0.0",
                              "126.255.255.255",
                              "128.0.0.0",
                              "169.253.255.255",
                              "169.255.0.0",
                              "172.15.255.255",
                              "172.32.0.0",
                              "192.0.1.0",
                              "192.167.255.255",
                              "192.169.0.0",
                              "198.17.255.255",
                              "198.20.0.0",
                              "223.255.255.255",
                              "2606:4700:4700::1111",
                              "2001:4860:4860::8888",
                              "::ffff:8.8.8.8",
                              "64:ff9b::808:808",
                              "fbff::1",
                              "fec0::1",
                              "::2"}) {
    EXPECT_EQ(Verdict(p, address), "") << address;
  }
}

TEST(OutboundPolicy, TheRefusalNamesAddressReasonAndRemedy) {
  auto r = OutboundPolicy::DenyPrivate().CheckText("127.0.0.1");
  ASSERT_OK(r);
  ASSERT_TRUE(r.value());
  EXPECT_EQ(*r.value(),
            "destination 127.0.0.1 (loopback) is refused by the outbound policy; allow it with --outbound-allow "
            "127.0.0.1/32");
  r = OutboundPolicy::DenyPrivate().CheckText("fe80::1");
  ASSERT_TRUE(r.ok() && r.value());
  EXPECT_NE(r.value()->find("--outbound-allow fe80::1/128"), std::string::npos) << *r.value();
}

TEST(OutboundPolicy, AllowlistOverridesTheDenySet) {
  const OutboundPolicy p = Policy({"127.0.0.0/8", "::1", "10.1.0.0/16", "169.254.169.254"});
  EXPECT_EQ(Verdict(p, "127.0.0.1"), "");
  EXPECT_EQ(Verdict(p, "127.9.9.9"), "");
  EXPECT_EQ(Verdict(p, "::1"), "");
  EXPECT_EQ(Verdict(p, "::ffff:127.0.0.1"), "");  // a mapped address follows the IPv4 allowlist
  EXPECT_EQ(Verdict(p, "64:ff9b::7f00:1"), "");   // so does NAT64
  EXPECT_EQ(Verdict(p, "10.1.255.255"), "");
  EXPECT_EQ(Verdict(p, "10.2.0.0"), "private");  // outside the allowed /16
  EXPECT_EQ(Verdict(p, "169.254.169.254"), "");
  EXPECT_EQ(Verdict(p, "169.254.169.253"), "link-local");
  EXPECT_EQ(Verdict(p, "fe80::1"), "link-local");
  EXPECT_EQ(Verdict(p, "8.8.8.8"), "");
}

TEST(OutboundPolicy, AllowAllAllowsEverything) {
  EXPECT_EQ(Verdict(OutboundPolicy::AllowAll(), "127.0.0.1"), "");
  EXPECT_EQ(Verdict(OutboundPolicy::AllowAll(), "169.254.169.254"), "");
}

TEST(OutboundPolicy, ChecksSocketAddresses) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_TRUE(OutboundPolicy::DenyPrivate().Check(reinterpret_cast<sockaddr*>(&in)));
  EXPECT_FALSE(Policy({"127.0.0.1/32"}).Check(reinterpret_cast<sockaddr*>(&in)));
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_addr = in6addr_loopback;
  EXPECT_TRUE(Policy({"127.0.0.1/32"}).Check(reinterpret_cast<sockaddr*>(&in6)));
  EXPECT_FALSE(Policy({"::1/128"}).Check(reinterpret_cast<sockaddr*>(&in6)));
  sockaddr un{};
  un.sa_family = AF_UNIX;
  EXPECT_TRUE(OutboundPolicy::DenyPrivate().Check(&un));
}

TEST(ParseCidr, ParsesBlocksAndSingleAddresses) {
  ASSERT_OK_AND_ASSIGN(Cidr c, ParseCidr("10.0.0.0/8"));
  EXPECT_EQ(c.prefix, 96 + 8);
  ASSERT_OK_AND_ASSIGN(c, ParseCidr("127.0.0.1"));
  EXPECT_EQ(c.prefix, 128);
  ASSERT_OK_AND_ASSIGN(c, ParseCidr("fd00::/8"));
  EXPECT_EQ(c.prefix, 8);
  ASSERT_OK_AND_ASSIGN(c, ParseCidr("0.0.0.0/0"));
  EXPECT_EQ(c.prefix, 96);
  ASSERT_OK_AND_ASSIGN(c, ParseCidr("::/0"));
  EXPECT_EQ(c.prefix, 0);
}

TEST(ParseCidr, ErrorsNameTheBadValue) {
  EXPECT_ERROR(ParseCidr("10.0.0.0/33"), Code::kInvalidArgument, "'10.0.0.0/33' is not a CIDR block");
  EXPECT_ERROR(ParseCidr("10.0.0.0/33"), Code::kInvalidArgument, "over 32");
  EXPECT_ERROR(ParseCidr("::/129"), Code::kInvalidArgument, "over 128");
  EXPECT_ERROR(ParseCidr("10.0.0.1/8"), Code::kInvalidArgument, "bits are set after the prefix");
  EXPECT_ERROR(ParseCidr("localhost"), Code::kInvalidArgument, "not an IPv4 or IPv6 address");
  EXPECT_ERROR(ParseCidr("10.0.0.0/"), Code::kInvalidArgument, "prefix length is not a number");
  EXPECT_ERROR(ParseCidr("10.0.0.0/-1"), Code::kInvalidArgument, "prefix length is not a number");
  EXPECT_ERROR(ParseCidr(""), Code::kInvalidArgument, "is not a CIDR block");
  EXPECT_ERROR(ParseCidrs({"127.0.0.0/8", "nope"}, "--outbound-allow"), Code::kInvalidArgument,
               "--outbound-allow[1]: 'nope'");
}

}  // namespace
}  // namespace outflow::net
