#include "store/sqlite/sqlite_segment_store.h"

#include <gtest/gtest.h>

#include "store/segment_store_conformance.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace outflow {
namespace {

INSTANTIATE_TEST_SUITE_P(Sqlite, SegmentStoreConformance,
                         ::testing::Values(SegmentStoreFactory{
                             "sqlite", 3,
                             [](const std::string& dir, int chunk, Timestamp now) -> Result<SegmentStores> {
                               SqliteOptions o;
                               o.segment_fill_chunk = chunk;
                               auto s = SqliteStores::Open(dir + "/outflow.db", o, now);
                               if (!s.ok()) return s.status();
                               std::shared_ptr<SqliteStores> owner = std::move(s).value();
                               return SegmentStores{owner, &owner->segments(), &owner->contacts(), &owner->jobs()};
                             }}),
                         [](const ::testing::TestParamInfo<SegmentStoreFactory>& p) { return p.param.name; });

const Timestamp kT0 = FromMicros(1'800'000'000'000'000);

Filter TierIs(std::string tier) {
  Filter f;
  f.kind = Filter::Kind::kCondition;
  f.condition = {"tier", FilterOp::kEquals, {std::move(tier)}};
  return f;
}

Contact Person(std::string email, std::string tier) {
  Contact c;
  c.email = std::move(email);
  c.tier = std::move(tier);
  return c;
}

class SegmentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteStores::Open(dir_.File("outflow.db"), {}, kT0);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    stores_ = std::move(s).value();
  }
  std::vector<std::pair<int64_t, bool>> EventsFor(SegmentId seg) {
    std::vector<std::pair<int64_t, bool>> out;
    Result<std::vector<MembershipEvent>> events = stores_->segments().Events(0, 1000);
    EXPECT_TRUE(events.ok());
    if (!events.ok()) return out;
    for (const MembershipEvent& e : *events) {
      if (e.segment == seg) out.emplace_back(e.contact.value(), e.joined);
    }
    return out;
  }
  testing::TempDir dir_;
  std::unique_ptr<SqliteStores> stores_;
};

TEST_F(SegmentStoreTest, ReleasePlanChangeCountsFromASlotThatRanAfterTheCallerReadThePlan) {
  for (std::string email : {"s@x.io", "t@x.io"}) {  // two: the plan stays active after one slot
    Contact staged = Person(email, "pro");
    staged.status = ContactStatus::kStaged;
    ASSERT_OK(stores_->contacts().Create(staged, kT0).status());
  }
  ReleasePlan plan;
  plan.name = "warm-up";
  plan.per_slot = 1;
  plan.interval_seconds = 60;
  plan.started_at = plan.next_slot_at = kT0;
  ASSERT_OK_AND_ASSIGN(ReleasePlan created, stores_->releases().Create(plan, kT0));
  ReleasePlan read = created;  // the caller reads the plan: next slot at kT0 ...
  // ... then the kT0 slot runs and moves the next slot to kT0 + 60 s.
  ASSERT_OK(stores_->releases().ReleaseSlot(created.id, kT0, 1, kT0 + std::chrono::seconds(60), kT0).status());
  read.interval_seconds = 120;
  std::optional<Timestamp> seen;
  ASSERT_OK_AND_ASSIGN(ReleasePlan changed, stores_->releases().Update(read, [&](const ReleasePlan& stored) {
    seen = stored.next_slot_at;
    return stored.next_slot_at - std::chrono::seconds(stored.interval_seconds) + std::chrono::seconds(120);
  }, kT0));
  EXPECT_EQ(seen, kT0 + std::chrono::seconds(60)) << "given the plan as stored, not as the caller read it";
  EXPECT_EQ(changed.next_slot_at, kT0 + std::chrono::seconds(120)) << "120 s after the slot that ran at kT0";
  EXPECT_EQ(changed.interval_seconds, 120);
}

TEST_F(SegmentStoreTest, ImportBatchesKeepMembershipsToo) {
  Segment pro{SegmentId(), "Pro", SegmentKind::kDynamic, TierIs("pro"), 0, {}, {}};
  ASSERT_OK_AND_ASSIGN(Segment seg, stores_->segments().Create(pro, kT0));
  Import im;
  im.file_name = "x.csv";
  im.file_path = "/nonexistent";
  ASSERT_OK_AND_ASSIGN(Import created, stores_->imports().Create(im, kT0));
  ASSERT_OK(stores_->imports().SetState(created.id, ImportState::kQueued, ImportState::kValidating, kT0));
  created.state = ImportState::kValidating;
  ASSERT_OK(stores_->imports().SetValidated(created, kT0));
  ImportBatch b;
  b.contacts = {Person("a@x.io", "pro"), Person("b@x.io", "free")};
  b.contact_rows = {2, 3};
  b.rows_read = 2;
  b.last = true;
  ASSERT_OK(stores_->imports().CommitBatch(created.id, b, ExistingPolicy::kUpdate, kT0));
  EXPECT_EQ(stores_->segments().Get(seg.id)->member_count, 1);
}

TEST_F(SegmentStoreTest, ABatchThatCreatesAndThenChangesAContactLogsEachMembershipChangeOnce) {
  Segment pro{SegmentId(), "Pro", SegmentKind::kDynamic, TierIs("pro"), 0, {}, {}};
  ASSERT_OK_AND_ASSIGN(Segment seg, stores_->segments().Create(pro, kT0));
  // e joins when created and leaves when its second row makes it free; f joins; g never.
  std::vector<Contact> batch = {Person("e@x.io", "pro"), Person("f@x.io", "pro"), Person("e@x.io", "free"),
                                Person("g@x.io", "free"), Person("f@x.io", "pro")};
  ASSERT_OK_AND_ASSIGN(auto outcomes, stores_->contacts().UpsertBatch(batch, ExistingPolicy::kUpdate, kT0));
  ASSERT_EQ(outcomes.size(), 5u);
  const int64_t e = outcomes[0].id.value(), f = outcomes[1].id.value();
  EXPECT_EQ(EventsFor(seg.id), (std::vector<std::pair<int64_t, bool>>{{e, true}, {f, true}, {e, false}}));
  ASSERT_OK_AND_ASSIGN(Segment after, stores_->segments().Get(seg.id));
  EXPECT_EQ(after.member_count, 1);
  ASSERT_OK_AND_ASSIGN(MemberPage members, stores_->segments().Members(seg.id, ContactId(), 10));
  EXPECT_EQ(members.contacts, std::vector<ContactId>{ContactId(f)});
}

}  // namespace
}  // namespace outflow
