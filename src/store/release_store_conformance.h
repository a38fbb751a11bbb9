// The ReleaseStore conformance suite (release_store_conformance_test.cc): the
// contract of store/release_store.h as tests that every implementation passes,
// instantiated with the StoreSet factory of its database (see store_set.h).
#pragma once

#include <string>

#include "store/store_set.h"

namespace outflow {

class ReleaseStoreConformance : public StoreSetTest {
 protected:
  // Stages `n` contacts (s0@x.io, s1@x.io, ...), oldest first.
  void Stage(int n);
  // An active plan of `per_slot` a minute, first slot at kT0 (none: no job).
  ReleasePlan NewPlan(const std::string& name, int64_t per_slot, const ReleaseStore::JobFn& slot_job = {});
  // The slot job of a plan as written: key "slot-<id>-<micros>".
  static Result<JobSpec> SlotJob(const ReleasePlan& p);
  static std::string SlotKey(const ReleasePlan& p, Timestamp slot);
  int64_t Staged();

  int staged_ = 0;
};

}  // namespace outflow
