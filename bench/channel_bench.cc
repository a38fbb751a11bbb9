// Channel sender throughput: messages per second through HttpProviderSender (the
// whatsapp_cloud preset) to a minimal HTTP/1.1 keep-alive server in this process
// (bench/http_sink.h), and through SmtpSender to a minimal SMTP server in this
// process (bench/smtp_sink.h) and, optionally, to the aiosmtpd sink
// (tests/smtp/smtp_sink.py).
//
//   build/bench/channel_bench [--messages N] [--batch B] [--concurrency C] [--smtp M]
//                             [--smtp-connections C] [--smtp-python M]
//
// The servers are one epoll thread each, answering every request with a fixed
// reply, so the figure is the sender's cost (template fill or MIME build, curl,
// response parse and classification) plus the loopback; on a 2-core machine the
// server takes one core and the sender the other. The aiosmtpd figure is bounded
// by the Python sink (it writes two files per message), not by the sender.
#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "channels/http_provider/http_provider_sender.h"
#include "channels/smtp/smtp_sender.h"
#include "channels/testing/child_process.h"
#include "http_sink.h"
#include "smtp_sink.h"
#include "testing/loopback_policy.h"

namespace {

using namespace outflow;            // NOLINT(google-build-using-namespace)
using namespace outflow::channels;  // NOLINT(google-build-using-namespace)
using outflow::bench::HttpSink;
using outflow::bench::SmtpSink;

std::vector<OutboundMessage> Batch(size_t n, size_t offset, bool email) {
  std::vector<OutboundMessage> out(n);
  for (size_t i = 0; i < n; ++i) {
    OutboundMessage& m = out[i];
    m.idempotency_key = "bench:" + std::to_string(offset + i);
    m.to =
        email ? "user" + std::to_string(offset + i) + "@example.org" : "+1555" + std::to_string(1000000 + offset + i);
    m.subject = "Your weekly digest";
    m.text = "Hi Ann, your order #" + std::to_string(offset + i) + " is ready. Reply STOP to opt out.";
    if (email) m.html = "<p>Hi Ann, your order is <b>ready</b>.</p>";
  }
  return out;
}

void BenchHttp(size_t total, size_t batch, int concurrency) {
  HttpSink server;
  SystemClock& clock = SystemClock::Instance();
  boost::json::object settings = {{"preset", "whatsapp_cloud"},
                                  {"phone_number_id", "1234567890"},
                                  {"base_url", "http://127.0.0.1:" + std::to_string(server.Port())},
                                  {"concurrency", concurrency}};
  auto sender =
      MakeHttpProviderSender(settings, {{"access_token", "token"}}, clock, outflow::testing::LoopbackAllowed());
  if (!sender.ok()) {
    std::fprintf(stderr, "%s\n", sender.status().ToString().c_str());
    return;
  }
  // Warm up: connections open, buffers sized.
  (*sender)->SendBatch(Batch(std::min<size_t>(batch, 2000), 1'000'000'000, false));
  size_t sent = 0;
  double seconds = 0;
  for (size_t done = 0; done < total; done += batch) {
    std::vector<OutboundMessage> msgs = Batch(std::min(batch, total - done), done, false);
    auto start = std::chrono::steady_clock::now();
    std::vector<SendResult> results = (*sender)->SendBatch(msgs);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (const SendResult& r : results) sent += r.outcome == SendOutcome::kSent;
  }
  std::printf(
      "http whatsapp_cloud: %zu messages (%zu sent) in %.3f s = %.0f messages/s, concurrency %d, "
      "batch %zu, %d connections\n",
      total, sent, seconds, static_cast<double>(total) / seconds, concurrency, batch, server.Connections());
}

// Sends `total` messages in one SendBatch over `connections` sessions to `port`.
void SendSmtp(const char* sink_name, int port, size_t total, int connections) {
  SmtpSettings s;
  s.host = "127.0.0.1";
  s.port = port;
  s.tls = SmtpSettings::Tls::kNone;
  s.from_address = "news@example.com";
  s.connections = connections;
  auto sender = MakeSmtpSender(s, SystemClock::Instance(), outflow::testing::LoopbackAllowed());
  std::vector<OutboundMessage> msgs = Batch(total, 0, true);
  auto start = std::chrono::steady_clock::now();
  std::vector<SendResult> results = sender->SendBatch(msgs);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  size_t sent = 0;
  for (const SendResult& r : results) sent += r.outcome == SendOutcome::kSent;
  std::printf("smtp (%s sink): %zu messages (%zu sent) in %.3f s = %.0f messages/s over %d connections\n", sink_name,
              total, sent, seconds, static_cast<double>(total) / seconds, connections);
}

// To the C++ sink (bench/smtp_sink.h) in this process.
void BenchSmtp(size_t total, int connections) {
  SmtpSink sink;
  SendSmtp("C++", sink.Port(), total, connections);
  std::printf("  sink: %lld messages accepted, %lld sessions, %lld error replies\n",
              static_cast<long long>(sink.Messages()), static_cast<long long>(sink.Sessions()),
              static_cast<long long>(sink.Errors()));
}

// To the aiosmtpd sink (tests/smtp/smtp_sink.py), which writes two files per message.
void BenchSmtpPython(size_t total, int connections) {
  char dir_template[] = "/tmp/outflow-smtp-bench-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) return;
  std::string error;
  auto sink =
      test_support::ChildProcess::Start({OUTFLOW_PYTHON, std::string(OUTFLOW_SOURCE_DIR) + "/tests/smtp/smtp_sink.py",
                                         std::string(dir_template) + "/mail"},
                                        &error);
  if (!sink) {
    std::fprintf(stderr, "smtp sink: %s\n", error.c_str());
    return;
  }
  auto port = sink->ReadLine(std::chrono::seconds(30));
  if (!port) {
    std::fprintf(stderr, "smtp sink did not start\n");
    return;
  }
  SendSmtp("aiosmtpd", std::stoi(*port), total, connections);
  sink->Stop();
  std::filesystem::remove_all(dir_template);
}

}  // namespace

int main(int argc, char** argv) {
  size_t messages = 200'000;
  size_t batch = 10'000;
  int concurrency = 64;
  size_t smtp = 20'000;
  size_t smtp_python = 0;
  int smtp_connections = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    unsigned long v = std::strtoul(argv[i + 1], nullptr, 10);
    if (flag == "--messages")
      messages = v;
    else if (flag == "--batch")
      batch = v;
    else if (flag == "--concurrency")
      concurrency = static_cast<int>(v);
    else if (flag == "--smtp")
      smtp = v;
    else if (flag == "--smtp-python")
      smtp_python = v;
    else if (flag == "--smtp-connections")
      smtp_connections = static_cast<int>(v);
  }
  std::printf("cores: %u\n", std::thread::hardware_concurrency());
  if (messages > 0) BenchHttp(messages, batch, concurrency);
  if (smtp > 0) BenchSmtp(smtp, smtp_connections);
  if (smtp_python > 0) BenchSmtpPython(smtp_python, smtp_connections);
  return 0;
}
