// The AuditStore conformance suite: the contract of store/audit_store.h.
#include "store/audit_store_conformance.h"

#include <set>
#include <thread>
#include <vector>

#include "testing/status_matchers.h"

namespace outflow {

using std::chrono::seconds;

void AuditStoreConformance::SetUp() {
  audit_ = Open();
  ASSERT_NE(audit_, nullptr);
}

std::shared_ptr<AuditStore> AuditStoreConformance::Open() {
  auto s = GetParam().open(dir_.path().string(), kT0);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : nullptr;
}

AuditEntry AuditStoreConformance::Entry(const std::string& actor, const std::string& action,
                                        const std::string& object_id, int secs) {
  AuditEntry e;
  e.at = kT0 + seconds(secs);
  e.actor = actor;
  e.actor_name = "name of " + actor;
  e.action = action;
  e.object_type = action.substr(0, action.find('.'));
  e.object_id = object_id;
  e.address = "127.0.0.1";
  e.request_id = "req-" + object_id;
  e.summary = R"({"fields":["name"]})";
  return e;
}

namespace {

std::vector<AuditEntry> All(AuditStore& audit, AuditFilter f = {}) {
  f.limit = 1000;
  Result<AuditPage> page = audit.List(f);
  EXPECT_TRUE(page.ok()) << page.status().ToString();
  return page.ok() ? page->entries : std::vector<AuditEntry>{};
}

TEST_P(AuditStoreConformance, AppendStoresEveryFieldNewestFirst) {
  std::vector<AuditEntry> group = {Entry("key:1", "campaign.create", "7"), Entry("key:2", "campaign.cancel", "7", 5)};
  ASSERT_OK(audit_->Append(group));
  ASSERT_OK(audit_->Append(std::vector{Entry("cli:alice", "key.create", "3", 9)}));
  std::vector<AuditEntry> all = All(*audit_);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].action, "key.create");
  EXPECT_EQ(all[2].action, "campaign.create");
  EXPECT_GT(all[0].id, all[1].id);
  EXPECT_GT(all[1].id, all[2].id) << "one caller's entries get increasing ids";
  const AuditEntry& e = all[1];
  EXPECT_EQ(e.at, kT0 + seconds(5));
  EXPECT_EQ(e.actor, "key:2");
  EXPECT_EQ(e.actor_name, "name of key:2");
  EXPECT_EQ(e.object_type, "campaign");
  EXPECT_EQ(e.object_id, "7");
  EXPECT_EQ(e.address, "127.0.0.1");
  EXPECT_EQ(e.request_id, "req-7");
  EXPECT_EQ(e.summary, R"({"fields":["name"]})");
  EXPECT_OK(audit_->Append({}));  // an empty group is nothing to do
}

TEST_P(AuditStoreConformance, ListFiltersByEveryField) {
  ASSERT_OK(
      audit_->Append(std::vector{Entry("key:1", "campaign.create", "7", 1), Entry("key:2", "campaign.cancel", "7", 2),
                                 Entry("key:1", "segment.delete", "9", 3)}));
  AuditFilter f;
  f.actor = "key:1";
  EXPECT_EQ(All(*audit_, f).size(), 2u);
  f = {};
  f.action = "campaign.cancel";
  ASSERT_EQ(All(*audit_, f).size(), 1u);
  EXPECT_EQ(All(*audit_, f)[0].actor, "key:2");
  f = {};
  f.object_type = "campaign";
  f.object_id = "7";
  EXPECT_EQ(All(*audit_, f).size(), 2u);
  f = {};
  f.object_id = "9";
  EXPECT_EQ(All(*audit_, f).size(), 1u);
  f = {};
  f.since = kT0 + seconds(2);
  f.until = kT0 + seconds(3);
  ASSERT_EQ(All(*audit_, f).size(), 1u) << "since is inclusive, until exclusive";
  EXPECT_EQ(All(*audit_, f)[0].action, "campaign.cancel");
}

TEST_P(AuditStoreConformance, PagesWithBeforeAndRefusesABadLimit) {
  std::vector<AuditEntry> many;
  for (int i = 0; i < 25; ++i) many.push_back(Entry("key:1", "contact.update", std::to_string(i), i));
  ASSERT_OK(audit_->Append(many));
  std::set<std::string> seen;
  AuditFilter f;
  f.limit = 10;
  int pages = 0;
  while (true) {
    ASSERT_OK_AND_ASSIGN(AuditPage page, audit_->List(f));
    ++pages;
    for (const AuditEntry& e : page.entries) EXPECT_TRUE(seen.insert(e.object_id).second) << "no entry twice";
    if (!page.next_before) break;
    f.before = *page.next_before;
  }
  EXPECT_EQ(seen.size(), 25u);
  EXPECT_EQ(pages, 3);
  f = {};
  f.limit = 0;
  EXPECT_EQ(audit_->List(f).status().code(), Code::kInvalidArgument);
  f.limit = 1001;
  EXPECT_EQ(audit_->List(f).status().code(), Code::kInvalidArgument);
}

TEST_P(AuditStoreConformance, PruneDeletesOnlyOlderEntriesOldestFirst) {
  std::vector<AuditEntry> many;
  for (int i = 0; i < 10; ++i) many.push_back(Entry("key:1", "contact.update", std::to_string(i), i));
  ASSERT_OK(audit_->Append(many));
  ASSERT_OK_AND_ASSIGN(int64_t n, audit_->Prune(kT0 + seconds(6), 4));
  EXPECT_EQ(n, 4);
  ASSERT_OK_AND_ASSIGN(n, audit_->Prune(kT0 + seconds(6), 4));
  EXPECT_EQ(n, 2) << "only entries before the cut-off";
  std::vector<AuditEntry> left = All(*audit_);
  ASSERT_EQ(left.size(), 4u);
  EXPECT_EQ(left.back().object_id, "6");
}

TEST_P(AuditStoreConformance, WritersInTwoProcessesLoseNothing) {
  std::shared_ptr<AuditStore> other = Open();  // another process on the same database
  ASSERT_NE(other, nullptr);
  constexpr int kEach = 100;
  auto write = [](AuditStore& store, const std::string& actor) {
    for (int i = 0; i < kEach; ++i) {
      EXPECT_OK(store.Append(std::vector{Entry(actor, "contact.update", std::to_string(i))}));
    }
  };
  std::thread a(write, std::ref(*audit_), "key:1");
  std::thread b(write, std::ref(*other), "key:2");
  a.join();
  b.join();
  std::vector<AuditEntry> all = All(*audit_);
  EXPECT_EQ(all.size(), 2u * kEach);
  std::set<int64_t> ids;
  for (const AuditEntry& e : all) ids.insert(e.id);
  EXPECT_EQ(ids.size(), all.size()) << "ids are unique";
}

}  // namespace
}  // namespace outflow
