// SmtpSink: a minimal but correct SMTP server (RFC 5321) for the benchmarks, on
// 127.0.0.1 (an ephemeral port). It accepts every message and keeps nothing but
// counts, so that a benchmark measures the sender, not the server (the Python
// aiosmtpd sink in tests/smtp/ writes two files per message and tops out at
// ~1,500 messages/s).
//
// One epoll thread, started by the constructor and joined by the destructor.
// Sessions stay open across messages (libcurl reuses them: the next message is a
// new MAIL FROM on the same session) until the client sends QUIT or closes.
//
// What it speaks:
//   greeting   220
//   EHLO d     250, advertising PIPELINING and 8BITMIME; HELO d: 250
//   MAIL FROM:<a> [params]     250 (503 before EHLO/HELO or inside a transaction)
//   RCPT TO:<a> [params]       250 (503 before MAIL; 452 past 1,000 recipients)
//   DATA       354, then the message up to a line holding only "." (dot-stuffing
//              undone: a leading "." of any other line is dropped), then 250
//              (503 without a recipient); the transaction then ends
//   RSET       250, ends the transaction; NOOP 250; VRFY 252; HELP 214
//   QUIT       221, then closes
//   anything else 502; a MAIL/RCPT without <...> 501; a command line over 512
//   octets 500. Lines may end in CRLF or a bare LF. Commands may be pipelined: each
//   gets its reply in order, and replies to one read go out in one write.
//
// Thread-safety: the counters and times may be read from any thread while the
// server runs; ResetTimes only between runs.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

namespace outflow::bench {

class SmtpSink {
 public:
  SmtpSink() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listen_fd_, 1024) != 0) {
      std::perror("smtp sink");
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
  ~SmtpSink() {
    stop_ = true;
    thread_.join();
    for (auto& [fd, s] : sessions_) close(fd);
    close(listen_fd_);
    close(epoll_);
  }
  SmtpSink(const SmtpSink&) = delete;
  SmtpSink& operator=(const SmtpSink&) = delete;

  int Port() const { return port_; }
  int64_t Messages() const { return messages_.load(); }           // accepted (250 after DATA)
  int64_t Recipients() const { return recipients_.load(); }       // of accepted messages
  int64_t MessageBytes() const { return message_bytes_.load(); }  // after dot-unstuffing, CRLFs included
  int64_t Sessions() const { return sessions_opened_.load(); }    // TCP connections accepted
  int64_t Errors() const { return errors_.load(); }               // 5xx replies sent
  // When the first / latest message since ResetTimes() was accepted, in
  // microseconds since the Unix epoch (system clock); 0 if none yet.
  int64_t FirstMessageMicros() const { return first_us_.load(); }
  int64_t LastMessageMicros() const { return last_us_.load(); }
  // REQUIRES: no message in flight (between runs).
  void ResetTimes() {
    first_us_ = 0;
    last_us_ = 0;
  }

 private:
  enum class Phase { kConnected, kGreeted, kMail, kRcpt, kData };
  struct Session {
    std::string in;
    std::string out;
    Phase phase = Phase::kConnected;
    int rcpts = 0;
    int64_t bytes = 0;  // of the message being received
    bool quit = false;
    bool want_out = false;
    bool discard = false;  // inside a command line that was too long: drop up to its LF
  };

  static constexpr size_t kMaxCommandLine = 512;  // RFC 5321 4.5.3.1.4, CRLF included
  static constexpr int kMaxRecipients = 1000;

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
        auto it = sessions_.find(fd);
        if (it == sessions_.end()) continue;
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
      Session& s = sessions_[c];
      ++sessions_opened_;
      s.out = "220 localhost ESMTP outflow bench sink\r\n";
      Flush(c, s);
    }
  }

  void Close(int fd) {
    epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    sessions_.erase(fd);
  }

  // Writes what is pending; false when the session was closed.
  bool Flush(int fd, Session& s) {
    size_t off = 0;
    while (off < s.out.size()) {
      ssize_t w = write(fd, s.out.data() + off, s.out.size() - off);
      if (w > 0) {
        off += static_cast<size_t>(w);
        continue;
      }
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      Close(fd);
      return false;
    }
    s.out.erase(0, off);
    if (s.out.empty() && s.quit) {
      Close(fd);
      return false;
    }
    bool want = !s.out.empty();
    if (want != s.want_out) {
      epoll_event ev{};
      ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
      ev.data.fd = fd;
      epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &ev);
      s.want_out = want;
    }
    return true;
  }

  void OnReadable(int fd, Session& s) {
    char buf[65536];
    bool closed = false;
    for (;;) {
      ssize_t r = read(fd, buf, sizeof buf);
      if (r > 0) {
        s.in.append(buf, static_cast<size_t>(r));
        if (static_cast<size_t>(r) < sizeof buf) break;
        continue;
      }
      if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) closed = true;
      break;
    }
    size_t pos = 0;
    while (!s.quit) {
      const char* nl = static_cast<const char*>(std::memchr(s.in.data() + pos, '\n', s.in.size() - pos));
      if (nl == nullptr) {
        if (s.phase != Phase::kData && s.in.size() - pos > kMaxCommandLine) {
          if (!s.discard) Reply(s, "500 5.5.6 Line too long\r\n", true);
          s.discard = true;  // the rest of the line is dropped when it arrives
          pos = s.in.size();
        }
        break;
      }
      size_t end = static_cast<size_t>(nl - s.in.data()) + 1;  // past the LF
      std::string_view line(s.in.data() + pos, end - pos);
      pos = end;
      if (s.discard) {
        s.discard = false;
        continue;
      }
      if (s.phase == Phase::kData) {
        DataLine(s, line);
      } else {
        Command(s, line);
      }
    }
    s.in.erase(0, pos);
    if (!Flush(fd, s)) return;
    if (closed) Close(fd);
  }

  static std::string_view Chomp(std::string_view line) {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  }

  void Reply(Session& s, std::string_view text, bool error = false) {
    s.out.append(text);
    if (error) errors_.fetch_add(1, std::memory_order_relaxed);
  }

  void DataLine(Session& s, std::string_view line) {
    std::string_view content = Chomp(line);
    if (content == ".") {
      const int64_t now_us =
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count();
      if (first_us_.load(std::memory_order_relaxed) == 0) first_us_.store(now_us);
      last_us_.store(now_us, std::memory_order_relaxed);
      messages_.fetch_add(1, std::memory_order_relaxed);
      recipients_.fetch_add(s.rcpts, std::memory_order_relaxed);
      message_bytes_.fetch_add(s.bytes, std::memory_order_relaxed);
      s.phase = Phase::kGreeted;
      s.rcpts = 0;
      s.bytes = 0;
      Reply(s, "250 2.0.0 Ok: queued\r\n");
      return;
    }
    // Dot-stuffing: a line that starts with "." had one added by the client.
    s.bytes += static_cast<int64_t>(line.size()) - (!line.empty() && line.front() == '.' ? 1 : 0);
  }

  // Whether `line` starts with the verb `verb` (case-insensitive), followed by the
  // end of the line or a space; `rest` gets what follows.
  static bool Verb(std::string_view line, std::string_view verb, std::string_view* rest = nullptr) {
    if (line.size() < verb.size() || strncasecmp(line.data(), verb.data(), verb.size()) != 0) return false;
    if (line.size() > verb.size() && line[verb.size()] != ' ') return false;
    if (rest != nullptr) *rest = line.substr(std::min(line.size(), verb.size() + 1));
    return true;
  }
  // "FROM:<a> params" / "TO:<a>": the keyword, then a path in angle brackets.
  static bool Path(std::string_view rest, std::string_view keyword) {
    if (rest.size() < keyword.size() || strncasecmp(rest.data(), keyword.data(), keyword.size()) != 0) return false;
    rest.remove_prefix(keyword.size());
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    return !rest.empty() && rest.front() == '<' && rest.find('>') != std::string_view::npos;
  }

  void Command(Session& s, std::string_view raw) {
    if (raw.size() > kMaxCommandLine) {
      Reply(s, "500 5.5.6 Line too long\r\n", true);
      return;
    }
    std::string_view line = Chomp(raw);
    std::string_view rest;
    if (Verb(line, "EHLO", &rest) || Verb(line, "HELO", &rest)) {
      if (rest.empty()) {
        Reply(s, "501 5.5.4 Syntax: EHLO hostname\r\n", true);
        return;
      }
      s.phase = Phase::kGreeted;  // EHLO also resets any transaction (RFC 5321 4.1.4)
      s.rcpts = 0;
      if (line[0] == 'E' || line[0] == 'e') {
        Reply(s, "250-localhost\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
      } else {
        Reply(s, "250 localhost\r\n");
      }
    } else if (Verb(line, "MAIL", &rest)) {
      if (s.phase == Phase::kConnected) {
        Reply(s, "503 5.5.1 Error: send HELO/EHLO first\r\n", true);
      } else if (s.phase != Phase::kGreeted) {
        Reply(s, "503 5.5.1 Error: nested MAIL command\r\n", true);
      } else if (!Path(rest, "FROM:")) {
        Reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>\r\n", true);
      } else {
        s.phase = Phase::kMail;
        s.rcpts = 0;
        Reply(s, "250 2.1.0 Ok\r\n");
      }
    } else if (Verb(line, "RCPT", &rest)) {
      if (s.phase != Phase::kMail && s.phase != Phase::kRcpt) {
        Reply(s, "503 5.5.1 Error: need MAIL command\r\n", true);
      } else if (!Path(rest, "TO:")) {
        Reply(s, "501 5.5.4 Syntax: RCPT TO:<address>\r\n", true);
      } else if (s.rcpts >= kMaxRecipients) {
        Reply(s, "452 4.5.3 Error: too many recipients\r\n");
      } else {
        s.phase = Phase::kRcpt;
        ++s.rcpts;
        Reply(s, "250 2.1.5 Ok\r\n");
      }
    } else if (Verb(line, "DATA", &rest)) {
      if (!rest.empty()) {
        Reply(s, "501 5.5.4 Syntax: DATA\r\n", true);
      } else if (s.phase != Phase::kRcpt) {
        Reply(s,
              s.phase == Phase::kMail ? "554 5.5.1 Error: no valid recipients\r\n"
                                      : "503 5.5.1 Error: need RCPT command\r\n",
              true);
      } else {
        s.phase = Phase::kData;
        s.bytes = 0;
        Reply(s, "354 End data with <CR><LF>.<CR><LF>\r\n");
      }
    } else if (Verb(line, "RSET")) {
      if (s.phase != Phase::kConnected) s.phase = Phase::kGreeted;
      s.rcpts = 0;
      Reply(s, "250 2.0.0 Ok\r\n");
    } else if (Verb(line, "NOOP", &rest)) {
      Reply(s, "250 2.0.0 Ok\r\n");
    } else if (Verb(line, "VRFY", &rest)) {
      Reply(s, "252 2.0.0 Cannot VRFY user, but will accept message\r\n");
    } else if (Verb(line, "HELP", &rest)) {
      Reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP VRFY HELP QUIT\r\n");
    } else if (Verb(line, "QUIT")) {
      Reply(s, "221 2.0.0 Bye\r\n");
      s.quit = true;
    } else {
      Reply(s, "502 5.5.2 Error: command not recognized\r\n", true);
    }
  }

  int listen_fd_ = -1;
  int epoll_ = -1;
  int port_ = 0;
  std::unordered_map<int, Session> sessions_;  // the server thread's only
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> messages_{0};
  std::atomic<int64_t> recipients_{0};
  std::atomic<int64_t> message_bytes_{0};
  std::atomic<int64_t> sessions_opened_{0};
  std::atomic<int64_t> errors_{0};
  std::atomic<int64_t> first_us_{0};
  std::atomic<int64_t> last_us_{0};
  std::thread thread_;
};

}  // namespace outflow::bench
