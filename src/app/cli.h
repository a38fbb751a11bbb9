// The `outflow` command line: subcommands, their flags, and exit codes that
// scripts can rely on (docs/api.md):
//   0 ok · 1 internal error · 2 usage error · 3 invalid input (HTTP 400)
//   4 not found (404) · 5 conflict (409) · 6 unavailable (daemon unreachable,
//   503, data directory in use, address in use) · 7 refused to start on this
//   database (corrupt, or written by a newer Outflow) · 8 not allowed: no valid
//   API key (HTTP 401) or a role too low (403)
#pragma once

namespace outflow {

enum ExitCode {
  kExitOk = 0,
  kExitInternal = 1,
  kExitUsage = 2,
  kExitInvalid = 3,
  kExitNotFound = 4,
  kExitConflict = 5,
  kExitUnavailable = 6,
  kExitBadDatabase = 7,
  kExitDenied = 8,
};

int RunCli(int argc, char** argv);

}  // namespace outflow
