// WebhookHandler against real servers on 127.0.0.1: tests/fakes/provider_fake.py
// (its custom endpoints answer any POST, and can be told to fail), and a listener
// that accepts connections and never answers. The handler is given an outbound
// policy that allows loopback, except where a test shows the default refusing it.
#include "channels/webhook/webhook_handler.h"

#include <gtest/gtest.h>

#include "base/retry_after.h"
#include "channels/testing/provider_fake.h"
#include "testing/loopback_listener.h"
#include "testing/loopback_policy.h"

namespace outflow::channels {
namespace {

using std::chrono::milliseconds;
using test_support::Fake;

const Timestamp kNow = FromMicros(1795512600LL * 1'000'000);  // Tue, 24 Nov 2026 09:30:00 GMT

// A TCP listener on 127.0.0.1 that never accepts: the kernel completes the
// handshake and takes the request, and no reply ever comes.
class SilentServer {
 public:
  SilentServer() { fd_ = outflow::testing::ListenOnLoopback(port_); }
  ~SilentServer() { close(fd_); }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

Job WebhookJob(const std::string& payload) {
  Job j;
  j.id = JobId(7);
  j.kind = "webhook";
  j.attempts = 1;
  j.payload = payload;
  return j;
}

TEST(WebhookHandler, ServerThatNeverAnswersFailsTransientlyWithinTheTimeout) {
  SilentServer server;
  FakeClock clock(kNow);
  WebhookHandler handler(clock, outflow::testing::LoopbackAllowed());
  const auto start = std::chrono::steady_clock::now();
  RunResult r = handler.Run(WebhookJob(R"({"url": ")" + server.Url() + R"(", "timeout_ms": 300})"));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.kind, RunResult::Kind::kRetry) << r.error;
  EXPECT_NE(r.error.find("request failed"), std::string::npos) << r.error;
  // It waited for the timeout (curl's own clock may fire it a fraction of a
  // millisecond before ours reads 300 ms), and not much longer.
  EXPECT_GE(took, milliseconds(290));
  EXPECT_LT(took, milliseconds(3000));  // the deadline, with room for a loaded machine
}

TEST(WebhookHandler, RetryAfterIsHonouredUpToTheMaximum) {
  Fake fake;
  ASSERT_TRUE(fake.Ok());
  FakeClock clock(kNow);
  WebhookHandler handler(clock, outflow::testing::LoopbackAllowed());
  const std::string job = R"({"url": ")" + fake.Base() + R"(/hook", "body": {"n": 1}})";
  struct Case {
    const char* retry_after;
    Duration expected;
  };
  for (const Case& c : {Case{"7", std::chrono::seconds(7)}, Case{"999999999", kMaxRetryAfter},
                        Case{"Tue, 24 Nov 2026 09:32:00 GMT", std::chrono::seconds(120)},
                        Case{"Fri, 31 Dec 9999 23:59:59 GMT", kMaxRetryAfter}}) {
    fake.Control(std::string(R"({"fail_next": 1, "status": 429, "retry_after": ")") + c.retry_after + "\"}");
    RunResult r = handler.Run(WebhookJob(job));
    EXPECT_EQ(r.kind, RunResult::Kind::kRetry) << c.retry_after;
    ASSERT_TRUE(r.retry_at.has_value()) << c.retry_after;
    EXPECT_EQ(*r.retry_at, kNow + c.expected) << c.retry_after << ": " << FormatRfc3339(*r.retry_at);
  }
  EXPECT_EQ(handler.Run(WebhookJob(job)).kind, RunResult::Kind::kDone);
}

TEST(WebhookHandler, ALoopbackDestinationFailsAtOnceWithThePolicysReason) {
  Fake fake;
  ASSERT_TRUE(fake.Ok());
  FakeClock clock(kNow);
  const net::OutboundPolicy deny = net::OutboundPolicy::DenyPrivate();
  WebhookHandler handler(clock, deny);
  // localhost resolves to 127.0.0.1 (and ::1): the name is no way around the policy.
  const std::string url = "http://localhost:" + fake.Base().substr(fake.Base().rfind(':') + 1) + "/hook";
  RunResult r = handler.Run(WebhookJob(R"({"url": ")" + url + R"("})"));
  EXPECT_EQ(r.kind, RunResult::Kind::kFail) << r.error;  // not retried: the answer would not change
  EXPECT_NE(r.error.find("(loopback) is refused by the outbound policy"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("--outbound-allow"), std::string::npos) << r.error;
  EXPECT_TRUE(fake.Requests().empty());

  WebhookHandler allowed(clock, outflow::testing::LoopbackAllowed());
  EXPECT_EQ(allowed.Run(WebhookJob(R"({"url": ")" + url + R"("})")).kind, RunResult::Kind::kDone);
  EXPECT_EQ(fake.Requests().size(), 1u);
}

}  // namespace
}  // namespace outflow::channels
