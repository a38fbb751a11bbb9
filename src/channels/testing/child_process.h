// Test-only: runs a helper server (a Python fake) as a child process that the test
// cannot leak. The child gets a pipe as stdin and is expected to exit when it
// closes (the destructor closes it, and so does the kernel if the test dies);
// its stdout is a pipe the test reads lines from (e.g. the port it listens on);
// its stderr is the test's. Used by smtp_sender_test and http_provider_sender_test.
//
// Every wait is bounded: ReadLine by its timeout, the destructor by 10 s before
// it kills the child. Thread-safety: one thread at a time.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

extern char** environ;

#ifndef OUTFLOW_SOURCE_DIR
#error "OUTFLOW_SOURCE_DIR must be defined (the path of the source tree)"
#endif
#ifndef OUTFLOW_PYTHON
#define OUTFLOW_PYTHON "/usr/bin/python3"
#endif

namespace outflow::channels::test_support {

// The argv that runs a Python script of the source tree (path relative to its root).
inline std::vector<std::string> PythonScriptArgv(const std::string& relative_path) {
  return {OUTFLOW_PYTHON, std::string(OUTFLOW_SOURCE_DIR) + "/" + relative_path};
}

class ChildProcess {
 public:
  // Starts argv[0] (a path) with the arguments. Returns nullopt and writes why
  // into *error when it cannot start.
  static std::optional<ChildProcess> Start(const std::vector<std::string>& argv, std::string* error) {
    int in[2];
    int out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
      *error = std::string("pipe2: ") + std::strerror(errno);
      return std::nullopt;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (rc != 0) {
      close(in[1]);
      close(out[0]);
      *error = "posix_spawn " + argv[0] + ": " + std::strerror(rc);
      return std::nullopt;
    }
    return ChildProcess(pid, in[1], out[0]);
  }

  ChildProcess(ChildProcess&& o) noexcept
      : pid_(o.pid_), stdin_(o.stdin_), stdout_(o.stdout_), buffer_(std::move(o.buffer_)) {
    o.pid_ = -1;
    o.stdin_ = -1;
    o.stdout_ = -1;
  }
  ChildProcess& operator=(ChildProcess&& o) noexcept {
    if (this != &o) {
      Stop();
      std::swap(pid_, o.pid_);
      std::swap(stdin_, o.stdin_);
      std::swap(stdout_, o.stdout_);
      std::swap(buffer_, o.buffer_);
    }
    return *this;
  }
  ChildProcess(const ChildProcess&) = delete;

  ~ChildProcess() { Stop(); }

  // One line of the child's stdout without the newline; nullopt on EOF or when
  // no full line came within `timeout`.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{stdout_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[512];
      ssize_t n = read(stdout_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  // Closes the child's stdin and waits (at most 10 s, then SIGKILL) for it to exit.
  void Stop() {
    if (stdin_ >= 0) close(stdin_);
    stdin_ = -1;
    if (pid_ > 0) {
      int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
      bool exited = false;
      if (pidfd >= 0) {
        pollfd p{pidfd, POLLIN, 0};
        exited = poll(&p, 1, 10'000) == 1;
        close(pidfd);
      }
      if (!exited) kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
    }
    if (stdout_ >= 0) close(stdout_);
    stdout_ = -1;
  }

  pid_t Pid() const { return pid_; }

 private:
  ChildProcess(pid_t pid, int in, int out) : pid_(pid), stdin_(in), stdout_(out) {}

  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  std::string buffer_;
};

}  // namespace outflow::channels::test_support
