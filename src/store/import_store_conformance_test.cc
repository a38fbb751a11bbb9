// The ImportStore conformance suite: the contract of store/import_store.h, as tests
// that every store implementation passes (see sqlite_import_store_test.cc).
#include "store/import_store_conformance.h"

#include <atomic>
#include <thread>

#include "testing/status_matchers.h"

namespace outflow {

void ImportStoreConformance::SetUp() {
  StoreSetTest::SetUp();
  if (HasFatalFailure()) return;
  Import im;
  im.file_name = "x.csv";
  im.file_path = dir_.File("x.csv");
  im.bytes_total = 1000;
  ASSERT_OK_AND_ASSIGN(im_, imports().Create(im, kT0));
  ASSERT_OK(imports().SetState(im_.id, ImportState::kQueued, ImportState::kValidating, kT0));
  ASSERT_OK(imports().SetValidated(im_, kT0));
}

ImportBatch ImportStoreConformance::Batch(uint64_t from, uint64_t to, std::vector<std::string> emails) {
  ImportBatch b;
  b.start_offset = from;
  b.bytes_done = to;
  for (auto& e : emails) {
    Contact c;
    c.email = e;
    b.contacts.push_back(c);
    b.contact_rows.push_back(static_cast<int64_t>(b.contact_rows.size()) + 2);
    b.contact_segments.push_back("");
  }
  b.rows_read = static_cast<int64_t>(emails.size());
  return b;
}

namespace {

TEST_P(ImportStoreConformance, BatchesCommitInOrderFromTheResumePoint) {
  ASSERT_OK(imports().CommitBatch(im_.id, Batch(0, 400, {"a@x.io", "b@x.io"}), ExistingPolicy::kUpdate, kT0));
  // A second run that lost its lease and replays the first batch is refused whole.
  Result<Import> replay =
      imports().CommitBatch(im_.id, Batch(0, 400, {"a@x.io", "b@x.io"}), ExistingPolicy::kUpdate, kT0);
  EXPECT_EQ(replay.status().code(), Code::kConflict);
  EXPECT_NE(replay.status().message().find("moved on"), std::string::npos);
  ImportBatch last = Batch(400, 1000, {"c@x.io"});
  last.last = true;
  ASSERT_OK_AND_ASSIGN(Import done, imports().CommitBatch(im_.id, last, ExistingPolicy::kUpdate, kT0));
  EXPECT_EQ(done.state, ImportState::kCompleted);
  EXPECT_EQ(done.progress.created, 3);
  EXPECT_EQ(done.progress.updated, 0) << "nothing was applied twice";
  EXPECT_EQ(done.progress.rows_read, 3);
}

TEST_P(ImportStoreConformance, CancelledImportAcceptsNoMoreBatches) {
  ASSERT_OK(imports().Cancel(im_.id, kT0));
  EXPECT_EQ(imports().CommitBatch(im_.id, Batch(0, 10, {"a@x.io"}), ExistingPolicy::kUpdate, kT0).status().code(),
            Code::kConflict);
  EXPECT_EQ(contacts().Count({}).value(), 0);
  EXPECT_EQ(imports().Cancel(im_.id, kT0).status().code(), Code::kConflict);
}

TEST_P(ImportStoreConformance, SegmentJoinsOfNewUpdatedAndRepeatedContactsAreEachLoggedAndCountedOnce) {
  // c@x.io exists before the import; a@x.io is named twice in the batch.
  Contact existing;
  existing.email = "c@x.io";
  ASSERT_OK(contacts().Create(existing, kT0).status());
  ImportBatch b = Batch(0, 500, {"a@x.io", "b@x.io", "a@x.io", "c@x.io", "d@x.io"});
  b.contact_segments = {"vip", "vip", "vip", "vip", ""};
  b.last = true;
  ASSERT_OK_AND_ASSIGN(Import done, imports().CommitBatch(im_.id, b, ExistingPolicy::kUpdate, kT0));
  EXPECT_EQ(done.progress.created, 3);
  EXPECT_EQ(done.progress.updated, 2);
  EXPECT_EQ(done.progress.failed, 0);
  ASSERT_OK_AND_ASSIGN(std::optional<Segment> vip, segments().FindByName("vip"));
  ASSERT_TRUE(vip.has_value());
  ASSERT_OK_AND_ASSIGN(MemberPage members, segments().Members(vip->id, ContactId(), 100));
  EXPECT_EQ(members.contacts.size(), 3u);  // a, b, c; not d
  EXPECT_EQ(vip->member_count, 3);
  ASSERT_OK_AND_ASSIGN(std::vector<MembershipEvent> events, segments().Events(0, 100));
  ASSERT_EQ(events.size(), 3u);
  for (const MembershipEvent& e : events) {
    EXPECT_TRUE(e.joined);
    EXPECT_EQ(e.segment, vip->id);
  }
}

// Create stores the import's job in its transaction: both or neither.
TEST_P(ImportStoreConformance, CreateStoresTheJobWithTheImport) {
  Import im;
  im.file_name = "y.csv";
  im.file_path = dir_.File("y.csv");
  im.bytes_total = 10;
  auto refuse = [](const Import&) -> Result<JobSpec> { return Status::Unavailable("no job today"); };
  EXPECT_EQ(imports().Create(im, refuse, kT0).status().code(), Code::kUnavailable);
  ASSERT_OK_AND_ASSIGN(std::vector<Import> listed, imports().List(10));
  EXPECT_EQ(listed.size(), 1u) << "no job, no import";
  auto job = [](const Import& created) -> Result<JobSpec> {
    JobSpec spec;
    spec.kind = "import.process";
    spec.due_at = created.created_at;
    spec.idempotency_key = "import-" + std::to_string(created.id.value());
    return spec;
  };
  ASSERT_OK_AND_ASSIGN(Import made, imports().Create(im, job, kT0));
  EXPECT_EQ(made.state, ImportState::kQueued);
  std::vector<Job> jobs = JobsWithKey("import-" + std::to_string(made.id.value()));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].due_at, kT0);
}

// Two runs of one import (a lost lease) commit the same batch at once: exactly one
// applies it, and no row is applied twice.
TEST_P(ImportStoreConformance, RacingRunsOfOneBatchExactlyOneApplies) {
  std::vector<std::string> emails;
  for (int i = 0; i < 200; ++i) emails.push_back("r" + std::to_string(i) + "@x.io");
  std::atomic<int> applied{0}, conflicts{0};
  auto run = [&] {
    Result<Import> r = imports().CommitBatch(im_.id, Batch(0, 400, emails), ExistingPolicy::kUpdate, kT0);
    ++(r.ok() ? applied : conflicts);
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kConflict) << r.status().ToString();
    }
  };
  std::thread a(run), b(run);
  a.join();
  b.join();
  EXPECT_EQ(applied.load(), 1);
  EXPECT_EQ(conflicts.load(), 1);
  ASSERT_OK_AND_ASSIGN(Import after, imports().Get(im_.id));
  EXPECT_EQ(after.progress.created, 200);
  EXPECT_EQ(after.progress.updated, 0) << "nothing applied twice";
  EXPECT_EQ(after.progress.rows_read, 200);
  EXPECT_EQ(after.progress.bytes_done, 400u);
}

TEST_P(ImportStoreConformance, RacingCancelsExactlyOneWins) {
  std::atomic<int> won{0}, conflicts{0};
  auto cancel = [&] {
    Result<Import> r = imports().Cancel(im_.id, kT0);
    ++(r.ok() ? won : conflicts);
  };
  std::thread a(cancel), b(cancel), c(cancel);
  a.join();
  b.join();
  c.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(conflicts.load(), 2);
  EXPECT_EQ(imports().Get(im_.id)->state, ImportState::kCancelled);
  EXPECT_EQ(imports().Cancel(ImportId(999), kT0).status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace outflow
