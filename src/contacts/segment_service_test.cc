// SegmentService and the segment jobs over a real SQLite file: the jobs a segment
// write stores with itself (fill, hourly refresh chain), and the handlers that
// run them to the end of their pass.
#include "contacts/segment_service.h"

#include <gtest/gtest.h>

#include "engine/metrics.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace outflow {
namespace {

const Timestamp kT0 = FromMicros(1'800'000'000'000'000);  // a whole hour plus 20 minutes, UTC

Filter Condition(std::string field, FilterOp op, std::string value) {
  Filter f;
  f.kind = Filter::Kind::kCondition;
  f.condition = {std::move(field), op, {std::move(value)}};
  return f;
}

class SegmentServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SqliteOptions o;
    o.segment_fill_chunk = 2;
    auto s = SqliteStores::Open(dir_.File("outflow.db"), o, kT0);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    stores_ = std::move(s).value();
    jobs_ = std::make_unique<JobService>(stores_->jobs(), clock_, handlers_, metrics_, nullptr);
    contacts_ = std::make_unique<ContactService>(stores_->contacts(), clock_);
    service_ = std::make_unique<SegmentService>(stores_->segments(), *contacts_, clock_, jobs_.get());
    for (int i = 0; i < 7; ++i) {
      Contact c;
      c.email = "p" + std::to_string(i) + "@x.io";
      c.tier = i % 2 ? "free" : "pro";
      ASSERT_OK(stores_->contacts().Create(c, kT0).status());
    }
  }
  std::vector<Job> JobsOf(std::string_view kind) {
    JobFilter f;
    f.kind = std::string(kind);
    auto page = stores_->jobs().List(f);
    EXPECT_TRUE(page.ok());
    return page.ok() ? page->jobs : std::vector<Job>{};
  }
  Segment Create(std::string name, Filter f) {
    Segment s;
    s.name = std::move(name);
    s.kind = SegmentKind::kDynamic;
    s.filter = std::move(f);
    Result<Segment> r = service_->Create(s);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Segment{};
  }

  testing::TempDir dir_;
  FakeClock clock_{kT0};
  HandlerRegistry handlers_;
  EngineMetrics metrics_;
  std::unique_ptr<SqliteStores> stores_;
  std::unique_ptr<JobService> jobs_;
  std::unique_ptr<ContactService> contacts_;
  std::unique_ptr<SegmentService> service_;
};

TEST_F(SegmentServiceTest, TheFillJobStoredWithTheSegmentFinishesItsFill) {
  Segment seg = Create("Pro", Condition("tier", FilterOp::kEquals, "pro"));
  EXPECT_TRUE(seg.filling) << "seven contacts, two a chunk";
  std::vector<Job> fills = JobsOf(kSegmentFillKind);
  ASSERT_EQ(fills.size(), 1u);
  EXPECT_EQ(fills[0].due_at, kT0);
  EXPECT_TRUE(JobsOf(kSegmentRefreshKind).empty()) << "no relative time: no refresh chain";
  SegmentRefresher filler(stores_->segments(), clock_, /*fill_only=*/true);
  EXPECT_EQ(filler.Run(fills[0]).kind, RunResult::Kind::kDone);
  ASSERT_OK_AND_ASSIGN(Segment after, stores_->segments().Get(seg.id));
  EXPECT_FALSE(after.filling);
  EXPECT_EQ(after.member_count, 4);
  EXPECT_EQ(filler.Run(fills[0]).kind, RunResult::Kind::kDone) << "a rerun finds nothing to do";
  ASSERT_OK(stores_->segments().Delete(seg.id));
  EXPECT_EQ(filler.Run(fills[0]).kind, RunResult::Kind::kDone) << "a deleted segment ends the job";
}

TEST_F(SegmentServiceTest, ARelativeFilterChainsItsHourlyRefreshInTheSameTransactions) {
  Segment seg = Create("Recent", Condition("created_at", FilterOp::kAfter, "2 days ago"));
  std::vector<Job> refresh = JobsOf(kSegmentRefreshKind);
  ASSERT_EQ(refresh.size(), 1u) << "stored by the create";
  EXPECT_EQ(refresh[0].due_at, SegmentRefreshJob(seg.id, kT0).due_at);
  SegmentRefresher refresher(stores_->segments(), clock_, /*fill_only=*/false);
  clock_.Set(refresh[0].due_at + std::chrono::hours(72));  // every contact is now too old
  EXPECT_EQ(refresher.Run(refresh[0]).kind, RunResult::Kind::kDone);
  ASSERT_OK_AND_ASSIGN(Segment after, stores_->segments().Get(seg.id));
  EXPECT_EQ(after.member_count, 0) << "the pass ran to its end";
  EXPECT_FALSE(after.refreshing);
  refresh = JobsOf(kSegmentRefreshKind);
  ASSERT_EQ(refresh.size(), 2u) << "the next hour's job, stored with the pass";
  EXPECT_EQ(refresh[1].due_at, SegmentRefreshJob(seg.id, clock_.Now()).due_at);
  // A filter without relative times ends the chain (a job migration 12 gave it).
  Segment plain = Create("Pro", Condition("tier", FilterOp::kEquals, "pro"));
  ASSERT_OK(FillToEnd(stores_->segments(), plain.id, clock_.Now()).status());
  Job once = refresh[1];
  once.payload = "{\"segment_id\":" + std::to_string(plain.id.value()) + "}";
  EXPECT_EQ(refresher.Run(once).kind, RunResult::Kind::kDone);
  EXPECT_EQ(JobsOf(kSegmentRefreshKind).size(), 2u);
}

TEST_F(SegmentServiceTest, WithoutJobsCreateFillsInTheCallersThread) {
  SegmentService offline(stores_->segments(), *contacts_, clock_);
  Segment s;
  s.name = "Pro";
  s.kind = SegmentKind::kDynamic;
  s.filter = Condition("tier", FilterOp::kEquals, "pro");
  ASSERT_OK_AND_ASSIGN(Segment seg, offline.Create(s));
  EXPECT_FALSE(seg.filling);
  EXPECT_EQ(seg.member_count, 4);
  EXPECT_TRUE(JobsOf(kSegmentFillKind).empty());
}

}  // namespace
}  // namespace outflow
