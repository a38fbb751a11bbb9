// StoreSet: every store over one database, as the conformance suites of stores
// that work together open them (a campaign's audience lives in segments and its
// messages in the outbox; an import writes contacts). An implementation gives the
// suites a factory that opens its stores in a fresh directory; `owner` keeps them
// alive. The suites: contact_store_conformance.h, import_store_conformance.h,
// release_store_conformance.h, campaign_store_conformance.h.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "store/campaign_store.h"
#include "store/contact_store.h"
#include "store/import_store.h"
#include "store/job_store.h"
#include "store/outbox_store.h"
#include "store/release_store.h"
#include "store/segment_store.h"
#include "testing/temp_dir.h"

namespace outflow {

struct StoreSet {
  std::shared_ptr<void> owner;
  JobStore* jobs = nullptr;
  ContactStore* contacts = nullptr;
  ImportStore* imports = nullptr;
  SegmentStore* segments = nullptr;
  ReleaseStore* releases = nullptr;
  CampaignStore* campaigns = nullptr;
  OutboxStore* outbox = nullptr;
};

struct StoreSetFactory {
  std::string name;
  std::function<Result<StoreSet>(const std::string& dir, Timestamp now)> open;
};

inline std::string PrintToString(const StoreSetFactory& f) {
  return f.name;
}

// The base of the suites: opens the stores in a fresh directory before each test.
class StoreSetTest : public ::testing::TestWithParam<StoreSetFactory> {
 protected:
  static constexpr Timestamp kT0 = Timestamp(std::chrono::microseconds(1'800'000'000'000'000));

  void SetUp() override {
    Result<StoreSet> s = GetParam().open(dir_.path().string(), kT0);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    stores_ = std::move(s).value();
  }
  JobStore& jobs() { return *stores_.jobs; }
  ContactStore& contacts() { return *stores_.contacts; }
  ImportStore& imports() { return *stores_.imports; }
  SegmentStore& segments() { return *stores_.segments; }
  ReleaseStore& releases() { return *stores_.releases; }
  CampaignStore& campaigns() { return *stores_.campaigns; }
  OutboxStore& outbox() { return *stores_.outbox; }
  // The jobs whose idempotency key is `key` (0 or 1).
  std::vector<Job> JobsWithKey(const std::string& key) {
    std::vector<Job> out;
    JobFilter f;
    f.limit = 1000;
    while (true) {
      Result<JobPage> page = jobs().List(f);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok()) return out;
      for (Job& j : page->jobs) {
        if (j.idempotency_key == key) out.push_back(std::move(j));
      }
      if (!page->next_after) return out;
      f.after = *page->next_after;
    }
  }

  testing::TempDir dir_;
  StoreSet stores_;
};

}  // namespace outflow
