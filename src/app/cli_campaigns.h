// The `account`, `template` and `campaign` commands of the command line. Each
// verb is one or more calls to the REST API (api/campaigns_api.h); the flags and
// output are described in docs/api.md (CLI).
//
//   account  create | list | get | update | verify
//   template create | list | get | update | preview
//   campaign create | list | get | schedule | pause | resume | cancel | retry-failed | recipients
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace outflow::cli {

class CampaignCommands {
 public:
  // Adds the three commands to `app`. REQUIRES: this object outlives app.parse() and Run().
  explicit CampaignCommands(CLI::App& app);
  ~CampaignCommands();
  CampaignCommands(const CampaignCommands&) = delete;
  CampaignCommands& operator=(const CampaignCommands&) = delete;

  // After app.parse(): runs the verb that was given and returns its exit code
  // (cli.h), or nullopt when none of these commands was given. `api_key()` is
  // asked once, when a command runs; its key goes with every call (none if empty).
  std::optional<int> Run(const std::function<std::string()>& api_key);

  struct State;  // the parsed flags (cli_campaigns.cc)

 private:
  std::unique_ptr<State> s_;
};

}  // namespace outflow::cli
