#include <exception>
#include <iostream>

#include "app/cli.h"

int main(int argc, char** argv) {
  try {
    return outflow::RunCli(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "outflow: internal error: " << e.what() << "\n";
    return outflow::kExitInternal;
  }
}
