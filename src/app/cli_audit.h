// `outflow audit`: reads the audit log through the API (GET /v1/audit, admin
// only), newest first, with its filters; --all follows every page.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace outflow::cli {

class AuditCommands {
 public:
  // Adds the `audit` command to `app`. REQUIRES: this object outlives app.parse() and Run().
  explicit AuditCommands(CLI::App& app);
  ~AuditCommands();
  AuditCommands(const AuditCommands&) = delete;
  AuditCommands& operator=(const AuditCommands&) = delete;
  // After app.parse(): the exit code, or nullopt when `audit` was not given.
  // `api_key()` is asked once, when the command runs.
  std::optional<int> Run(const std::function<std::string()>& api_key);

  struct State;

 private:
  std::unique_ptr<State> s_;
};

}  // namespace outflow::cli
