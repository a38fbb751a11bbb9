// `outflow secrets rotate`: a new secret key for the data directory
// (docs/secrets.md "Rotation"). Works on the key file and the database directly,
// also while a daemon runs: the daemon takes the new key when it next meets a value
// sealed with it, or within a second for its own new values.
#pragma once

#include <memory>
#include <optional>

namespace CLI {
class App;
}

namespace outflow::cli {

class SecretsCommands {
 public:
  // Adds the `secrets` command to `app`. REQUIRES: this object outlives app.parse() and Run().
  explicit SecretsCommands(CLI::App& app);
  ~SecretsCommands();
  SecretsCommands(const SecretsCommands&) = delete;
  SecretsCommands& operator=(const SecretsCommands&) = delete;
  // After app.parse(): the exit code, or nullopt when `secrets` was not given.
  std::optional<int> Run();

  struct State;

 private:
  std::unique_ptr<State> s_;
};

}  // namespace outflow::cli
