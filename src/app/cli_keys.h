// `outflow key create | list | revoke`: API keys, managed on the data directory's
// database directly (no daemon needed; beside a running one, SQLite's WAL lets
// both in). `key create` prints the key once, alone on its last line of output.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>

namespace outflow::cli {

class KeyCommands {
 public:
  // Adds the `key` command to `app`. REQUIRES: this object outlives app.parse() and Run().
  explicit KeyCommands(CLI::App& app);
  ~KeyCommands();
  KeyCommands(const KeyCommands&) = delete;
  KeyCommands& operator=(const KeyCommands&) = delete;
  // After app.parse(): the exit code of the verb given, or nullopt if `key` was not.
  std::optional<int> Run();

  struct State;

 private:
  std::unique_ptr<State> s_;
};

}  // namespace outflow::cli
