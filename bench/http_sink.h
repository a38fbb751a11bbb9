// HttpSink: a minimal HTTP/1.1 keep-alive server for the benchmarks, on 127.0.0.1
// (an ephemeral port), answering every request with the same WhatsApp Cloud
// API-shaped 200 ({"messages":[{"id":"wamid..."}]}).
//
// One epoll thread, started by the constructor and joined by the destructor. It
// reads requests (headers + Content-Length body; pipelined requests allowed; no
// chunked bodies) and answers each in order, buffering what the socket does not
// take at once. It is meant to cost as little CPU as possible, so that a benchmark
// measures the sender, not the server.
//
// A request that carries an `Idempotency-Key` header is a message (a Verify GET has
// none). The sink keeps the arrival times (system clock, read once per readable
// event) of the first and the latest message since ResetTimes(). With `record`
// set, it also records every message with its arrival time (steady and system
// clock) and the key, for pacing and lateness figures; that costs one vector push
// per message.
//
// Thread-safety: every public method may be called from any thread while the
// server runs, except ResetTimes (between runs).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace outflow::bench {

class HttpSink {
 public:
  struct Arrival {
    std::chrono::steady_clock::time_point steady;
    std::chrono::system_clock::time_point system;
    std::string key;  // the Idempotency-Key header's value
  };

  explicit HttpSink(bool record = false) : record_(record) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listen_fd_, 1024) != 0) {
      std::perror("http sink");
      std::exit(1);
    }
    socklen_t len = sizeof a;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    std::string body = R"({"messaging_product":"whatsapp","contacts":[{"input":"+15550001","wa_id":"15550001"}],)"
                       R"("messages":[{"id":"wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}]})";
    response_ = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                "\r\n\r\n" + body;
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listen_fd_;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, listen_fd_, &ev);
    thread_ = std::thread([this] { Run(); });
  }
  ~HttpSink() {
    stop_ = true;
    thread_.join();
    for (auto& [fd, c] : conns_) close(fd);
    close(listen_fd_);
    close(epoll_);
  }
  HttpSink(const HttpSink&) = delete;
  HttpSink& operator=(const HttpSink&) = delete;

  int Port() const { return port_; }
  std::string BaseUrl() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int64_t Requests() const { return requests_.load(); }
  int Connections() const { return connections_.load(); }
  // The recorded arrivals so far (empty unless constructed with record = true).
  std::vector<Arrival> Arrivals() const {
    std::lock_guard lock(mu_);
    return arrivals_;
  }
  void ClearArrivals() {
    std::lock_guard lock(mu_);
    arrivals_.clear();
  }
  // Arrival of the first / latest message since ResetTimes(), in microseconds since
  // the Unix epoch (system clock); 0 if none yet.
  int64_t FirstMessageMicros() const { return first_us_.load(); }
  int64_t LastMessageMicros() const { return last_us_.load(); }
  int64_t Messages() const { return messages_.load(); }
  // REQUIRES: no request in flight (between runs).
  void ResetTimes() {
    first_us_ = 0;
    last_us_ = 0;
  }

 private:
  struct Conn {
    std::string in;
    std::string out;  // not yet written (the socket was full)
    bool want_out = false;
  };

  void Run() {
    epoll_event events[256];
    while (!stop_) {
      int n = epoll_wait(epoll_, events, 256, 100);
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == listen_fd_) {
          for (int c; (c = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
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
        auto it = conns_.find(fd);
        if (it == conns_.end()) continue;
        if ((events[i].events & EPOLLOUT) && !Flush(fd, it->second)) continue;
        if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) OnReadable(fd, it->second);
      }
    }
  }

  void Close(int fd) {
    epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns_.erase(fd);
  }

  // Writes what is pending; false when the connection was closed.
  bool Flush(int fd, Conn& c) {
    size_t off = 0;
    while (off < c.out.size()) {
      ssize_t w = write(fd, c.out.data() + off, c.out.size() - off);
      if (w > 0) {
        off += static_cast<size_t>(w);
        continue;
      }
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      Close(fd);
      return false;
    }
    c.out.erase(0, off);
    bool want = !c.out.empty();
    if (want != c.want_out) {
      epoll_event ev{};
      ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
      ev.data.fd = fd;
      epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &ev);
      c.want_out = want;
    }
    return true;
  }

  void OnReadable(int fd, Conn& c) {
    char buf[65536];
    bool closed = false;
    for (;;) {
      ssize_t r = read(fd, buf, sizeof buf);
      if (r > 0) {
        c.in.append(buf, static_cast<size_t>(r));
        if (static_cast<size_t>(r) < sizeof buf) break;
        continue;
      }
      if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) closed = true;
      break;
    }
    const auto steady = std::chrono::steady_clock::now();
    const auto system = std::chrono::system_clock::now();
    const int64_t system_us = std::chrono::duration_cast<std::chrono::microseconds>(system.time_since_epoch()).count();
    size_t pos = 0;
    for (;;) {
      size_t end = c.in.find("\r\n\r\n", pos);
      if (end == std::string::npos) break;
      size_t length = 0;
      std::string_view key;
      for (size_t h = c.in.find("\r\n", pos); h != std::string::npos && h < end; h = c.in.find("\r\n", h + 2)) {
        const char* line = c.in.data() + h + 2;
        if (strncasecmp(line, "content-length:", 15) == 0) {
          length = std::strtoul(line + 15, nullptr, 10);
        } else if (strncasecmp(line, "idempotency-key:", 16) == 0) {
          size_t v = h + 2 + 16;
          while (v < end && c.in[v] == ' ') ++v;
          size_t e = c.in.find("\r\n", v);
          key = std::string_view(c.in).substr(v, e - v);
        }
      }
      if (c.in.size() < end + 4 + length) break;
      pos = end + 4 + length;
      c.out += response_;
      requests_.fetch_add(1, std::memory_order_relaxed);
      if (!key.empty()) {
        messages_.fetch_add(1, std::memory_order_relaxed);
        if (first_us_.load(std::memory_order_relaxed) == 0) first_us_.store(system_us);
        last_us_.store(system_us, std::memory_order_relaxed);
        if (record_) {
          std::lock_guard lock(mu_);
          arrivals_.push_back({steady, system, std::string(key)});
        }
      }
    }
    c.in.erase(0, pos);
    if (!Flush(fd, c)) return;
    if (closed) Close(fd);
  }

  const bool record_;
  int listen_fd_ = -1;
  int epoll_ = -1;
  int port_ = 0;
  std::string response_;
  std::unordered_map<int, Conn> conns_;  // the server thread's only
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> requests_{0};
  std::atomic<int> connections_{0};
  std::atomic<int64_t> messages_{0};
  std::atomic<int64_t> first_us_{0};
  std::atomic<int64_t> last_us_{0};
  mutable std::mutex mu_;
  std::vector<Arrival> arrivals_;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace outflow::bench
