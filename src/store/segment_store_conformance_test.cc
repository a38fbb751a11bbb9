// The SegmentStore conformance suite: the contract of store/segment_store.h, as
// tests that every store implementation passes. An implementation instantiates it
// with a factory (see sqlite_segment_store_test.cc):
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, SegmentStoreConformance, ::testing::Values(SegmentStoreFactory{...}));
#include "store/segment_store_conformance.h"

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "testing/status_matchers.h"

namespace outflow {

const Timestamp kSegT0 = FromMicros(1'800'000'000'000'000);

void SegmentStoreConformance::Reopen() {
  stores_ = {};
  auto s = GetParam().open(dir_.path().string(), GetParam().chunk, kSegT0);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  stores_ = std::move(s).value();
}

namespace {

using std::chrono::hours;
using Events = std::vector<std::pair<int64_t, bool>>;

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

Segment Dynamic(std::string name, Filter f) {
  return Segment{SegmentId(), std::move(name), SegmentKind::kDynamic, std::move(f), 0, false, false, {}, {}};
}

JobSpec TestJob(std::string kind, const Segment& s) {
  JobSpec j;
  j.kind = std::move(kind);
  j.due_at = kSegT0;
  j.idempotency_key = j.kind + "-" + std::to_string(s.id.value());
  j.payload = "{}";
  return j;
}

// Jobs of `kind`, counted by listing them.
int64_t JobsOfKind(JobStore& jobs, const std::string& kind) {
  JobFilter f;
  f.kind = kind;
  f.limit = 1000;
  auto page = jobs.List(f);
  EXPECT_TRUE(page.ok());
  return page.ok() ? static_cast<int64_t>(page->jobs.size()) : -1;
}

std::vector<int64_t> MemberIds(SegmentStore& store, SegmentId id) {
  std::vector<int64_t> out;
  ContactId after;
  while (true) {
    auto page = store.Members(id, after, 1000);
    EXPECT_TRUE(page.ok());
    if (!page.ok()) return out;
    for (ContactId c : page->contacts) out.push_back(c.value());
    if (!page->next_after) return out;
    after = *page->next_after;
  }
}

// The live contacts of tier `tier`, by listing them.
std::vector<int64_t> LiveOfTier(ContactStore& contacts, const std::string& tier) {
  std::vector<int64_t> out;
  ContactFilter f;
  f.tier = tier;
  f.status = ContactStatus::kLive;
  f.limit = 1000;
  while (true) {
    auto page = contacts.List(f);
    EXPECT_TRUE(page.ok());
    if (!page.ok()) return out;
    for (const Contact& c : page->contacts) out.push_back(c.id.value());
    if (!page->next_after) return out;
    f.after = *page->next_after;
  }
}

Events EventsFor(SegmentStore& store, SegmentId seg) {
  Events out;
  int64_t after = 0;
  while (true) {
    auto events = store.Events(after, 1000);
    EXPECT_TRUE(events.ok());
    if (!events.ok() || events->empty()) return out;
    for (const MembershipEvent& e : *events) {
      if (e.segment == seg) out.emplace_back(e.contact.value(), e.joined);
    }
    after = events->back().id;
  }
}

// The members are exactly the live pro contacts, the count says so, and each
// contact's log alternates join/leave and ends as its membership.
void ExpectExactlyThePro(SegmentStore& segments, ContactStore& contacts, SegmentId id) {
  const std::vector<int64_t> members = MemberIds(segments, id);
  EXPECT_EQ(members, LiveOfTier(contacts, "pro"));
  ASSERT_OK_AND_ASSIGN(Segment seg, segments.Get(id));
  EXPECT_EQ(seg.member_count, static_cast<int64_t>(members.size()));
  EXPECT_FALSE(seg.filling);
  std::map<int64_t, bool> in;
  for (const auto& [contact, joined] : EventsFor(segments, id)) {
    EXPECT_NE(in[contact], joined) << "contact " << contact << " logged the same change twice in a row";
    in[contact] = joined;
  }
  std::vector<int64_t> by_log;
  for (const auto& [contact, member] : in) {
    if (member) by_log.push_back(contact);
  }
  EXPECT_EQ(by_log, members) << "the log replayed gives the members";
}

// n contacts, every other one pro (the first is pro).
std::vector<Contact> MakeContacts(ContactStore& contacts, int n, const std::string& prefix = "c") {
  std::vector<Contact> out;
  for (int i = 0; i < n; ++i) {
    auto c = contacts.Create(Person(prefix + std::to_string(i) + "@x.io", i % 2 == 0 ? "pro" : "free"), kSegT0);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (c.ok()) out.push_back(*c);
  }
  return out;
}

Status SetTier(ContactStore& contacts, ContactId id, std::string tier) {
  return contacts
      .Update(
          id,
          [&](Contact& c) {
            c.tier = tier;
            return Status::Ok();
          },
          kSegT0)
      .status();
}

TEST_P(SegmentStoreConformance, DynamicMembershipFollowsEveryContactWrite) {
  ASSERT_OK_AND_ASSIGN(Contact a, contacts().Create(Person("a@x.io", "pro"), kSegT0));
  ASSERT_OK_AND_ASSIGN(Contact b, contacts().Create(Person("b@x.io", "free"), kSegT0));
  ASSERT_OK_AND_ASSIGN(Segment seg, segments().Create(Dynamic("Pro", TierIs("pro")), kSegT0));
  EXPECT_EQ(seg.member_count, 1) << "populated from the existing contacts";
  EXPECT_FALSE(seg.filling) << "two contacts fit in the first chunk";
  ASSERT_OK(SetTier(contacts(), b.id, "pro"));
  ASSERT_OK(SetTier(contacts(), a.id, "free"));
  ASSERT_OK_AND_ASSIGN(Contact c, contacts().Create(Person("c@x.io", "PRO"), kSegT0));
  std::vector<Contact> batch = {Person("b@x.io", "pro"), Person("d@x.io", "pro")};
  ASSERT_OK_AND_ASSIGN(auto outcomes, contacts().UpsertBatch(batch, ExistingPolicy::kUpdate, kSegT0));
  const int64_t d = outcomes.at(1).id.value();
  Contact staged = Person("e@x.io", "pro");
  staged.status = ContactStatus::kStaged;
  ASSERT_OK(contacts().Create(staged, kSegT0));  // staged contacts are not members
  ASSERT_OK(contacts().Delete(c.id, kSegT0));
  EXPECT_EQ(MemberIds(segments(), seg.id), (std::vector<int64_t>{b.id.value(), d}));
  EXPECT_EQ(segments().Get(seg.id)->member_count, 2);
  EXPECT_EQ(EventsFor(segments(), seg.id), (Events{{a.id.value(), true},
                                                   {b.id.value(), true},
                                                   {a.id.value(), false},
                                                   {c.id.value(), true},
                                                   {d, true},
                                                   {c.id.value(), false}}));
}

TEST_P(SegmentStoreConformance, StaticMembersByHandOnly) {
  ASSERT_OK_AND_ASSIGN(Contact a, contacts().Create(Person("a@x.io", "pro"), kSegT0));
  Segment vip{SegmentId(), "VIP", SegmentKind::kStatic, std::nullopt, 0, false, false, {}, {}};
  ASSERT_OK_AND_ASSIGN(Segment seg, segments().Create(vip, kSegT0));
  EXPECT_FALSE(seg.filling);
  std::vector<ContactId> ids = {a.id, a.id};
  ASSERT_OK_AND_ASSIGN(int64_t added, segments().AddMembers(seg.id, ids, kSegT0));
  EXPECT_EQ(added, 1) << "adding twice is one membership";
  Result<int64_t> r = segments().AddMembers(seg.id, std::vector<ContactId>{ContactId(999)}, kSegT0);
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("contact 999 does not exist"), std::string::npos);
  ASSERT_OK(SetTier(contacts(), a.id, "free"));  // a contact write does not touch static memberships
  EXPECT_EQ(segments().Get(seg.id)->member_count, 1);
  ASSERT_OK_AND_ASSIGN(Segment d, segments().Create(Dynamic("Dyn", TierIs("x")), kSegT0));
  EXPECT_EQ(segments().AddMembers(d.id, std::vector<ContactId>{a.id}, kSegT0).status().code(), Code::kConflict);
  EXPECT_EQ(segments().Create(vip, kSegT0).status().code(), Code::kConflict) << "names are unique";
  ASSERT_OK(segments().RemoveMembers(seg.id, std::vector<ContactId>{a.id}, kSegT0));
  EXPECT_EQ(segments().Get(seg.id)->member_count, 0);
  ASSERT_OK(segments().Delete(seg.id));
  EXPECT_EQ(segments().Get(seg.id).status().code(), Code::kNotFound);
}

TEST_P(SegmentStoreConformance, StagedContactsJoinWhenReleasedAndCannotGoBack) {
  Segment vip{SegmentId(), "VIP", SegmentKind::kStatic, std::nullopt, 0, false, false, {}, {}};
  ASSERT_OK_AND_ASSIGN(Segment seg, segments().Create(vip, kSegT0));
  ASSERT_OK_AND_ASSIGN(Segment dyn, segments().Create(Dynamic("Pro", TierIs("pro")), kSegT0));
  Contact staged = Person("s@x.io", "pro");
  staged.status = ContactStatus::kStaged;
  ASSERT_OK_AND_ASSIGN(Contact c, contacts().Create(staged, kSegT0));
  ASSERT_OK(segments().AddMembers(seg.id, std::vector<ContactId>{c.id}, kSegT0));
  EXPECT_EQ(segments().Get(seg.id)->member_count, 0) << "recorded for the release, not a member yet";
  EXPECT_EQ(segments().Get(dyn.id)->member_count, 0);
  ASSERT_OK(contacts().Update(
      c.id,
      [](Contact& x) {
        x.status = ContactStatus::kLive;
        return Status::Ok();
      },
      kSegT0));
  EXPECT_EQ(segments().Get(seg.id)->member_count, 1);
  EXPECT_EQ(segments().Get(dyn.id)->member_count, 1);
  Result<Contact> back = contacts().Update(
      c.id,
      [](Contact& x) {
        x.status = ContactStatus::kStaged;
        return Status::Ok();
      },
      kSegT0);
  EXPECT_EQ(back.status().code(), Code::kConflict);
}

TEST_P(SegmentStoreConformance, RefreshAppliesRelativeTimesAsTimePasses) {
  Filter recent;  // "created within the last 2 days": membership changes with time alone
  recent.kind = Filter::Kind::kCondition;
  recent.condition = {"created_at", FilterOp::kAfter, {"2 days ago"}};
  ASSERT_OK_AND_ASSIGN(Contact a, contacts().Create(Person("a@x.io", "pro"), kSegT0));
  ASSERT_OK_AND_ASSIGN(Segment created, segments().Create(Dynamic("Recent", recent), kSegT0 + hours(1)));
  EXPECT_EQ(created.member_count, 1);
  ASSERT_OK_AND_ASSIGN(FillProgress none, segments().Refresh(created.id, kSegT0 + hours(24)));
  EXPECT_EQ(none.joined + none.left, 0);
  EXPECT_TRUE(none.done);
  ASSERT_OK_AND_ASSIGN(FillProgress left, segments().Refresh(created.id, kSegT0 + hours(72)));
  EXPECT_EQ(left.left, 1);
  EXPECT_EQ(segments().Get(created.id)->member_count, 0);
  EXPECT_EQ(EventsFor(segments(), created.id).back(), std::make_pair(a.id.value(), false));
  ASSERT_OK(segments().Delete(created.id));
  EXPECT_EQ(segments().Refresh(created.id, kSegT0).status().code(), Code::kNotFound);
  EXPECT_EQ(segments().FillChunk(created.id, kSegT0).status().code(), Code::kNotFound);
}

// The first fill of a segment over more contacts than a chunk spans several
// transactions: the segment is `filling` in between, with its fill job stored by
// the creating transaction; each chunk's members and count are committed together.
TEST_P(SegmentStoreConformance, AFirstFillSpansChunksWithItsJobStoredByTheCreate) {
  auto jobs_for = [](const Segment& s) { return SegmentJobs{TestJob("test.fill", s), TestJob("test.refresh", s)}; };
  // A segment filled by its first chunk stores no fill job; the refresh job always.
  ASSERT_OK_AND_ASSIGN(Segment early, segments().Create(Dynamic("Early", TierIs("pro")), kSegT0, jobs_for));
  EXPECT_FALSE(early.filling);
  EXPECT_EQ(JobsOfKind(jobs(), "test.fill"), 0);
  EXPECT_EQ(JobsOfKind(jobs(), "test.refresh"), 1);
  const int n = 3 * chunk() + 1;
  MakeContacts(contacts(), n);
  ASSERT_OK_AND_ASSIGN(Segment seg, segments().Create(Dynamic("Pro", TierIs("pro")), kSegT0, jobs_for));
  EXPECT_TRUE(seg.filling);
  EXPECT_EQ(seg.member_count, static_cast<int64_t>(MemberIds(segments(), seg.id).size()));
  EXPECT_EQ(seg.member_count, (chunk() + 1) / 2) << "the first chunk's pro contacts";
  EXPECT_EQ(JobsOfKind(jobs(), "test.fill"), 1);
  EXPECT_EQ(JobsOfKind(jobs(), "test.refresh"), 2);
  int chunks = 1;
  while (true) {
    ASSERT_OK_AND_ASSIGN(FillProgress p, segments().FillChunk(seg.id, kSegT0));
    ++chunks;
    ASSERT_OK_AND_ASSIGN(Segment now, segments().Get(seg.id));
    EXPECT_EQ(now.member_count, static_cast<int64_t>(MemberIds(segments(), seg.id).size()));
    EXPECT_EQ(now.filling, !p.done);
    if (p.done) break;
    ASSERT_LT(chunks, n + 2) << "the pass never ends";
  }
  EXPECT_EQ(chunks, 4);
  ExpectExactlyThePro(segments(), contacts(), seg.id);
  ASSERT_OK_AND_ASSIGN(FillProgress idle, segments().FillChunk(seg.id, kSegT0));
  EXPECT_TRUE(idle.done);
  EXPECT_EQ(idle.joined + idle.left, 0);
  ExpectExactlyThePro(segments(), contacts(), early.id);  // kept by the contact writes
}

// Contacts written while a fill is under way, below its cursor (done already) and
// above it (not yet read): every one ends right.
TEST_P(SegmentStoreConformance, ContactsWrittenDuringAFillEndRight) {
  const std::vector<Contact> cs = MakeContacts(contacts(), 4 * chunk());
  ASSERT_OK_AND_ASSIGN(Segment seg, segments().Create(Dynamic("Pro", TierIs("pro")), kSegT0));
  ASSERT_TRUE(seg.filling);
  ASSERT_OK(SetTier(contacts(), cs[0].id, "free"));  // below the cursor: was pro, leaves
  ASSERT_OK(SetTier(contacts(), cs[1].id, "pro"));   // below: joins
  const size_t above = 3 * chunk();
  ASSERT_OK(SetTier(contacts(), cs[above].id, "free"));                      // above: pro, never joins
  ASSERT_OK(SetTier(contacts(), cs[above + 1].id, "pro"));                   // above: joins now, stays
  ASSERT_OK(contacts().Delete(cs[above + 2].id, kSegT0));                    // above: gone
  ASSERT_OK(contacts().Create(Person("new@x.io", "pro"), kSegT0).status());  // beyond every id so far
  ASSERT_OK(segments().FillChunk(seg.id, kSegT0).status());
  ASSERT_OK(SetTier(contacts(), cs[chunk()].id, "free"));  // in the range the chunk just did
  ASSERT_OK(FillToEnd(segments(), seg.id, kSegT0).status());
  ExpectExactlyThePro(segments(), contacts(), seg.id);
}

TEST_P(SegmentStoreConformance, ConcurrentContactWritesDuringAFillEndRight) {
  const std::vector<Contact> cs = MakeContacts(contacts(), 12 * chunk());
  std::atomic<bool> stop = false;
  std::thread writer([&] {
    std::mt19937 rng(7);
    for (int i = 0; i < 400 && !stop; ++i) {
      const Contact& c = cs[rng() % cs.size()];
      Status st = SetTier(contacts(), c.id, rng() % 2 ? "pro" : "free");
      ASSERT_TRUE(st.ok()) << st.ToString();
    }
  });
  Result<Segment> seg = segments().Create(Dynamic("Pro", TierIs("pro")), kSegT0);
  Status filled = seg.ok() ? FillToEnd(segments(), seg->id, kSegT0).status() : seg.status();
  writer.join();
  ASSERT_OK(filled);
  ExpectExactlyThePro(segments(), contacts(), seg->id);
}

TEST_P(SegmentStoreConformance, APassResumesAtItsCursorAfterARestart) {
  MakeContacts(contacts(), 5 * chunk());
  ASSERT_OK_AND_ASSIGN(Segment seg, segments().Create(Dynamic("Pro", TierIs("pro")), kSegT0));
  ASSERT_OK(segments().FillChunk(seg.id, kSegT0).status());
  const int64_t before = segments().Get(seg.id)->member_count;
  Reopen();
  ASSERT_OK_AND_ASSIGN(Segment again, segments().Get(seg.id));
  EXPECT_TRUE(again.filling);
  EXPECT_EQ(again.member_count, before);
  ASSERT_OK(FillToEnd(segments(), seg.id, kSegT0).status());
  ExpectExactlyThePro(segments(), contacts(), seg.id);  // and no contact joined twice
}

// Refresh stores the next job of its chain with the start of the pass; a gone
// segment gets none.
TEST_P(SegmentStoreConformance, RefreshStoresTheNextJobWithItsPass) {
  const std::vector<Contact> cs = MakeContacts(contacts(), 2 * chunk() + 1);
  ASSERT_OK_AND_ASSIGN(Segment seg, segments().Create(Dynamic("Pro", TierIs("pro")), kSegT0));
  ASSERT_OK(FillToEnd(segments(), seg.id, kSegT0).status());
  auto jobs_for = [](const Segment& s) { return SegmentJobs{TestJob("test.fill", s), TestJob("test.refresh", s)}; };
  ASSERT_OK_AND_ASSIGN(FillProgress first, segments().Refresh(seg.id, kSegT0, jobs_for));
  EXPECT_FALSE(first.done);
  EXPECT_TRUE(segments().Get(seg.id)->refreshing);
  EXPECT_FALSE(segments().Get(seg.id)->filling) << "a refresh leaves the segment usable";
  EXPECT_EQ(JobsOfKind(jobs(), "test.refresh"), 1);
  EXPECT_EQ(JobsOfKind(jobs(), "test.fill"), 1);
  ASSERT_OK(FillToEnd(segments(), seg.id, kSegT0).status());
  EXPECT_FALSE(segments().Get(seg.id)->refreshing);
  ExpectExactlyThePro(segments(), contacts(), seg.id);
  ASSERT_OK(segments().Delete(seg.id));
  auto other = [](const Segment& s) { return SegmentJobs{std::nullopt, TestJob("test.other", s)}; };
  EXPECT_EQ(segments().Refresh(seg.id, kSegT0, other).status().code(), Code::kNotFound);
  EXPECT_EQ(JobsOfKind(jobs(), "test.other"), 0);
}

// A consumer that keeps the last id it handled, polling while several threads
// write, sees every event exactly once, in the order of the log.
TEST_P(SegmentStoreConformance, AConsumerKeepingTheLastIdSeesEveryEventOnce) {
  const std::vector<Contact> cs = MakeContacts(contacts(), 60);
  ASSERT_OK(segments().Create(Dynamic("Pro", TierIs("pro")), kSegT0).status());
  ASSERT_OK(FillToEnd(segments(), segments().FindByName("Pro")->value().id, kSegT0).status());
  ASSERT_OK_AND_ASSIGN(auto initial, segments().Events(0, 100000));
  const int64_t start = initial.empty() ? 0 : initial.back().id;
  std::atomic<int> writing = 3;
  auto writer = [&](int k) {
    for (int i = 0; i < 150; ++i) {
      const Contact& c = cs[static_cast<size_t>(k * 20 + i % 20)];
      Status st = SetTier(contacts(), c.id, (i / 20) % 2 ? "pro" : "free");
      EXPECT_TRUE(st.ok()) << st.ToString();
    }
    --writing;
  };
  std::vector<int64_t> consumed;
  std::thread consumer([&] {
    int64_t last = start;
    while (true) {
      const bool was_writing = writing > 0;
      auto batch = segments().Events(last, 7);
      ASSERT_TRUE(batch.ok()) << batch.status().ToString();
      for (const MembershipEvent& e : *batch) consumed.push_back(e.id);
      if (!batch->empty()) last = batch->back().id;
      if (!was_writing && batch->empty()) return;  // everything written had committed before this read
    }
  });
  std::thread a(writer, 0), b(writer, 1), c(writer, 2);
  a.join();
  b.join();
  c.join();
  consumer.join();
  ASSERT_OK_AND_ASSIGN(auto all, segments().Events(start, 100000));
  std::vector<int64_t> ids;
  for (const MembershipEvent& e : all) ids.push_back(e.id);
  EXPECT_GT(ids.size(), 300u);
  EXPECT_EQ(consumed, ids);
}

}  // namespace
}  // namespace outflow
