#include "store/sqlite/sqlite_segment_store.h"

#include <gtest/gtest.h>

#include "store/sqlite/sqlite_store.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace outflow {
namespace {

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

TEST_F(SegmentStoreTest, DynamicMembershipFollowsEveryContactWrite) {
  ASSERT_OK_AND_ASSIGN(Contact a, stores_->contacts().Create(Person("a@x.io", "pro"), kT0));
  ASSERT_OK_AND_ASSIGN(Contact b, stores_->contacts().Create(Person("b@x.io", "free"), kT0));
  Segment pro{SegmentId(), "Pro", SegmentKind::kDynamic, TierIs("pro"), 0, {}, {}};
  ASSERT_OK_AND_ASSIGN(Segment seg, stores_->segments().Create(pro, kT0));
  EXPECT_EQ(seg.member_count, 1) << "populated from the existing contacts";
  // update: b joins, a leaves
  ASSERT_OK(stores_->contacts().Update(b.id, [](Contact& c) { c.tier = "pro"; return Status::Ok(); }, kT0));
  ASSERT_OK(stores_->contacts().Update(a.id, [](Contact& c) { c.tier = "free"; return Status::Ok(); }, kT0));
  // create and upsert: c joins; an upsert of b that keeps it pro changes nothing
  ASSERT_OK_AND_ASSIGN(Contact c, stores_->contacts().Create(Person("c@x.io", "PRO"), kT0));
  std::vector<Contact> batch = {Person("b@x.io", "pro"), Person("d@x.io", "pro")};
  ASSERT_OK(stores_->contacts().UpsertBatch(batch, ExistingPolicy::kUpdate, kT0));
  // staged contacts are not members
  Contact staged = Person("e@x.io", "pro");
  staged.status = ContactStatus::kStaged;
  ASSERT_OK(stores_->contacts().Create(staged, kT0));
  // delete: c leaves
  ASSERT_OK(stores_->contacts().Delete(c.id, kT0));
  ASSERT_OK_AND_ASSIGN(seg, stores_->segments().Get(seg.id));
  ASSERT_OK_AND_ASSIGN(MemberPage page, stores_->segments().Members(seg.id, ContactId(), 100));
  std::vector<int64_t> ids;
  for (ContactId m : page.contacts) ids.push_back(m.value());
  ContactFilter by_email;
  by_email.email = "d@x.io";
  const int64_t d = stores_->contacts().List(by_email)->contacts.at(0).id.value();  // ids may have gaps
  EXPECT_EQ(ids, (std::vector<int64_t>{b.id.value(), d}));
  EXPECT_EQ(seg.member_count, 2);
  EXPECT_EQ(EventsFor(seg.id), (std::vector<std::pair<int64_t, bool>>{
                                   {a.id.value(), true}, {b.id.value(), true}, {a.id.value(), false},
                                   {c.id.value(), true}, {d, true}, {c.id.value(), false}}));
}

TEST_F(SegmentStoreTest, StaticMembersByHandOnly) {
  ASSERT_OK_AND_ASSIGN(Contact a, stores_->contacts().Create(Person("a@x.io", "pro"), kT0));
  Segment vip{SegmentId(), "VIP", SegmentKind::kStatic, std::nullopt, 0, {}, {}};
  ASSERT_OK_AND_ASSIGN(Segment seg, stores_->segments().Create(vip, kT0));
  std::vector<ContactId> ids = {a.id, a.id};
  ASSERT_OK_AND_ASSIGN(int64_t added, stores_->segments().AddMembers(seg.id, ids, kT0));
  EXPECT_EQ(added, 1) << "adding twice is one membership";
  std::vector<ContactId> missing = {ContactId(999)};
  Result<int64_t> r = stores_->segments().AddMembers(seg.id, missing, kT0);
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("contact 999 does not exist"), std::string::npos);
  // a contact write does not touch static memberships
  ASSERT_OK(stores_->contacts().Update(a.id, [](Contact& c) { c.tier = "free"; return Status::Ok(); }, kT0));
  EXPECT_EQ(stores_->segments().Get(seg.id)->member_count, 1);
  Segment dyn{SegmentId(), "Dyn", SegmentKind::kDynamic, TierIs("x"), 0, {}, {}};
  ASSERT_OK_AND_ASSIGN(Segment d, stores_->segments().Create(dyn, kT0));
  EXPECT_EQ(stores_->segments().AddMembers(d.id, std::vector<ContactId>{a.id}, kT0).status().code(), Code::kConflict);
  EXPECT_EQ(stores_->segments().Create(vip, kT0).status().code(), Code::kConflict) << "names are unique";
  ASSERT_OK(stores_->segments().RemoveMembers(seg.id, std::vector<ContactId>{a.id}, kT0));
  EXPECT_EQ(stores_->segments().Get(seg.id)->member_count, 0);
  ASSERT_OK(stores_->segments().Delete(seg.id));
  EXPECT_EQ(stores_->segments().Get(seg.id).status().code(), Code::kNotFound);
}

TEST_F(SegmentStoreTest, StagedContactsJoinWhenReleasedAndCannotGoBack) {
  Segment vip{SegmentId(), "VIP", SegmentKind::kStatic, std::nullopt, 0, {}, {}};
  ASSERT_OK_AND_ASSIGN(Segment seg, stores_->segments().Create(vip, kT0));
  Segment pro{SegmentId(), "Pro", SegmentKind::kDynamic, TierIs("pro"), 0, {}, {}};
  ASSERT_OK_AND_ASSIGN(Segment dyn, stores_->segments().Create(pro, kT0));
  Contact staged = Person("s@x.io", "pro");
  staged.status = ContactStatus::kStaged;
  ASSERT_OK_AND_ASSIGN(Contact c, stores_->contacts().Create(staged, kT0));
  ASSERT_OK(stores_->segments().AddMembers(seg.id, std::vector<ContactId>{c.id}, kT0));
  EXPECT_EQ(stores_->segments().Get(seg.id)->member_count, 0) << "recorded for the release, not a member yet";
  EXPECT_EQ(stores_->segments().Get(dyn.id)->member_count, 0);
  ASSERT_OK(stores_->contacts().Update(c.id, [](Contact& x) { x.status = ContactStatus::kLive; return Status::Ok(); }, kT0));
  EXPECT_EQ(stores_->segments().Get(seg.id)->member_count, 1);
  EXPECT_EQ(stores_->segments().Get(dyn.id)->member_count, 1);
  Result<Contact> back = stores_->contacts().Update(c.id, [](Contact& x) {
    x.status = ContactStatus::kStaged;
    return Status::Ok();
  }, kT0);
  EXPECT_EQ(back.status().code(), Code::kConflict);
}

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

TEST_F(SegmentStoreTest, RefreshAppliesRelativeTimesAsTimePasses) {
  // "created within the last 2 days": membership changes with time alone.
  Filter recent;
  recent.kind = Filter::Kind::kCondition;
  recent.condition = {"created_at", FilterOp::kAfter, {"2 days ago"}};
  EXPECT_TRUE(UsesRelativeTime(recent));
  EXPECT_FALSE(UsesRelativeTime(TierIs("pro")));
  ASSERT_OK_AND_ASSIGN(Contact a, stores_->contacts().Create(Person("a@x.io", "pro"), kT0));
  Segment seg{SegmentId(), "Recent", SegmentKind::kDynamic, recent, 0, {}, {}};
  ASSERT_OK_AND_ASSIGN(Segment created, stores_->segments().Create(seg, kT0 + std::chrono::hours(1)));
  EXPECT_EQ(created.member_count, 1);
  ASSERT_OK_AND_ASSIGN(auto none, stores_->segments().Refresh(created.id, kT0 + std::chrono::hours(24)));
  EXPECT_EQ(none, std::make_pair(int64_t{0}, int64_t{0}));
  ASSERT_OK_AND_ASSIGN(auto left, stores_->segments().Refresh(created.id, kT0 + std::chrono::hours(72)));
  EXPECT_EQ(left, std::make_pair(int64_t{0}, int64_t{1}));
  EXPECT_EQ(stores_->segments().Get(created.id)->member_count, 0);
  EXPECT_EQ(EventsFor(created.id).back(), std::make_pair(a.id.value(), false));
  ASSERT_OK(stores_->segments().Delete(created.id));
  EXPECT_EQ(stores_->segments().Refresh(created.id, kT0).status().code(), Code::kNotFound);
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
