// The ReleaseStore conformance suite: the contract of store/release_store.h, as
// tests that every store implementation passes (see sqlite_release_store_test.cc).
#include "store/release_store_conformance.h"

#include <atomic>
#include <thread>

#include "testing/status_matchers.h"

namespace outflow {

using std::chrono::seconds;

void ReleaseStoreConformance::Stage(int n) {
  for (int i = 0; i < n; ++i) {
    Contact c;
    c.email = "s" + std::to_string(staged_++) + "@x.io";
    c.status = ContactStatus::kStaged;
    EXPECT_OK(contacts().Create(c, kT0).status());
  }
}

ReleasePlan ReleaseStoreConformance::NewPlan(const std::string& name, int64_t per_slot,
                                             const ReleaseStore::JobFn& slot_job) {
  ReleasePlan p;
  p.name = name;
  p.per_slot = per_slot;
  p.interval_seconds = 60;
  p.started_at = kT0;
  p.next_slot_at = kT0;
  Result<ReleasePlan> r = releases().Create(p, slot_job, kT0);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : p;
}

std::string ReleaseStoreConformance::SlotKey(const ReleasePlan& p, Timestamp slot) {
  return "slot-" + std::to_string(p.id.value()) + "-" + std::to_string(ToMicros(slot));
}

Result<JobSpec> ReleaseStoreConformance::SlotJob(const ReleasePlan& p) {
  JobSpec spec;
  spec.kind = "release.slot";
  spec.due_at = p.next_slot_at;
  spec.idempotency_key = SlotKey(p, p.next_slot_at);
  return spec;
}

int64_t ReleaseStoreConformance::Staged() {
  Result<int64_t> n = releases().StagedCount();
  EXPECT_TRUE(n.ok()) << n.status().ToString();
  return n.ok() ? *n : -1;
}

namespace {

TEST_P(ReleaseStoreConformance, CreateStoresTheFirstSlotJobWithThePlan) {
  ReleasePlan p;
  p.name = "warm-up";
  p.per_slot = 1;
  p.interval_seconds = 60;
  p.started_at = p.next_slot_at = kT0;
  auto refuse = [](const ReleasePlan&) -> Result<JobSpec> { return Status::Unavailable("no job today"); };
  EXPECT_EQ(releases().Create(p, refuse, kT0).status().code(), Code::kUnavailable);
  EXPECT_TRUE(releases().List()->empty()) << "no job, no plan";
  ReleasePlan made = NewPlan("warm-up", 1, SlotJob);
  EXPECT_EQ(made.state, ReleaseState::kActive);
  EXPECT_EQ(JobsWithKey(SlotKey(made, kT0)).size(), 1u);
  EXPECT_EQ(releases().Create(p, SlotJob, kT0).status().code(), Code::kConflict) << "names are unique";
}

TEST_P(ReleaseStoreConformance, ASlotReleasesTheOldestStagedOnceAndTheLastCompletesThePlan) {
  Stage(3);
  ReleasePlan plan = NewPlan("warm-up", 2);
  ASSERT_OK_AND_ASSIGN(int64_t n, releases().ReleaseSlot(plan.id, kT0, 2, kT0 + seconds(60), kT0));
  EXPECT_EQ(n, 2);
  EXPECT_EQ(Staged(), 1);
  ASSERT_OK_AND_ASSIGN(ContactPage live, contacts().List({.status = ContactStatus::kLive}));
  ASSERT_EQ(live.contacts.size(), 2u);
  EXPECT_EQ(live.contacts[0].email, "s0@x.io");
  EXPECT_EQ(live.contacts[1].email, "s1@x.io");
  ASSERT_OK_AND_ASSIGN(ReleasePlan after, releases().Get(plan.id));
  EXPECT_EQ(after.next_slot_at, kT0 + seconds(60));
  EXPECT_EQ(after.released_total, 2);
  EXPECT_EQ(after.state, ReleaseState::kActive);
  // The same slot again (its job ran twice) releases nothing.
  EXPECT_EQ(releases().ReleaseSlot(plan.id, kT0, 2, kT0 + seconds(60), kT0).status().code(), Code::kConflict);
  EXPECT_EQ(Staged(), 1);
  ASSERT_OK_AND_ASSIGN(n, releases().ReleaseSlot(plan.id, kT0 + seconds(60), 2, kT0 + seconds(120), kT0));
  EXPECT_EQ(n, 1);
  ASSERT_OK_AND_ASSIGN(after, releases().Get(plan.id));
  EXPECT_EQ(after.state, ReleaseState::kCompleted);
  EXPECT_EQ(after.released_total, 3);
  ASSERT_OK_AND_ASSIGN(auto log, releases().Log(plan.id, 10));
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].released, 1) << "newest first";
  EXPECT_EQ(log[1].released, 2);
}

// Two runs of one slot at once (a lost lease): exactly one releases.
TEST_P(ReleaseStoreConformance, RacingRunsOfOneSlotExactlyOneReleases) {
  Stage(20);
  ReleasePlan plan = NewPlan("warm-up", 5);
  std::atomic<int> ran{0}, conflicts{0};
  auto run = [&] {
    Result<int64_t> r = releases().ReleaseSlot(plan.id, kT0, 5, kT0 + seconds(60), kT0);
    ++(r.ok() ? ran : conflicts);
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kConflict) << r.status().ToString();
    }
  };
  std::thread a(run), b(run), c(run);
  a.join();
  b.join();
  c.join();
  EXPECT_EQ(ran.load(), 1);
  EXPECT_EQ(conflicts.load(), 2);
  EXPECT_EQ(Staged(), 15);
  EXPECT_EQ(releases().Get(plan.id)->released_total, 5);
}

// Two plans release at once: no contact is released twice, none is lost.
TEST_P(ReleaseStoreConformance, TwoPlansNeverReleaseOneContactTwice) {
  Stage(40);
  ReleasePlan p1 = NewPlan("one", 3);
  ReleasePlan p2 = NewPlan("two", 3);
  auto run = [&](ReleasePlanId id) {
    Timestamp slot = kT0;
    for (int i = 0; i < 10; ++i, slot += seconds(60)) {
      Result<int64_t> r = releases().ReleaseSlot(id, slot, 3, slot + seconds(60), kT0);
      if (!r.ok()) {  // staging ran empty: the plan completed
        EXPECT_EQ(r.status().code(), Code::kConflict) << r.status().ToString();
        return;
      }
    }
  };
  std::thread a(run, p1.id), b(run, p2.id);
  a.join();
  b.join();
  const int64_t total = releases().Get(p1.id)->released_total + releases().Get(p2.id)->released_total;
  EXPECT_EQ(total, 40);
  EXPECT_EQ(Staged(), 0);
  EXPECT_EQ(contacts().Count({.status = ContactStatus::kLive}).value(), 40);
}

TEST_P(ReleaseStoreConformance, SetStateIsConditionalAndAResumeStoresTheSlotJob) {
  ReleasePlan plan = NewPlan("warm-up", 1);
  ASSERT_OK_AND_ASSIGN(ReleasePlan paused, releases().SetState(plan.id, {ReleaseState::kActive}, ReleaseState::kPaused,
                                                               std::nullopt, {}, kT0));
  EXPECT_EQ(paused.state, ReleaseState::kPaused);
  EXPECT_EQ(paused.next_slot_at, kT0) << "kept when not given";
  Result<ReleasePlan> again =
      releases().SetState(plan.id, {ReleaseState::kActive}, ReleaseState::kPaused, std::nullopt, {}, kT0);
  EXPECT_EQ(again.status().code(), Code::kConflict);
  EXPECT_NE(again.status().message().find("is paused"), std::string::npos) << again.status().message();
  const Timestamp next = kT0 + seconds(600);
  ASSERT_OK_AND_ASSIGN(ReleasePlan resumed, releases().SetState(plan.id, {ReleaseState::kPaused}, ReleaseState::kActive,
                                                                next, SlotJob, kT0));
  EXPECT_EQ(resumed.next_slot_at, next);
  EXPECT_EQ(JobsWithKey(SlotKey(plan, next)).size(), 1u) << "the resumed plan's slot job, in its transaction";
  auto refuse = [](const ReleasePlan&) -> Result<JobSpec> { return Status::Unavailable("no job today"); };
  ASSERT_OK(releases().SetState(plan.id, {ReleaseState::kActive}, ReleaseState::kPaused, std::nullopt, {}, kT0));
  EXPECT_EQ(
      releases().SetState(plan.id, {ReleaseState::kPaused}, ReleaseState::kActive, next, refuse, kT0).status().code(),
      Code::kUnavailable);
  EXPECT_EQ(releases().Get(plan.id)->state, ReleaseState::kPaused) << "no job, no resume";
  EXPECT_EQ(releases()
                .SetState(ReleasePlanId(999), {ReleaseState::kActive}, ReleaseState::kPaused, std::nullopt, {}, kT0)
                .status()
                .code(),
            Code::kNotFound);
}

TEST_P(ReleaseStoreConformance, RacingTransitionsFromOneStateExactlyOneWins) {
  std::vector<ReleasePlan> plans;
  for (int i = 0; i < 20; ++i) plans.push_back(NewPlan("p" + std::to_string(i), 1));
  std::atomic<int> won{0}, conflicts{0};
  auto move = [&](ReleaseState to) {
    for (const ReleasePlan& p : plans) {
      Result<ReleasePlan> r = releases().SetState(p.id, {ReleaseState::kActive}, to, std::nullopt, {}, kT0);
      ++(r.ok() ? won : conflicts);
    }
  };
  std::thread a(move, ReleaseState::kPaused), b(move, ReleaseState::kCancelled);
  a.join();
  b.join();
  EXPECT_EQ(won.load(), 20);
  EXPECT_EQ(conflicts.load(), 20);
}

TEST_P(ReleaseStoreConformance, UpdateSeesThePlanAsStoredAndStoresTheSlotJob) {
  Stage(2);
  ReleasePlan plan = NewPlan("warm-up", 1);
  ASSERT_OK(releases().ReleaseSlot(plan.id, kT0, 1, kT0 + seconds(60), kT0).status());
  ReleasePlan change = plan;  // as read before the slot ran
  change.per_slot = 5;
  change.interval_seconds = 30;
  Timestamp seen;
  auto next = [&](const ReleasePlan& stored) {
    seen = stored.next_slot_at;
    return stored.next_slot_at + seconds(30);
  };
  ASSERT_OK_AND_ASSIGN(ReleasePlan changed, releases().Update(change, next, SlotJob, kT0));
  EXPECT_EQ(seen, kT0 + seconds(60)) << "the slot that ran in between counts";
  EXPECT_EQ(changed.per_slot, 5);
  EXPECT_EQ(changed.next_slot_at, kT0 + seconds(90));
  EXPECT_EQ(JobsWithKey(SlotKey(plan, kT0 + seconds(90))).size(), 1u);
  ASSERT_OK(releases().SetState(plan.id, {ReleaseState::kActive}, ReleaseState::kCancelled, std::nullopt, {}, kT0));
  EXPECT_EQ(releases().Update(change, next, SlotJob, kT0).status().code(), Code::kConflict);
}

TEST_P(ReleaseStoreConformance, RescheduleMovesOnlyTheCurrentSlot) {
  ReleasePlan plan = NewPlan("warm-up", 1);
  EXPECT_EQ(releases().Reschedule(plan.id, kT0 + seconds(1), kT0 + seconds(99), kT0).code(), Code::kConflict);
  ASSERT_OK(releases().Reschedule(plan.id, kT0, kT0 + seconds(99), kT0));
  EXPECT_EQ(releases().Get(plan.id)->next_slot_at, kT0 + seconds(99));
}

}  // namespace
}  // namespace outflow
