// ClientBehindProxies: which X-Forwarded-For entry is the client, and when
// X-Forwarded-Proto makes a request secure.
#include "net/forwarded.h"

#include <gtest/gtest.h>

namespace outflow::net {
namespace {

std::vector<Cidr> Proxies() {
  return {ParseCidr("10.0.0.0/8").value(), ParseCidr("fd00::/8").value()};
}

std::string Client(const std::vector<std::string_view>& xff) {
  return ClientBehindProxies("10.0.0.2", xff, {}, Proxies()).address;
}

TEST(ClientBehindProxies, TheRightmostEntryThatIsNotATrustedProxy) {
  EXPECT_EQ(Client({"203.0.113.7"}), "203.0.113.7");
  EXPECT_EQ(Client({"203.0.113.7, 10.1.1.1"}), "203.0.113.7");      // through two of our proxies
  EXPECT_EQ(Client({"203.0.113.7", "10.1.1.1"}), "203.0.113.7");    // the same over two headers
  EXPECT_EQ(Client({"198.51.100.1, 203.0.113.7"}), "203.0.113.7");  // the left entry is the client's claim
  EXPECT_EQ(Client({"2001:db8::1 ,fd00::5"}), "2001:db8::1");
}

TEST(ClientBehindProxies, WithoutAUsableEntryThePeerOrTheLastBelievableHop) {
  EXPECT_EQ(Client({}), "10.0.0.2");
  EXPECT_EQ(Client({""}), "10.0.0.2");
  EXPECT_EQ(Client({"not-an-ip"}), "10.0.0.2");
  EXPECT_EQ(Client({"203.0.113.7, garbage, 10.1.1.1"}), "10.1.1.1");
  EXPECT_EQ(Client({"10.9.9.9, 10.1.1.1"}), "10.9.9.9");  // only proxies: the farthest one
}

TEST(ClientBehindProxies, ForwardedProtoIsTheNearestProxysWord) {
  auto https = [](const std::vector<std::string_view>& proto) {
    return ClientBehindProxies("10.0.0.2", {}, proto, Proxies()).https;
  };
  EXPECT_TRUE(https({"https"}));
  EXPECT_TRUE(https({"http, https"}));
  EXPECT_FALSE(https({"https, http"}));
  EXPECT_FALSE(https({"http"}));
  EXPECT_FALSE(https({}));
  EXPECT_FALSE(https({"httpsx"}));
}

}  // namespace
}  // namespace outflow::net
