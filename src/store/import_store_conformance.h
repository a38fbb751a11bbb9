// The ImportStore conformance suite (import_store_conformance_test.cc): the
// contract of store/import_store.h as tests that every implementation passes,
// instantiated with the StoreSet factory of its database (see store_set.h).
#pragma once

#include <string>
#include <vector>

#include "store/store_set.h"

namespace outflow {

class ImportStoreConformance : public StoreSetTest {
 protected:
  // Opens the stores and records an import, validated and running.
  void SetUp() override;
  // A batch from byte `from` to `to` of one contact per email.
  static ImportBatch Batch(uint64_t from, uint64_t to, std::vector<std::string> emails);

  Import im_;
};

}  // namespace outflow
