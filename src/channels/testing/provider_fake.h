// Test-only: tests/fakes/provider_fake.py, a real HTTP server on 127.0.0.1 with
// fake WhatsApp Cloud API, Twilio and custom endpoints, started per test (as a
// ChildProcess) and stopped by closing its stdin, with its control endpoints. The
// fake records every request to a JSONL file before it replies, so a test reads
// what was sent as soon as its call returns. Used by http_provider_sender_test and
// webhook_handler_test. Thread-safety: one thread at a time.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "channels/testing/child_process.h"
#include "testing/temp_dir.h"

namespace outflow::channels::test_support {

// One plain HTTP/1.0 exchange with the fake's control endpoints (Connection: close).
inline std::pair<int, std::string> HttpCall(int port, const std::string& method, const std::string& path,
                                            const std::string& body = "") {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return {0, "connect failed"};
  }
  std::string req = method + " " + path +
                    " HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\n\r\n" + body;
  (void)!write(fd, req.data(), req.size());
  std::string resp;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) break;  // bounded
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  if (resp.size() < 12) return {0, resp};
  size_t split = resp.find("\r\n\r\n");
  return {std::stoi(resp.substr(9, 3)), split == std::string::npos ? "" : resp.substr(split + 4)};
}

class Fake {
 public:
  explicit Fake(std::vector<std::string> flags = {}) {
    std::vector<std::string> argv = test_support::PythonScriptArgv("tests/fakes/provider_fake.py");
    argv.insert(argv.end(), {"--record", dir_.File("requests.jsonl")});
    argv.insert(argv.end(), flags.begin(), flags.end());
    std::string error;
    child_ = ChildProcess::Start(argv, &error);
    if (!child_) {
      ADD_FAILURE() << error;
      return;
    }
    std::optional<std::string> line = child_->ReadLine(std::chrono::seconds(30));
    if (!line || line->empty()) {
      ADD_FAILURE() << "the provider fake did not print its port";
      return;
    }
    port_ = std::stoi(*line);
  }

  bool Ok() const { return port_ > 0; }
  std::string Base() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void Control(const std::string& body) {
    auto [status, reply] = HttpCall(port_, "POST", "/_control", body);
    ASSERT_EQ(status, 200) << reply;
  }
  boost::json::object Stats() {
    auto [status, reply] = HttpCall(port_, "GET", "/_stats");
    EXPECT_EQ(status, 200);
    return status == 200 ? boost::json::parse(reply).as_object() : boost::json::object();
  }
  std::vector<boost::json::object> Requests() const {
    std::vector<boost::json::object> out;
    std::ifstream in(dir_.File("requests.jsonl"));
    for (std::string line; std::getline(in, line);) out.push_back(boost::json::parse(line).as_object());
    return out;
  }

 private:
  outflow::testing::TempDir dir_;
  std::optional<ChildProcess> child_;
  int port_ = 0;
};

}  // namespace outflow::channels::test_support
