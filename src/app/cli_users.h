// `outflow user create | list | setup-link | unlock`: web UI users, managed on the
// data directory's database directly (no daemon needed; beside a running one,
// SQLite's WAL lets both in). `user create` and `user setup-link` print the
// one-time setup link alone on the last line of output; the link's host is
// --public-url (OUTFLOW_PUBLIC_URL, default http://127.0.0.1:8080), which should
// be where the daemon is reached.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>

namespace outflow::cli {

class UserCommands {
 public:
  // Adds the `user` command to `app`. REQUIRES: this object outlives app.parse() and Run().
  explicit UserCommands(CLI::App& app);
  ~UserCommands();
  UserCommands(const UserCommands&) = delete;
  UserCommands& operator=(const UserCommands&) = delete;
  // After app.parse(): the exit code of the verb given, or nullopt if `user` was not.
  std::optional<int> Run();

  struct State;

 private:
  std::unique_ptr<State> s_;
};

}  // namespace outflow::cli
