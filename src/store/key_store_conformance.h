// The KeyStore conformance suite (key_store_conformance_test.cc): the contract of
// store/key_store.h as tests that every implementation passes, instantiated with
// a factory that opens the store in a directory (see sqlite_key_store_test.cc).
// Opening twice on one directory gives two independent handles on one database,
// as two processes (a daemon and `outflow key revoke`) have.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "store/key_store.h"
#include "testing/temp_dir.h"

namespace outflow {

struct KeyStoreFactory {
  std::string name;
  // The store and what keeps it alive.
  std::function<Result<std::shared_ptr<KeyStore>>(const std::string& dir, Timestamp now)> open;
};

inline std::string PrintToString(const KeyStoreFactory& f) {
  return f.name;
}

class KeyStoreConformance : public ::testing::TestWithParam<KeyStoreFactory> {
 protected:
  static constexpr Timestamp kT0 = Timestamp(std::chrono::microseconds(1'800'000'000'000'000));
  void SetUp() override;
  std::shared_ptr<KeyStore> Open();
  // A stored key with this lookup and role.
  ApiKey Make(const std::string& lookup, Role role = Role::kEditor);

  testing::TempDir dir_;
  std::shared_ptr<KeyStore> keys_;
};

}  // namespace outflow
