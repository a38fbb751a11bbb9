// The UserStore conformance suite (user_store_conformance_test.cc): the contract of
// store/user_store.h as tests that every implementation passes, instantiated with
// a factory that opens the store in a directory (see sqlite_user_store_test.cc).
// Opening twice on one directory gives two independent handles on one database,
// as two processes (a daemon and `outflow user create`) have.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "store/user_store.h"
#include "testing/temp_dir.h"

namespace outflow {

struct UserStoreFactory {
  std::string name;
  std::function<Result<std::shared_ptr<UserStore>>(const std::string& dir, Timestamp now)> open;
};

inline std::string PrintToString(const UserStoreFactory& f) {
  return f.name;
}

class UserStoreConformance : public ::testing::TestWithParam<UserStoreFactory> {
 protected:
  static constexpr Timestamp kT0 = Timestamp(std::chrono::microseconds(1'800'000'000'000'000));
  void SetUp() override;
  std::shared_ptr<UserStore> Open();
  User Make(const std::string& email, Role role = Role::kEditor);
  Session MakeSession(const std::string& hash, UserId user);

  testing::TempDir dir_;
  std::shared_ptr<UserStore> users_;
};

}  // namespace outflow
