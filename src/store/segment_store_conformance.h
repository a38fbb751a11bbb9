// The SegmentStore conformance suite (segment_store_conformance_test.cc): every
// SegmentStore implementation instantiates it with a factory that opens, on a
// fresh directory (or the one already there), a segment store with the contact
// and job stores of the same database, its passes cut into chunks of `chunk`
// contacts (small, so that the tests see passes span several chunks).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "store/contact_store.h"
#include "store/job_store.h"
#include "store/segment_store.h"
#include "testing/temp_dir.h"

namespace outflow {

struct SegmentStores {
  std::shared_ptr<void> owner;  // keeps the three alive
  SegmentStore* segments = nullptr;
  ContactStore* contacts = nullptr;
  JobStore* jobs = nullptr;
};

struct SegmentStoreFactory {
  std::string name;
  int chunk = 3;  // contacts per chunk of a pass, as the factory opens the store
  std::function<Result<SegmentStores>(const std::string& dir, int chunk, Timestamp now)> open;
};

inline std::string PrintToString(const SegmentStoreFactory& f) {
  return f.name;
}

class SegmentStoreConformance : public ::testing::TestWithParam<SegmentStoreFactory> {
 protected:
  void SetUp() override { Reopen(); }
  // Closes the stores and opens them again on the same directory (a restart).
  void Reopen();
  SegmentStore& segments() { return *stores_.segments; }
  ContactStore& contacts() { return *stores_.contacts; }
  JobStore& jobs() { return *stores_.jobs; }
  int chunk() const { return GetParam().chunk; }

  testing::TempDir dir_;
  SegmentStores stores_;
};

}  // namespace outflow
