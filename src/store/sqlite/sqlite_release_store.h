// SqliteReleaseStore: the ReleaseStore over the embedded SQLite database; a
// release shares the writer and the dynamic segment cache with the other stores.
#pragma once

#include <memory>

#include "store/release_store.h"

namespace outflow {

namespace sqlite {
class Database;
class DynamicSegments;
}  // namespace sqlite

class SqliteReleaseStore final : public ReleaseStore {
 public:
  SqliteReleaseStore(std::shared_ptr<sqlite::Database> db, std::shared_ptr<sqlite::DynamicSegments> segments);
  ~SqliteReleaseStore() override;
  using ReleaseStore::Create;
  using ReleaseStore::Update;
  Result<ReleasePlan> Create(const ReleasePlan& plan, const JobFn& slot_job, Timestamp now) override;
  Result<ReleasePlan> Get(ReleasePlanId id) override;
  Result<std::vector<ReleasePlan>> List() override;
  Result<ReleasePlan> SetState(ReleasePlanId id, std::vector<ReleaseState> from, ReleaseState to,
                               std::optional<Timestamp> next_slot, const JobFn& slot_job, Timestamp now) override;
  Result<ReleasePlan> Update(const ReleasePlan& plan, const NextSlotFn& next_slot, const JobFn& slot_job,
                             Timestamp now) override;
  Status Reschedule(ReleasePlanId id, Timestamp slot, Timestamp next_slot, Timestamp now) override;
  Result<int64_t> ReleaseSlot(ReleasePlanId id, Timestamp slot, int64_t limit, Timestamp next_slot,
                              Timestamp now) override;
  Result<std::vector<ReleaseLogEntry>> Log(ReleasePlanId id, int limit) override;
  Result<int64_t> StagedCount() override;

 private:
  std::shared_ptr<sqlite::Database> db_;
  std::shared_ptr<sqlite::DynamicSegments> segments_;
};

}  // namespace outflow
