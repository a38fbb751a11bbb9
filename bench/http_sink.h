// HttpSink: a minimal HTTP/1.1 keep-alive server for the benchmarks, on 127.0.0.1
// (an ephemeral port), answering every request with the same WhatsApp Cloud
// API-shaped 200 ({"messages":[{"id":"wamid..."}]}).
//
// One epoll thread (epoll_server.h), started by the constructor and joined by the
// destructor. It reads requests (headers + Content-Length body; pipelined requests
// allowed; no chunked bodies) and answers each in order, buffering what the socket
// does not take at once. It is meant to cost as little CPU as possible, so that a benchmark
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

#include <strings.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "epoll_server.h"

namespace outflow::bench {

class HttpSink {
 public:
  struct Arrival {
    std::chrono::steady_clock::time_point steady;
    std::chrono::system_clock::time_point system;
    std::string key;  // the Idempotency-Key header's value
  };

  explicit HttpSink(bool record = false) : record_(record) {}
  HttpSink(const HttpSink&) = delete;
  HttpSink& operator=(const HttpSink&) = delete;

  int Port() const { return server_.Port(); }
  std::string BaseUrl() const { return "http://127.0.0.1:" + std::to_string(Port()); }
  int64_t Requests() const { return requests_.load(); }
  int Connections() const { return static_cast<int>(server_.Accepted()); }
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
  struct NoState {};  // HTTP keeps nothing per connection but its buffers
  using Server = EpollServer<NoState>;

  static std::string Response() {
    std::string body = R"({"messaging_product":"whatsapp","contacts":[{"input":"+15550001","wa_id":"15550001"}],)"
                       R"("messages":[{"id":"wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}]})";
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
  }

  // Answers every complete request at the front of c.in, in order.
  void OnInput(Server::Conn& c) {
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
  }

  const bool record_;
  const std::string response_ = Response();
  std::atomic<int64_t> requests_{0};
  std::atomic<int64_t> messages_{0};
  std::atomic<int64_t> first_us_{0};
  std::atomic<int64_t> last_us_{0};
  mutable std::mutex mu_;
  std::vector<Arrival> arrivals_;  // GUARDED_BY(mu_)
  // Last: its thread calls OnInput, so it starts after and stops before the above.
  Server server_{"http sink", [this](Server::Conn& c) { OnInput(c); }};
};

}  // namespace outflow::bench
