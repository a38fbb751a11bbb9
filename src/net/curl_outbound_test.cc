// CurlOutbound with real libcurl requests to a real HTTP server on 127.0.0.1: a
// request is refused before any connection unless the allowlist permits it, whether
// the URL names the address or a name that resolves to it.
#include "net/curl_outbound.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "testing/loopback_listener.h"
#include "testing/status_matchers.h"

namespace outflow::net {
namespace {

// Answers every connection on 127.0.0.1 with "200 OK" and counts them.
class TinyHttpServer {
 public:
  TinyHttpServer() {
    fd_ = outflow::testing::ListenOnLoopback(port_);
    if (port_ != 0) thread_ = std::thread([this] { Serve(); });
  }
  ~TinyHttpServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    close(fd_);
  }
  int port() const { return port_; }
  int connections() const { return connections_; }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      ++connections_;
      char buf[4096];
      (void)!read(c, buf, sizeof buf);  // the request fits one read
      constexpr std::string_view kReply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
      (void)!write(c, kReply.data(), kReply.size());
      close(c);
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

struct Outcome {
  CURLcode rc;
  long status = 0;
  std::optional<std::string> refusal;
};

size_t Discard(char*, size_t size, size_t n, void*) {
  return size * n;
}

// GET `url`; `resolve` ("host:port:address") pins a name to an address as DNS would.
Outcome Get(const OutboundPolicy& policy, const std::string& url, const std::string& resolve = "") {
  CURL* c = curl_easy_init();
  CurlOutbound guard;
  guard.Install(c, policy);
  curl_slist* pins = resolve.empty() ? nullptr : curl_slist_append(nullptr, resolve.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_RESOLVE, pins);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Discard);
  Outcome o{curl_easy_perform(c)};
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &o.status);
  o.refusal = guard.Refusal();
  curl_easy_cleanup(c);
  curl_slist_free_all(pins);
  return o;
}

OutboundPolicy Allow(const std::string& cidr) {
  Result<Cidr> c = ParseCidr(cidr);
  EXPECT_OK(c);
  return OutboundPolicy({c.value()});
}

TEST(CurlOutbound, LoopbackIsRefusedBeforeConnecting) {
  TinyHttpServer server;
  const OutboundPolicy deny = OutboundPolicy::DenyPrivate();
  Outcome o = Get(deny, "http://127.0.0.1:" + std::to_string(server.port()) + "/");
  EXPECT_EQ(o.rc, CURLE_COULDNT_CONNECT);
  ASSERT_TRUE(o.refusal);
  EXPECT_NE(o.refusal->find("destination 127.0.0.1 (loopback) is refused"), std::string::npos) << *o.refusal;
  EXPECT_EQ(server.connections(), 0);
}

TEST(CurlOutbound, ANameThatResolvesToLoopbackIsRefusedUnlessAllowed) {
  TinyHttpServer server;
  const std::string port = std::to_string(server.port());
  const std::string url = "http://hooks.example.com:" + port + "/";
  const std::string pin = "hooks.example.com:" + port + ":127.0.0.1";
  const OutboundPolicy deny = OutboundPolicy::DenyPrivate();
  Outcome o = Get(deny, url, pin);
  EXPECT_EQ(o.rc, CURLE_COULDNT_CONNECT);
  ASSERT_TRUE(o.refusal);
  EXPECT_NE(o.refusal->find("127.0.0.1 (loopback)"), std::string::npos) << *o.refusal;
  EXPECT_EQ(server.connections(), 0);

  const OutboundPolicy allow = Allow("127.0.0.0/8");
  o = Get(allow, url, pin);
  EXPECT_EQ(o.rc, CURLE_OK) << curl_easy_strerror(o.rc);
  EXPECT_EQ(o.status, 200);
  EXPECT_FALSE(o.refusal);
  EXPECT_EQ(server.connections(), 1);
}

TEST(CurlOutbound, LocalhostIsRefusedOnEveryAddressItHas) {
  TinyHttpServer server;
  const OutboundPolicy deny = OutboundPolicy::DenyPrivate();
  Outcome o = Get(deny, "http://localhost:" + std::to_string(server.port()) + "/");
  EXPECT_EQ(o.rc, CURLE_COULDNT_CONNECT);
  EXPECT_TRUE(o.refusal);
  EXPECT_EQ(server.connections(), 0);
  // Allowing only ::1 does not open 127.0.0.1 (the server listens on IPv4 only).
  const OutboundPolicy v6 = Allow("::1/128");
  o = Get(v6, "http://127.0.0.1:" + std::to_string(server.port()) + "/");
  EXPECT_TRUE(o.refusal);
  EXPECT_EQ(server.connections(), 0);
}

TEST(CurlOutbound, EnvironmentProxiesAreNotUsed) {
  TinyHttpServer server;
  // Nothing listens on port 1: were the proxy used, the request would fail.
  setenv("http_proxy", "http://127.0.0.1:1", 1);
  const OutboundPolicy allow = Allow("127.0.0.0/8");
  Outcome o = Get(allow, "http://127.0.0.1:" + std::to_string(server.port()) + "/");
  unsetenv("http_proxy");
  EXPECT_EQ(o.rc, CURLE_OK) << curl_easy_strerror(o.rc);
  EXPECT_EQ(server.connections(), 1);
}

}  // namespace
}  // namespace outflow::net
