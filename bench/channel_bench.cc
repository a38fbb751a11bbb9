// Channel sender throughput: messages per second through HttpProviderSender (the
// whatsapp_cloud preset) to a minimal HTTP/1.1 keep-alive server in this process,
// and through SmtpSender to the aiosmtpd sink (tests/smtp/smtp_sink.py).
//
//   build/bench/channel_bench [--messages N] [--batch B] [--concurrency C] [--smtp M]
//
// The HTTP server is one epoll thread answering every request with a fixed
// WhatsApp-shaped 200, so the figure is the sender's cost (template fill, curl,
// response parse and classification) plus the loopback; on a 2-core machine the
// server takes one core and the sender the other. The SMTP figure is bounded by the
// Python sink (it writes two files per message), not by the sender.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "channels/http_provider/http_provider_sender.h"
#include "channels/smtp/smtp_sender.h"
#include "channels/testing/child_process.h"

namespace {

using namespace outflow;            // NOLINT(google-build-using-namespace)
using namespace outflow::channels;  // NOLINT(google-build-using-namespace)

// A single-threaded epoll HTTP/1.1 server: reads requests (headers + Content-Length
// body, pipelining allowed) and answers each with the same response.
class TinyHttpServer {
 public:
  TinyHttpServer() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listen_fd_, 1024) != 0) {
      std::perror("bench server");
      std::exit(1);
    }
    socklen_t len = sizeof a;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    std::string body = R"({"messaging_product":"whatsapp","contacts":[{"input":"+15550001","wa_id":"15550001"}],)"
                       R"("messages":[{"id":"wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}]})";
    response_ = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                "\r\n\r\n" + body;
    epoll_ = epoll_create1(0);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listen_fd_;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, listen_fd_, &ev);
    thread_ = std::thread([this] { Run(); });
  }
  ~TinyHttpServer() {
    stop_ = true;
    thread_.join();
    for (auto& [fd, c] : conns_) close(fd);
    close(listen_fd_);
    close(epoll_);
  }
  int Port() const { return port_; }
  int Connections() const { return connections_.load(); }

 private:
  void Run() {
    epoll_event events[256];
    while (!stop_) {
      int n = epoll_wait(epoll_, events, 256, 100);
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == listen_fd_) {
          for (int c; (c = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK)) >= 0;) {
            int one = 1;
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.fd = c;
            epoll_ctl(epoll_, EPOLL_CTL_ADD, c, &ev);
            conns_[c];
            ++connections_;
          }
          continue;
        }
        OnReadable(fd);
      }
    }
  }

  void OnReadable(int fd) {
    std::string& in = conns_[fd];
    char buf[65536];
    for (;;) {
      ssize_t r = read(fd, buf, sizeof buf);
      if (r > 0) {
        in.append(buf, static_cast<size_t>(r));
        continue;
      }
      if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
        close(fd);
        conns_.erase(fd);
        return;
      }
      break;
    }
    std::string out;
    size_t pos = 0;
    for (;;) {
      size_t end = in.find("\r\n\r\n", pos);
      if (end == std::string::npos) break;
      size_t length = 0;
      for (size_t h = in.find("\r\n", pos); h != std::string::npos && h < end; h = in.find("\r\n", h + 2)) {
        if (strncasecmp(in.data() + h + 2, "content-length:", 15) == 0)
          length = std::strtoul(in.data() + h + 17, nullptr, 10);
      }
      if (in.size() < end + 4 + length) break;
      pos = end + 4 + length;
      out += response_;
      ++requests_;
    }
    in.erase(0, pos);
    size_t off = 0;
    while (off < out.size()) {  // small responses; a full socket buffer is not expected here
      ssize_t w = write(fd, out.data() + off, out.size() - off);
      if (w <= 0) break;
      off += static_cast<size_t>(w);
    }
  }

  int listen_fd_ = -1;
  int epoll_ = -1;
  int port_ = 0;
  std::string response_;
  std::unordered_map<int, std::string> conns_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> requests_{0};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

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
  TinyHttpServer server;
  SystemClock& clock = SystemClock::Instance();
  boost::json::object settings = {{"preset", "whatsapp_cloud"},
                                  {"phone_number_id", "1234567890"},
                                  {"base_url", "http://127.0.0.1:" + std::to_string(server.Port())},
                                  {"concurrency", concurrency}};
  auto sender = MakeHttpProviderSender(settings, {{"access_token", "token"}}, clock);
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

void BenchSmtp(size_t total, int connections) {
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
  SmtpSettings s;
  s.host = "127.0.0.1";
  s.port = std::stoi(*port);
  s.tls = SmtpSettings::Tls::kNone;
  s.from_address = "news@example.com";
  s.connections = connections;
  auto sender = MakeSmtpSender(s, SystemClock::Instance());
  std::vector<OutboundMessage> msgs = Batch(total, 0, true);
  auto start = std::chrono::steady_clock::now();
  std::vector<SendResult> results = sender->SendBatch(msgs);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  size_t sent = 0;
  for (const SendResult& r : results) sent += r.outcome == SendOutcome::kSent;
  std::printf("smtp (aiosmtpd sink): %zu messages (%zu sent) in %.3f s = %.0f messages/s over %d connections\n", total,
              sent, seconds, static_cast<double>(total) / seconds, connections);
  sender.reset();
  sink->Stop();
  std::filesystem::remove_all(dir_template);
}

}  // namespace

int main(int argc, char** argv) {
  size_t messages = 200'000;
  size_t batch = 10'000;
  int concurrency = 64;
  size_t smtp = 2'000;
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
  }
  std::printf("cores: %u\n", std::thread::hardware_concurrency());
  BenchHttp(messages, batch, concurrency);
  if (smtp > 0) BenchSmtp(smtp, 4);
  return 0;
}
