// SmtpSink: a minimal but correct SMTP server (RFC 5321) for the benchmarks, on
// 127.0.0.1 (an ephemeral port). It accepts every message and keeps nothing but
// counts, so that a benchmark measures the sender, not the server (the Python
// aiosmtpd sink in tests/smtp/ writes two files per message and tops out at
// ~1,500 messages/s).
//
// One epoll thread (epoll_server.h), started by the constructor and joined by the
// destructor. Sessions stay open across messages (libcurl reuses them: the next
// message is a new MAIL FROM on the same session) until the client sends QUIT or
// closes.
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

#include <strings.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "epoll_server.h"

namespace outflow::bench {

class SmtpSink {
 public:
  SmtpSink() = default;
  SmtpSink(const SmtpSink&) = delete;
  SmtpSink& operator=(const SmtpSink&) = delete;

  int Port() const { return server_.Port(); }
  int64_t Messages() const { return messages_.load(); }           // accepted (250 after DATA)
  int64_t Recipients() const { return recipients_.load(); }       // of accepted messages
  int64_t MessageBytes() const { return message_bytes_.load(); }  // after dot-unstuffing, CRLFs included
  int64_t Sessions() const { return server_.Accepted(); }         // TCP connections accepted
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
    Phase phase = Phase::kConnected;
    int rcpts = 0;
    int64_t bytes = 0;     // of the message being received
    bool discard = false;  // inside a command line that was too long: drop up to its LF
  };
  using Server = EpollServer<Session>;  // QUIT sets the connection's close_when_flushed

  static constexpr size_t kMaxCommandLine = 512;  // RFC 5321 4.5.3.1.4, CRLF included
  static constexpr int kMaxRecipients = 1000;

  static void Greet(Server::Conn& c) { c.out = "220 localhost ESMTP outflow bench sink\r\n"; }

  // Answers every complete line at the front of c.in, in order, up to QUIT.
  void OnInput(Server::Conn& c) {
    Session& s = c.state;
    size_t pos = 0;
    while (!c.close_when_flushed) {
      const char* nl = static_cast<const char*>(std::memchr(c.in.data() + pos, '\n', c.in.size() - pos));
      if (nl == nullptr) {
        if (s.phase != Phase::kData && c.in.size() - pos > kMaxCommandLine) {
          if (!s.discard) Reply(c, "500 5.5.6 Line too long\r\n", true);
          s.discard = true;  // the rest of the line is dropped when it arrives
          pos = c.in.size();
        }
        break;
      }
      size_t end = static_cast<size_t>(nl - c.in.data()) + 1;  // past the LF
      std::string_view line(c.in.data() + pos, end - pos);
      pos = end;
      if (s.discard) {
        s.discard = false;
        continue;
      }
      if (s.phase == Phase::kData) {
        DataLine(c, line);
      } else {
        Command(c, line);
      }
    }
    c.in.erase(0, pos);
  }

  static std::string_view Chomp(std::string_view line) {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  }

  void Reply(Server::Conn& c, std::string_view text, bool error = false) {
    c.out.append(text);
    if (error) errors_.fetch_add(1, std::memory_order_relaxed);
  }

  void DataLine(Server::Conn& c, std::string_view line) {
    Session& s = c.state;
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
      Reply(c, "250 2.0.0 Ok: queued\r\n");
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

  void Command(Server::Conn& c, std::string_view raw) {
    Session& s = c.state;
    if (raw.size() > kMaxCommandLine) {
      Reply(c, "500 5.5.6 Line too long\r\n", true);
      return;
    }
    std::string_view line = Chomp(raw);
    std::string_view rest;
    if (Verb(line, "EHLO", &rest) || Verb(line, "HELO", &rest)) {
      if (rest.empty()) {
        Reply(c, "501 5.5.4 Syntax: EHLO hostname\r\n", true);
        return;
      }
      s.phase = Phase::kGreeted;  // EHLO also resets any transaction (RFC 5321 4.1.4)
      s.rcpts = 0;
      if (line[0] == 'E' || line[0] == 'e') {
        Reply(c, "250-localhost\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
      } else {
        Reply(c, "250 localhost\r\n");
      }
    } else if (Verb(line, "MAIL", &rest)) {
      if (s.phase == Phase::kConnected) {
        Reply(c, "503 5.5.1 Error: send HELO/EHLO first\r\n", true);
      } else if (s.phase != Phase::kGreeted) {
        Reply(c, "503 5.5.1 Error: nested MAIL command\r\n", true);
      } else if (!Path(rest, "FROM:")) {
        Reply(c, "501 5.5.4 Syntax: MAIL FROM:<address>\r\n", true);
      } else {
        s.phase = Phase::kMail;
        s.rcpts = 0;
        Reply(c, "250 2.1.0 Ok\r\n");
      }
    } else if (Verb(line, "RCPT", &rest)) {
      if (s.phase != Phase::kMail && s.phase != Phase::kRcpt) {
        Reply(c, "503 5.5.1 Error: need MAIL command\r\n", true);
      } else if (!Path(rest, "TO:")) {
        Reply(c, "501 5.5.4 Syntax: RCPT TO:<address>\r\n", true);
      } else if (s.rcpts >= kMaxRecipients) {
        Reply(c, "452 4.5.3 Error: too many recipients\r\n");
      } else {
        s.phase = Phase::kRcpt;
        ++s.rcpts;
        Reply(c, "250 2.1.5 Ok\r\n");
      }
    } else if (Verb(line, "DATA", &rest)) {
      if (!rest.empty()) {
        Reply(c, "501 5.5.4 Syntax: DATA\r\n", true);
      } else if (s.phase != Phase::kRcpt) {
        Reply(c,
              s.phase == Phase::kMail ? "554 5.5.1 Error: no valid recipients\r\n"
                                      : "503 5.5.1 Error: need RCPT command\r\n",
              true);
      } else {
        s.phase = Phase::kData;
        s.bytes = 0;
        Reply(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
      }
    } else if (Verb(line, "RSET")) {
      if (s.phase != Phase::kConnected) s.phase = Phase::kGreeted;
      s.rcpts = 0;
      Reply(c, "250 2.0.0 Ok\r\n");
    } else if (Verb(line, "NOOP", &rest)) {
      Reply(c, "250 2.0.0 Ok\r\n");
    } else if (Verb(line, "VRFY", &rest)) {
      Reply(c, "252 2.0.0 Cannot VRFY user, but will accept message\r\n");
    } else if (Verb(line, "HELP", &rest)) {
      Reply(c, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP VRFY HELP QUIT\r\n");
    } else if (Verb(line, "QUIT")) {
      Reply(c, "221 2.0.0 Bye\r\n");
      c.close_when_flushed = true;
    } else {
      Reply(c, "502 5.5.2 Error: command not recognized\r\n", true);
    }
  }

  std::atomic<int64_t> messages_{0};
  std::atomic<int64_t> recipients_{0};
  std::atomic<int64_t> message_bytes_{0};
  std::atomic<int64_t> errors_{0};
  std::atomic<int64_t> first_us_{0};
  std::atomic<int64_t> last_us_{0};
  // Last: its thread calls the hooks, so it starts after and stops before the above.
  Server server_{"smtp sink", [this](Server::Conn& c) { OnInput(c); }, &SmtpSink::Greet};
};

}  // namespace outflow::bench
