// A TCP socket listening on 127.0.0.1 on a free port, for tests whose peer must
// misbehave in a way a real server will not (never answer, count connections).
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace outflow::testing {

// The listening socket, its port in `port`; on failure a test failure and the
// socket as it is (close it all the same).
inline int ListenOnLoopback(uint16_t& port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(fd, 16) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ADD_FAILURE() << "cannot listen on 127.0.0.1";
    return fd;
  }
  port = ntohs(a.sin_port);
  return fd;
}

}  // namespace outflow::testing
