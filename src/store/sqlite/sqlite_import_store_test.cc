#include "store/sqlite/sqlite_import_store.h"

#include <gtest/gtest.h>

#include "store/sqlite/sqlite_store.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace outflow {
namespace {

const Timestamp kT0 = FromMicros(1'800'000'000'000'000);

class ImportStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteStores::Open(dir_.File("outflow.db"), {}, kT0);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    stores_ = std::move(s).value();
    Import im;
    im.file_name = "x.csv";
    im.file_path = dir_.File("x.csv");
    im.bytes_total = 1000;
    ASSERT_OK_AND_ASSIGN(im_, stores_->imports().Create(im, kT0));
    ASSERT_OK(stores_->imports().SetState(im_.id, ImportState::kQueued, ImportState::kValidating, kT0));
    ASSERT_OK(stores_->imports().SetValidated(im_, kT0));
  }
  ImportBatch Batch(uint64_t from, uint64_t to, std::vector<std::string> emails) {
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
  testing::TempDir dir_;
  std::unique_ptr<SqliteStores> stores_;
  Import im_;
};

TEST_F(ImportStoreTest, BatchesCommitInOrderFromTheResumePoint) {
  ASSERT_OK(stores_->imports().CommitBatch(im_.id, Batch(0, 400, {"a@x.io", "b@x.io"}), ExistingPolicy::kUpdate, kT0));
  // A second run that lost its lease and replays the first batch is refused whole.
  Result<Import> replay =
      stores_->imports().CommitBatch(im_.id, Batch(0, 400, {"a@x.io", "b@x.io"}), ExistingPolicy::kUpdate, kT0);
  EXPECT_EQ(replay.status().code(), Code::kConflict);
  EXPECT_NE(replay.status().message().find("moved on"), std::string::npos);
  ImportBatch last = Batch(400, 1000, {"c@x.io"});
  last.last = true;
  ASSERT_OK_AND_ASSIGN(Import done, stores_->imports().CommitBatch(im_.id, last, ExistingPolicy::kUpdate, kT0));
  EXPECT_EQ(done.state, ImportState::kCompleted);
  EXPECT_EQ(done.progress.created, 3);
  EXPECT_EQ(done.progress.updated, 0) << "nothing was applied twice";
  EXPECT_EQ(done.progress.rows_read, 3);
}

TEST_F(ImportStoreTest, CancelledImportAcceptsNoMoreBatches) {
  ASSERT_OK(stores_->imports().Cancel(im_.id, kT0));
  EXPECT_EQ(
      stores_->imports().CommitBatch(im_.id, Batch(0, 10, {"a@x.io"}), ExistingPolicy::kUpdate, kT0).status().code(),
      Code::kConflict);
  EXPECT_EQ(stores_->contacts().Count({}).value(), 0);
  EXPECT_EQ(stores_->imports().Cancel(im_.id, kT0).status().code(), Code::kConflict);
}

TEST_F(ImportStoreTest, SegmentJoinsOfNewUpdatedAndRepeatedContactsAreEachLoggedAndCountedOnce) {
  // c@x.io exists before the import; a@x.io is named twice in the batch.
  Contact existing;
  existing.email = "c@x.io";
  ASSERT_OK(stores_->contacts().Create(existing, kT0).status());
  ImportBatch b = Batch(0, 500, {"a@x.io", "b@x.io", "a@x.io", "c@x.io", "d@x.io"});
  b.contact_segments = {"vip", "vip", "vip", "vip", ""};
  b.last = true;
  ASSERT_OK_AND_ASSIGN(Import done, stores_->imports().CommitBatch(im_.id, b, ExistingPolicy::kUpdate, kT0));
  EXPECT_EQ(done.progress.created, 3);
  EXPECT_EQ(done.progress.updated, 2);
  EXPECT_EQ(done.progress.failed, 0);
  ASSERT_OK_AND_ASSIGN(std::optional<Segment> vip, stores_->segments().FindByName("vip"));
  ASSERT_TRUE(vip.has_value());
  ASSERT_OK_AND_ASSIGN(MemberPage members, stores_->segments().Members(vip->id, ContactId(), 100));
  EXPECT_EQ(members.contacts.size(), 3u);  // a, b, c; not d
  EXPECT_EQ(vip->member_count, 3);
  ASSERT_OK_AND_ASSIGN(std::vector<MembershipEvent> events, stores_->segments().Events(0, 100));
  ASSERT_EQ(events.size(), 3u);
  for (const MembershipEvent& e : events) {
    EXPECT_TRUE(e.joined);
    EXPECT_EQ(e.segment, vip->id);
  }
}

}  // namespace
}  // namespace outflow
