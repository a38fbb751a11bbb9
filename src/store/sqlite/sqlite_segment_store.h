// SqliteSegmentStore: the SegmentStore over the embedded SQLite database,
// sharing its writer and its dynamic segment cache with the contact and import
// stores (which keep memberships in step on every contact write). Passes run in
// chunks of at most SqliteOptions::segment_fill_chunk contacts (fewer while a chunk
// holds the writer longer than SqliteOptions::chunk_hold). Thread-safe.
#pragma once

#include <memory>

#include "base/adaptive_batch.h"
#include "store/segment_store.h"

namespace outflow {

namespace sqlite {
class Database;
class DynamicSegments;
}  // namespace sqlite

class SqliteSegmentStore final : public SegmentStore {
 public:
  SqliteSegmentStore(std::shared_ptr<sqlite::Database> db, std::shared_ptr<sqlite::DynamicSegments> segments);
  ~SqliteSegmentStore() override;

  Result<Segment> Create(const Segment& segment, Timestamp now, const SegmentJobsFn& jobs_for = {}) override;
  Result<Segment> Get(SegmentId id) override;
  Result<std::optional<Segment>> FindByName(std::string_view name) override;
  Result<std::vector<Segment>> List() override;
  Status Delete(SegmentId id) override;
  Result<MemberPage> Members(SegmentId id, ContactId after, int limit) override;
  Result<int64_t> AddMembers(SegmentId id, std::span<const ContactId> contacts, Timestamp now) override;
  Result<int64_t> RemoveMembers(SegmentId id, std::span<const ContactId> contacts, Timestamp now) override;
  Result<std::vector<SegmentId>> SegmentsOf(ContactId contact) override;
  Result<FillProgress> Refresh(SegmentId id, Timestamp now, const SegmentJobsFn& jobs_for = {}) override;
  Result<FillProgress> FillChunk(SegmentId id, Timestamp now) override;
  Result<std::vector<MembershipEvent>> Events(int64_t after_id, int limit) override;

 private:
  std::shared_ptr<sqlite::Database> db_;
  AdaptiveBatch fill_batch_;  // contacts per fill or refresh chunk
  std::shared_ptr<sqlite::DynamicSegments> segments_;
};

}  // namespace outflow
