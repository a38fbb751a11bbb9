// The AuditStore conformance suite (audit_store_conformance_test.cc): the contract
// of store/audit_store.h as tests that every implementation passes, instantiated
// with a factory that opens the store in a directory (see
// sqlite/sqlite_audit_store_test.cc). Opening twice on one directory gives two
// independent handles on one database, as two processes (a daemon and an
// `outflow key create`) have.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "store/audit_store.h"
#include "testing/temp_dir.h"

namespace outflow {

struct AuditStoreFactory {
  std::string name;
  // The store and what keeps it alive.
  std::function<Result<std::shared_ptr<AuditStore>>(const std::string& dir, Timestamp now)> open;
};

inline std::string PrintToString(const AuditStoreFactory& f) {
  return f.name;
}

class AuditStoreConformance : public ::testing::TestWithParam<AuditStoreFactory> {
 protected:
  static constexpr Timestamp kT0 = Timestamp(std::chrono::microseconds(1'800'000'000'000'000));
  void SetUp() override;
  std::shared_ptr<AuditStore> Open();
  // An entry by `actor` on `object_type` `object_id`, at kT0 + `seconds`.
  static AuditEntry Entry(const std::string& actor, const std::string& action, const std::string& object_id,
                          int seconds = 0);

  testing::TempDir dir_;
  std::shared_ptr<AuditStore> audit_;
};

}  // namespace outflow
