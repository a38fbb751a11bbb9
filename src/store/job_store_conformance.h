// The JobStore conformance suite (job_store_conformance_test.cc): every JobStore
// implementation instantiates it with a factory that opens a store in a fresh
// directory, or reopens the one already there.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "store/job_store.h"
#include "testing/temp_dir.h"

namespace outflow {

struct StoreFactory {
  std::string name;
  std::function<Result<std::unique_ptr<JobStore>>(const std::string& dir, Timestamp now)> open;
};

inline std::string PrintToString(const StoreFactory& f) {
  return f.name;
}

class JobStoreConformance : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override;
  // Closes the store and opens it again on the same directory.
  void Reopen();
  std::vector<JobId> EnqueueAt(std::initializer_list<int> due_seconds);
  int64_t Count(JobState s);

  testing::TempDir dir_;
  std::unique_ptr<JobStore> store_;
};

}  // namespace outflow
