// What opening a store did to its schema. Schema versions are 1, 2, 3, ...; a
// store refuses a database whose version is newer than its build knows.
#pragma once

#include <string>
#include <vector>

namespace outflow {

struct MigrationReport {
  int from_version = 0;
  int to_version = 0;
  std::vector<std::string> applied;  // "2 add_x"
};

}  // namespace outflow
