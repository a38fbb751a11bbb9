#include "auth/cli_key_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "auth/api_keys.h"

namespace outflow::auth {

namespace {

bool Works(KeyStore& keys, const std::string& path, Timestamp now) {
  Result<std::string> text = ReadKeyFile(path);
  if (!text.ok()) return false;
  Result<ApiKey> key = VerifyKey(keys, *text);
  return key.ok() && key->ActiveAt(now) && key->role == Role::kAdmin;
}

Status WriteFile0600(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Unavailable("cannot create " + tmp + ": " + std::strerror(errno));
  const std::string line = text + "\n";
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written || ::rename(tmp.c_str(), path.c_str()) != 0) {
    Status st = Status::Unavailable("cannot write " + path + ": " + std::strerror(errno));
    ::unlink(tmp.c_str());
    return st;
  }
  return Status::Ok();
}

}  // namespace

Status EnsureCliKey(KeyStore& keys, const std::string& path, Timestamp now) {
  if (Works(keys, path, now)) return Status::Ok();
  OUTFLOW_ASSIGN_OR_RETURN(CreatedKey made,
                           CreateKey(keys, NewKeySpec{.name = "local cli", .role = Role::kAdmin}, now));
  return WriteFile0600(path, made.secret);
}

Result<std::string> ReadKeyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    const int err = errno;
    if (err == ENOENT) return Status::NotFound(path + " does not exist");
    return Status::FailedPrecondition("cannot read " + path + ": " + std::strerror(err));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  return s.substr(start);
}

}  // namespace outflow::auth
