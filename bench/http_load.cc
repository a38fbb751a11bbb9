// http_load: an open-loop HTTP/1.1 load generator, to benchmark `POST /v1/messages`
// of the real `outflow serve` daemon (bench/messages_bench.py runs it).
//
//   http_load --host 127.0.0.1 --port P --path /v1/messages --rate R --seconds S
//             --connections C --body-file F [--header "Name: value"]...
//   http_load ... --paths-file F     (GET requests instead: one path per line)
//
// Open loop: request i is due at t0 + i/R, whatever the server does. At its due time
// it goes out on any idle keep-alive connection (up to C, all opened before t0); if
// none is idle it waits in a FIFO queue and goes out as soon as one frees up. Latency
// is measured from the DUE time to the complete response, not from the time it was
// written, so a server that falls behind shows it in the figures (no coordinated
// omission). A closed-loop client (one request at a time per connection, as
// messages_bench.py had in Python) measures only 1 / latency per connection.
//
// One thread, epoll over non-blocking sockets (TCP_NODELAY), a timerfd for the
// schedule. Every request is a POST with `Content-Type: application/json` and one
// line of the body file as its body (request i gets line i % lines); with
// --paths-file, a GET of one line of that file (e.g. /v1/contacts/17). Responses are
// parsed properly (status line, headers, a Content-Length, chunked or until-close
// body). A connection the server closes is reopened; a request whose response did not
// come complete on it counts as an error.
//
// Bounded: S seconds of schedule, then at most 30 s for the last responses (else the
// run stops with a message on stderr and exit status 1). Talks only to --host.
//
// Output, one JSON object on stdout at the end:
//   {"scheduled", "sent", "completed", "status": {"202": n, ...}, "errors",
//    "seconds" (t0 to the last response), "accepted_per_s" (2xx / seconds),
//    "p50_ms", "p90_ms", "p99_ms", "max_ms"}   (percentiles over completed requests)
// stderr stays quiet unless something goes wrong.
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr int64_t kNsPerSec = 1'000'000'000;
constexpr int64_t kDrainNs = 30 * kNsPerSec;    // after the schedule, for the last responses
constexpr int64_t kConnectNs = 10 * kNsPerSec;  // to open the connections before t0
constexpr size_t kMaxHead = 64 * 1024;          // a response head larger than this is malformed
constexpr uint64_t kTimerFd = ~uint64_t{0};     // epoll data of the timerfd (connections: index)

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "http_load: %s\n", what.c_str());
  std::exit(2);
}

// The steady clock (CLOCK_MONOTONIC, the clock of the timerfd), in nanoseconds.
int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * kNsPerSec + ts.tv_nsec;
}

// ---------------------------------------------------------------------------
// Command line and requests.

struct Options {
  std::string host;
  int port = 0;
  std::string path = "/v1/messages";
  double rate = 0;
  double seconds = 0;
  int connections = 64;
  std::string body_file;
  std::string paths_file;
  std::vector<std::string> headers;
};

void Usage() {
  std::fprintf(stderr,
               "usage: http_load --host H --port P [--path /v1/messages] --rate R --seconds S\n"
               "                 [--connections 64] (--body-file F | --paths-file F) [--header \"Name: value\"]...\n");
  std::exit(2);
}

double ParseNumber(const std::string& flag, const char* text) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0' || !std::isfinite(v)) Die(flag + ": not a number: " + text);
  return v;
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") Usage();
    if (i + 1 >= argc) Die(flag + ": missing value (or unknown flag)");
    const char* v = argv[++i];
    if (flag == "--host")
      o.host = v;
    else if (flag == "--port")
      o.port = static_cast<int>(ParseNumber(flag, v));
    else if (flag == "--path")
      o.path = v;
    else if (flag == "--rate")
      o.rate = ParseNumber(flag, v);
    else if (flag == "--seconds")
      o.seconds = ParseNumber(flag, v);
    else if (flag == "--connections")
      o.connections = static_cast<int>(ParseNumber(flag, v));
    else if (flag == "--body-file")
      o.body_file = v;
    else if (flag == "--paths-file")
      o.paths_file = v;
    else if (flag == "--header")
      o.headers.emplace_back(v);
    else
      Die("unknown flag " + flag);
  }
  if (o.host.empty() || o.body_file.empty() == o.paths_file.empty()) Usage();
  if (o.port < 1 || o.port > 65535) Die("--port: out of range");
  if (!(o.rate > 0) || !(o.seconds > 0)) Die("--rate and --seconds must be positive");
  if (o.connections < 1 || o.connections > 10000) Die("--connections: 1 to 10000");
  if (o.path.empty() || o.path[0] != '/') Die("--path must start with /");
  for (const std::string& h : o.headers) {
    if (h.find(':') == std::string::npos || h.find_first_of("\r\n") != std::string::npos) {
      Die("--header must be \"Name: value\" on one line: " + h);
    }
  }
  return o;
}

// One complete request per non-empty line of the body file (a POST with that body)
// or of the paths file (a GET of that path).
std::vector<std::string> BuildRequests(const Options& o) {
  const bool get = !o.paths_file.empty();
  const std::string& file = get ? o.paths_file : o.body_file;
  std::ifstream in(file, std::ios::binary);
  if (!in) Die("cannot read " + file);
  std::string host = "Host: " + o.host + ":" + std::to_string(o.port) + "\r\n";
  for (const std::string& h : o.headers) host += h + "\r\n";
  std::vector<std::string> requests;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (get) {
      if (line[0] != '/' || line.find_first_of(" \t") != std::string::npos) Die(file + ": not a path: " + line);
      requests.push_back("GET " + line + " HTTP/1.1\r\n" + host + "\r\n");
    } else {
      requests.push_back("POST " + o.path + " HTTP/1.1\r\n" + host + "Content-Type: application/json\r\n" +
                         "Content-Length: " + std::to_string(line.size()) + "\r\n\r\n" + line);
    }
  }
  if (requests.empty()) Die(file + ": no requests (one per line)");
  return requests;
}

// ---------------------------------------------------------------------------
// Response parser: incremental, one response at a time (requests are not pipelined).

bool SameLetter(char x, char y) {
  return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), SameLetter);
}

bool IContains(std::string_view haystack, std::string_view needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(), SameLetter) != haystack.end();
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

class ResponseParser {
 public:
  enum class Result { kNeedMore, kDone, kBad };

  // Consumes what it can from the front of `in`. kDone once the response is complete
  // (then status() and must_close() hold; Reset() before the next one).
  Result Feed(std::string& in) {
    size_t pos = 0;
    Result r = Result::kNeedMore;
    while (r == Result::kNeedMore) {
      const size_t before = pos;
      r = Step(in, pos);
      if (r == Result::kNeedMore && pos == before) break;
    }
    in.erase(0, pos);
    return r;
  }
  // The server closed the connection: completes a body that runs until close.
  bool FinishAtEof() {
    if (part_ != Part::kUntilClose) return false;
    part_ = Part::kDone;
    return true;
  }
  void Reset() { *this = ResponseParser(); }
  int status() const { return status_; }
  bool must_close() const { return close_; }  // the server closes the connection after it

 private:
  enum class Part { kHead, kBody, kChunkSize, kChunkData, kChunkEnd, kTrailer, kUntilClose, kDone };

  Result Step(const std::string& in, size_t& pos) {
    switch (part_) {
      case Part::kHead: return Head(in, pos);
      case Part::kBody: return Body(in, pos);
      case Part::kChunkSize: return ChunkSize(in, pos);
      case Part::kChunkData: return ChunkData(in, pos);
      case Part::kChunkEnd: return ChunkEnd(in, pos);
      case Part::kTrailer: return Trailer(in, pos);
      case Part::kUntilClose: pos = in.size(); return Result::kNeedMore;
      case Part::kDone: return Result::kDone;
    }
    return Result::kBad;
  }

  Result Head(const std::string& in, size_t& pos) {
    const size_t end = in.find("\r\n\r\n", pos);
    if (end == std::string::npos) return in.size() - pos > kMaxHead ? Result::kBad : Result::kNeedMore;
    const std::string_view head(in.data() + pos, end - pos);
    pos = end + 4;
    if (!ParseHead(head)) return Result::kBad;
    if (status_ < 200) {  // 1xx: an interim response, the real one follows
      Reset();
      return Result::kNeedMore;
    }
    return StartBody();
  }

  bool ParseHead(std::string_view head) {
    size_t eol = head.find("\r\n");
    const std::string_view status_line = head.substr(0, eol);
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ') return false;
    status_ = 0;
    for (char c : status_line.substr(9, 3)) {
      if (c < '0' || c > '9') return false;
      status_ = status_ * 10 + (c - '0');
    }
    bool keep_alive = status_line[7] == '1';  // HTTP/1.1 keeps the connection by default, 1.0 does not
    while (eol != std::string_view::npos) {
      const size_t start = eol + 2;
      eol = head.find("\r\n", start);
      const std::string_view line = head.substr(start, eol == std::string_view::npos ? eol : eol - start);
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) return false;
      if (!Header(Trim(line.substr(0, colon)), Trim(line.substr(colon + 1)), keep_alive)) return false;
    }
    close_ = !keep_alive;
    return true;
  }

  bool Header(std::string_view name, std::string_view value, bool& keep_alive) {
    if (IEquals(name, "content-length")) {
      if (value.empty() || value.size() > 15) return false;
      content_length_ = 0;
      for (char c : value) {
        if (c < '0' || c > '9') return false;
        content_length_ = content_length_ * 10 + static_cast<size_t>(c - '0');
      }
    } else if (IEquals(name, "transfer-encoding")) {
      chunked_ = IContains(value, "chunked");
    } else if (IEquals(name, "connection")) {
      if (IContains(value, "close")) keep_alive = false;
      if (IContains(value, "keep-alive")) keep_alive = true;
    }
    return true;
  }

  Result StartBody() {
    if (status_ == 204 || status_ == 304) return Done();
    if (chunked_) {
      part_ = Part::kChunkSize;
    } else if (content_length_ != kUnknown) {
      remaining_ = content_length_;
      part_ = Part::kBody;
    } else {
      close_ = true;  // no length: the body runs until the server closes
      part_ = Part::kUntilClose;
    }
    return Result::kNeedMore;
  }

  Result Body(const std::string& in, size_t& pos) {
    Take(in, pos);
    return remaining_ == 0 ? Done() : Result::kNeedMore;
  }

  Result ChunkSize(const std::string& in, size_t& pos) {
    const size_t eol = in.find("\r\n", pos);
    if (eol == std::string::npos) return in.size() - pos > 1024 ? Result::kBad : Result::kNeedMore;
    const std::string_view line(in.data() + pos, eol - pos);
    pos = eol + 2;
    size_t size = 0, digits = 0;
    for (char c : line.substr(0, line.find(';'))) {
      const int d = HexDigit(c);
      if (d < 0 || ++digits > 15) return Result::kBad;
      size = size * 16 + static_cast<size_t>(d);
    }
    if (digits == 0) return Result::kBad;
    remaining_ = size;
    part_ = size == 0 ? Part::kTrailer : Part::kChunkData;
    return Result::kNeedMore;
  }

  Result ChunkData(const std::string& in, size_t& pos) {
    Take(in, pos);
    if (remaining_ == 0) part_ = Part::kChunkEnd;
    return Result::kNeedMore;
  }

  Result ChunkEnd(const std::string& in, size_t& pos) {
    if (in.size() - pos < 2) return Result::kNeedMore;
    if (in.compare(pos, 2, "\r\n") != 0) return Result::kBad;
    pos += 2;
    part_ = Part::kChunkSize;
    return Result::kNeedMore;
  }

  Result Trailer(const std::string& in, size_t& pos) {  // trailer lines up to an empty one
    const size_t eol = in.find("\r\n", pos);
    if (eol == std::string::npos) return in.size() - pos > kMaxHead ? Result::kBad : Result::kNeedMore;
    const bool last = eol == pos;
    pos = eol + 2;
    return last ? Done() : Result::kNeedMore;
  }

  void Take(const std::string& in, size_t& pos) {
    const size_t n = std::min(remaining_, in.size() - pos);
    pos += n;
    remaining_ -= n;
  }

  Result Done() {
    part_ = Part::kDone;
    return Result::kDone;
  }

  static constexpr size_t kUnknown = ~size_t{0};
  Part part_ = Part::kHead;
  int status_ = 0;
  bool close_ = false;
  bool chunked_ = false;
  size_t content_length_ = kUnknown;
  size_t remaining_ = 0;
};

// ---------------------------------------------------------------------------
// The load generator.

struct Stats {
  int64_t sent = 0;
  int64_t completed = 0;
  int64_t errors = 0;
  int64_t ok = 0;  // 2xx
  std::map<int, int64_t> status;
  std::vector<int64_t> latency_ns;
  int64_t last_response_ns = 0;
};

class LoadGenerator {
 public:
  LoadGenerator(const Options& o, std::vector<std::string> requests)
      : o_(o), requests_(std::move(requests)), conns_(static_cast<size_t>(o.connections)) {
    scheduled_ = static_cast<int64_t>(std::floor(o.rate * o.seconds + 1e-9));
    stats_.latency_ns.reserve(static_cast<size_t>(scheduled_));
    Resolve();
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    timer_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (epoll_ < 0 || timer_ < 0) Die(std::string("epoll/timerfd: ") + std::strerror(errno));
    Watch(timer_, EPOLL_CTL_ADD, EPOLLIN, kTimerFd);
  }

  // Opens the connections, runs the schedule and waits for the responses. False if the
  // run had to stop (the reason is on stderr); the stats hold what was measured.
  bool Run() {
    for (size_t i = 0; i < conns_.size(); ++i) Open(i);
    const int64_t connect_deadline = NowNs() + kConnectNs;
    while (!failed_ && connected_ < conns_.size()) {
      if (NowNs() > connect_deadline) return Fail("connections not open after 10 s");
      Poll(100);
    }
    t0_ = NowNs();
    const int64_t drain_deadline = t0_ + static_cast<int64_t>(o_.seconds * kNsPerSec) + kDrainNs;
    while (!failed_) {
      const int64_t now = NowNs();
      EnqueueDue(now);
      Dispatch();
      if (next_ == scheduled_ && queue_.empty() && in_flight_ == 0) return true;
      if (now > drain_deadline) return Fail("responses not complete 30 s after the end of the schedule");
      ArmTimer();
      Poll(next_ < scheduled_ ? -1 : static_cast<int>((drain_deadline - now) / 1'000'000 + 1));
    }
    return false;
  }

  void PrintJson() const;

 private:
  enum class State { kConnecting, kIdle, kBusy };
  struct Conn {
    int fd = -1;
    State state = State::kConnecting;
    const std::string* out = nullptr;  // the request being written
    size_t written = 0;
    int64_t due_ns = 0;  // of the request in flight
    bool want_out = false;
    std::string in;
    ResponseParser parser;
  };

  void Resolve() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const int rc = getaddrinfo(o_.host.c_str(), std::to_string(o_.port).c_str(), &hints, &res);
    if (rc != 0) Die(o_.host + ": " + gai_strerror(rc));
    std::memcpy(&addr_, res->ai_addr, res->ai_addrlen);
    addr_len_ = res->ai_addrlen;
    freeaddrinfo(res);
  }

  void Watch(int fd, int op, uint32_t events, uint64_t data) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = data;
    if (epoll_ctl(epoll_, op, fd, &ev) != 0) Die(std::string("epoll_ctl: ") + std::strerror(errno));
  }

  void SetWantOut(size_t i, bool want) {
    Conn& c = conns_[i];
    if (c.want_out == want) return;
    c.want_out = want;
    Watch(c.fd, EPOLL_CTL_MOD, EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0u), i);
  }

  // A new non-blocking connection in slot i (completed in OnConnected).
  void Open(size_t i) {
    Conn& c = conns_[i];
    c = Conn{};
    c.fd = socket(addr_.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) Die(std::string("socket: ") + std::strerror(errno));
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c.fd, reinterpret_cast<const sockaddr*>(&addr_), addr_len_) != 0 && errno != EINPROGRESS) {
      Fail(std::string("connect: ") + std::strerror(errno));
    }
    c.want_out = true;
    Watch(c.fd, EPOLL_CTL_ADD, EPOLLIN | EPOLLRDHUP | EPOLLOUT, i);
  }

  // Closes slot i and opens it again. A request in flight on it gets no response.
  void Reopen(size_t i) {
    Conn& c = conns_[i];
    if (c.state == State::kBusy) {
      ++stats_.errors;
      --in_flight_;
    }
    if (c.state != State::kConnecting) --connected_;
    const auto idle = std::find(idle_.begin(), idle_.end(), i);
    if (idle != idle_.end()) idle_.erase(idle);
    close(c.fd);
    Open(i);
  }

  void OnConnected(size_t i) {
    Conn& c = conns_[i];
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      Fail(std::string("connect to ") + o_.host + ":" + std::to_string(o_.port) + ": " + std::strerror(err));
      return;
    }
    ++connected_;
    SetWantOut(i, false);
    MakeIdle(i);
  }

  void MakeIdle(size_t i) {
    conns_[i].state = State::kIdle;
    idle_.push_back(i);
  }

  // Every request whose due time has come joins the queue.
  void EnqueueDue(int64_t now) {
    while (next_ < scheduled_ && DueNs(next_) <= now) queue_.push_back(next_++);
  }

  int64_t DueNs(int64_t k) const {
    return t0_ + static_cast<int64_t>(std::llround(static_cast<double>(k) * kNsPerSec / o_.rate));
  }

  // Queued requests, oldest first, on idle connections (least recently used first).
  void Dispatch() {
    while (!queue_.empty() && !idle_.empty() && !failed_) {
      const int64_t k = queue_.front();
      queue_.pop_front();
      const size_t i = idle_.front();
      idle_.pop_front();
      Conn& c = conns_[i];
      c.state = State::kBusy;
      c.out = &requests_[static_cast<size_t>(k) % requests_.size()];
      c.written = 0;
      c.due_ns = DueNs(k);
      c.parser.Reset();
      ++stats_.sent;
      ++in_flight_;
      Write(i);
    }
  }

  void Write(size_t i) {
    Conn& c = conns_[i];
    while (c.out != nullptr && c.written < c.out->size()) {
      const ssize_t n = send(c.fd, c.out->data() + c.written, c.out->size() - c.written, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return SetWantOut(i, true);
      if (n < 0) return Reopen(i);  // the server closed it: counted as an error
      c.written += static_cast<size_t>(n);
    }
    c.out = nullptr;
    SetWantOut(i, false);
  }

  // Reads what is there; completes the response in flight when it is all in.
  void Read(size_t i) {
    Conn& c = conns_[i];
    bool eof = false;
    char buf[65536];
    for (;;) {
      const ssize_t n = recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        c.in.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      eof = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
      break;
    }
    const int64_t now = NowNs();
    if (c.state != State::kBusy) {  // closed while idle, or bytes nobody asked for
      if (eof || !c.in.empty()) Reopen(i);
      return;
    }
    const ResponseParser::Result r = c.parser.Feed(c.in);
    if (r == ResponseParser::Result::kBad) {
      Warn("malformed response; connection reopened");
      return Reopen(i);
    }
    if (r == ResponseParser::Result::kDone || (eof && c.parser.FinishAtEof())) return Complete(i, now, eof);
    if (eof) Reopen(i);
  }

  void Complete(size_t i, int64_t now, bool eof) {
    Conn& c = conns_[i];
    const int status = c.parser.status();
    ++stats_.completed;
    ++stats_.status[status];
    if (status >= 200 && status < 300) ++stats_.ok;
    stats_.latency_ns.push_back(now - c.due_ns);
    stats_.last_response_ns = now;
    --in_flight_;
    c.state = State::kIdle;  // nothing in flight: reopening counts no error
    if (eof || c.parser.must_close() || !c.in.empty() || c.out != nullptr) return Reopen(i);
    idle_.push_back(i);
  }

  // Waits up to timeout_ms (-1: until something happens) and handles what happened.
  void Poll(int timeout_ms) {
    epoll_event events[256];
    const int n = epoll_wait(epoll_, events, 256, timeout_ms);
    if (n < 0 && errno != EINTR) Die(std::string("epoll_wait: ") + std::strerror(errno));
    for (int e = 0; e < n; ++e) {
      if (events[e].data.u64 == kTimerFd) {
        uint64_t expirations;
        [[maybe_unused]] ssize_t r = read(timer_, &expirations, sizeof expirations);
        continue;
      }
      const size_t i = events[e].data.u64;
      const uint32_t ev = events[e].events;
      if (conns_[i].state == State::kConnecting) {
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) OnConnected(i);
        continue;
      }
      if (ev & EPOLLOUT) Write(i);
      if (conns_[i].state == State::kConnecting) continue;  // Write reopened it
      if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) Read(i);
    }
  }

  // The timerfd fires at the due time of the next request not yet queued.
  void ArmTimer() {
    if (next_ >= scheduled_ || armed_for_ == next_) return;
    const int64_t due = DueNs(next_);
    itimerspec spec{};
    spec.it_value.tv_sec = due / kNsPerSec;
    spec.it_value.tv_nsec = due % kNsPerSec;
    if (timerfd_settime(timer_, TFD_TIMER_ABSTIME, &spec, nullptr) != 0) Die("timerfd_settime");
    armed_for_ = next_;
  }

  bool Fail(const std::string& why) {
    if (!failed_) Warn(why);  // the first reason only
    failed_ = true;
    return false;
  }

  void Warn(const std::string& what) const { std::fprintf(stderr, "http_load: %s\n", what.c_str()); }

  const Options& o_;
  const std::vector<std::string> requests_;
  sockaddr_storage addr_{};
  socklen_t addr_len_ = 0;
  int epoll_ = -1;
  int timer_ = -1;
  std::vector<Conn> conns_;
  std::deque<size_t> idle_;
  std::deque<int64_t> queue_;  // due, not yet sent (FIFO)
  size_t connected_ = 0;
  int64_t in_flight_ = 0;
  int64_t scheduled_ = 0;
  int64_t next_ = 0;  // the next request to become due
  int64_t armed_for_ = -1;
  int64_t t0_ = 0;
  bool failed_ = false;
  Stats stats_;
};

// Nearest-rank percentile of sorted latencies, in milliseconds.
std::string PercentileMs(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return "null";
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(sorted[std::max<size_t>(rank, 1) - 1]) / 1e6);
  return buf;
}

void LoadGenerator::PrintJson() const {
  std::vector<int64_t> lat = stats_.latency_ns;
  std::sort(lat.begin(), lat.end());
  // Requests still in flight when a run stops got no response: errors too.
  const int64_t errors = stats_.errors + in_flight_;
  const double seconds = stats_.completed > 0 ? static_cast<double>(stats_.last_response_ns - t0_) / 1e9 : 0;
  std::string status;
  for (const auto& [code, n] : stats_.status) {
    status += (status.empty() ? "\"" : ", \"") + std::to_string(code) + "\": " + std::to_string(n);
  }
  std::printf(
      "{\"scheduled\": %lld, \"sent\": %lld, \"completed\": %lld, \"status\": {%s}, \"errors\": %lld, "
      "\"seconds\": %.3f, \"accepted_per_s\": %.1f, \"p50_ms\": %s, \"p90_ms\": %s, \"p99_ms\": %s, \"max_ms\": %s}\n",
      static_cast<long long>(scheduled_), static_cast<long long>(stats_.sent), static_cast<long long>(stats_.completed),
      status.c_str(), static_cast<long long>(errors), seconds,
      seconds > 0 ? static_cast<double>(stats_.ok) / seconds : 0.0, PercentileMs(lat, 0.50).c_str(),
      PercentileMs(lat, 0.90).c_str(), PercentileMs(lat, 0.99).c_str(), PercentileMs(lat, 1.0).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = ParseArgs(argc, argv);
  std::vector<std::string> requests = BuildRequests(o);
  prctl(PR_SET_TIMERSLACK, 1UL);  // wake at the due times, not up to 50 us after
  LoadGenerator gen(o, std::move(requests));
  const bool ok = gen.Run();
  gen.PrintJson();
  return ok ? 0 : 1;
}
