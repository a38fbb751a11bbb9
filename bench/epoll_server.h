// EpollServer<State>: the socket half of the benchmark sinks (http_sink.h,
// smtp_sink.h). A listening socket on 127.0.0.1 (an ephemeral port) and one epoll
// thread that accepts connections (TCP_NODELAY), reads what arrives into each
// connection's input buffer, hands it to the protocol and writes the protocol's
// output, keeping what the socket does not take at once (and watching EPOLLOUT
// while any is pending).
//
// The protocol is two hooks, both called on the server thread:
//   on_input(Conn&)   once per readable event, after every byte then available was
//                     read into `in` (also when the peer has closed or the socket
//                     failed: `in` may still end in complete requests). It consumes
//                     what it can from the front of `in`, appends replies to `out`
//                     and may set `close_when_flushed`.
//   on_accept(Conn&)  optional; once per accepted connection, e.g. to put a
//                     greeting in `out`.
// After either hook, `out` is written. A connection whose peer closed is closed
// after its last on_input; one with `close_when_flushed` once `out` is all written;
// one whose write fails at once.
//
// Lifecycle: the constructor binds, listens and starts the thread (it ends the
// process if it cannot bind); the destructor stops and joins the thread (within
// ~100 ms), then closes every socket. An owner whose hooks use its own members
// declares its EpollServer last, so the thread starts after those members are built
// and stops before they are destroyed.
//
// Thread-safety: Port() and Accepted() from any thread; a Conn only on the server
// thread (in the hooks).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

namespace outflow::bench {

template <typename State>
class EpollServer {
 public:
  struct Conn {
    std::string in;                   // read, not yet consumed by on_input
    std::string out;                  // to be written; what the socket did not take stays here
    bool close_when_flushed = false;  // close once `out` is written (e.g. after SMTP QUIT)
    State state;                      // the protocol's own, per connection
    bool want_out = false;            // the server's: EPOLLOUT is on
  };
  using Hook = std::function<void(Conn&)>;

  // `name` prefixes the error if the socket cannot be bound.
  EpollServer(const char* name, Hook on_input, Hook on_accept = {})
      : on_input_(std::move(on_input)), on_accept_(std::move(on_accept)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listen_fd_, 1024) != 0) {
      std::perror(name);
      std::exit(1);
    }
    socklen_t len = sizeof a;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listen_fd_;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, listen_fd_, &ev);
    thread_ = std::thread([this] { Run(); });
  }
  ~EpollServer() {
    stop_ = true;
    thread_.join();
    for (auto& [fd, c] : conns_) close(fd);
    close(listen_fd_);
    close(epoll_);
  }
  EpollServer(const EpollServer&) = delete;
  EpollServer& operator=(const EpollServer&) = delete;

  int Port() const { return port_; }
  int64_t Accepted() const { return accepted_.load(); }  // TCP connections accepted

 private:
  void Run() {
    epoll_event events[256];
    while (!stop_) {
      int n = epoll_wait(epoll_, events, 256, 100);
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == listen_fd_) {
          Accept();
          continue;
        }
        auto it = conns_.find(fd);
        if (it == conns_.end()) continue;
        if ((events[i].events & EPOLLOUT) && !Flush(fd, it->second)) continue;
        if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) OnReadable(fd, it->second);
      }
    }
  }

  void Accept() {
    for (int c; (c = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
      int one = 1;
      setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = c;
      epoll_ctl(epoll_, EPOLL_CTL_ADD, c, &ev);
      Conn& conn = conns_[c];
      ++accepted_;
      if (on_accept_) {
        on_accept_(conn);
        Flush(c, conn);
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
    if (c.out.empty() && c.close_when_flushed) {
      Close(fd);
      return false;
    }
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
    on_input_(c);
    if (!Flush(fd, c)) return;
    if (closed) Close(fd);
  }

  const Hook on_input_;
  const Hook on_accept_;
  int listen_fd_ = -1;
  int epoll_ = -1;
  int port_ = 0;
  std::unordered_map<int, Conn> conns_;  // the server thread's only
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> accepted_{0};
  std::thread thread_;
};

}  // namespace outflow::bench
