// Segment benchmarks against a real SQLite file (docs/benchmarks.md):
//   - counting a dynamic segment over N contacts (target: <= 50 ms at 1,000,000);
//   - updating one contact whose change moves it between dynamic segments, with 20
//     dynamic segments defined (target: <= 1 ms per update, memberships included).
// Usage: segment_bench [--contacts N] [--updates N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "base/clock.h"
#include "store/sqlite/sqlite_store.h"

using namespace outflow;
using Steady = std::chrono::steady_clock;

namespace {

double Ms(Steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

Filter Cond(std::string field, FilterOp op, std::string value) {
  Filter f;
  f.kind = Filter::Kind::kCondition;
  f.condition = {std::move(field), op, {std::move(value)}};
  return f;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t contacts = 1'000'000;
  int updates = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--contacts")) contacts = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--updates")) updates = std::atoi(argv[i + 1]);
  }
  std::string dir = std::filesystem::temp_directory_path() / ("outflow-segbench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  Timestamp now = SystemClock::Instance().Now();
  auto stores = SqliteStores::Open(dir + "/outflow.db", {}, now);
  if (!stores.ok()) {
    std::fprintf(stderr, "%s\n", stores.status().ToString().c_str());
    return 1;
  }
  SqliteStores& s = **stores;
  const char* tiers[] = {"free", "pro", "enterprise", "trial"};
  // 20 dynamic segments: tiers, stages, score bands, email domains.
  std::vector<Filter> filters;
  for (const char* t : tiers) filters.push_back(Cond("tier", FilterOp::kEquals, t));
  for (const char* st : {"hook", "lead", "customer", "churned"}) filters.push_back(Cond("pipeline_stage", FilterOp::kEquals, st));
  for (int band = 0; band < 8; ++band) filters.push_back(Cond("engagement_score", FilterOp::kGreaterThan, std::to_string(band * 10)));
  for (const char* d : {"example.com", "example.org", "example.net", "mail.test"}) filters.push_back(Cond("email", FilterOp::kContains, d));
  std::vector<SegmentId> ids;
  for (size_t i = 0; i < filters.size(); ++i) {
    Segment seg{SegmentId(), "seg-" + std::to_string(i), SegmentKind::kDynamic, filters[i], 0, {}, {}};
    ids.push_back(s.segments().Create(seg, now).value().id);
  }
  auto t0 = Steady::now();
  const char* stages[] = {"hook", "lead", "customer", "churned"};
  const char* domains[] = {"example.com", "example.org", "example.net", "mail.test"};
  std::vector<Contact> batch;
  for (int64_t i = 0; i < contacts; ++i) {
    Contact c;
    c.email = "user" + std::to_string(i) + "@" + domains[i % 4];
    c.tier = tiers[i % 4];
    c.pipeline_stage = stages[(i / 4) % 4];
    c.engagement_score = static_cast<double>(i % 100);
    batch.push_back(std::move(c));
    if (batch.size() == 10'000 || i + 1 == contacts) {
      auto r = s.contacts().UpsertBatch(batch, ExistingPolicy::kUpdate, now);
      if (!r.ok()) {
        std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
        return 1;
      }
      batch.clear();
    }
  }
  std::printf("machine: %u cores\n", std::thread::hardware_concurrency());
  std::printf("loaded %lld contacts with 20 dynamic segments kept: %.1f s (%.0f contacts/s)\n",
              static_cast<long long>(contacts), Ms(Steady::now() - t0) / 1000,
              static_cast<double>(contacts) / (Ms(Steady::now() - t0) / 1000));
  // Counting: member_count is maintained; read it through the store.
  std::vector<double> count_ms;
  int64_t members = 0;
  for (int i = 0; i < 50; ++i) {
    auto c0 = Steady::now();
    members = s.segments().Get(ids[1]).value().member_count;
    count_ms.push_back(Ms(Steady::now() - c0));
  }
  std::printf("count a dynamic segment (%lld members): median %.3f ms, max %.3f ms\n", static_cast<long long>(members),
              Percentile(count_ms, 0.5), Percentile(count_ms, 1.0));
  // Updating one contact: each update flips its tier, so it leaves one segment and joins another.
  std::vector<double> upd_ms;
  for (int i = 0; i < updates; ++i) {
    ContactId id((i * 7919) % contacts + 1);
    auto u0 = Steady::now();
    auto r = s.contacts().Update(id, [&](Contact& c) {
      c.tier = tiers[(i + 1) % 4];
      c.engagement_score = static_cast<double>((i * 37) % 100);
      return Status::Ok();
    }, now);
    upd_ms.push_back(Ms(Steady::now() - u0));
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
      return 1;
    }
  }
  std::printf("update one contact and its memberships in 20 dynamic segments: p50 %.3f ms, p99 %.3f ms (%d updates)\n",
              Percentile(upd_ms, 0.5), Percentile(upd_ms, 0.99), updates);
  std::filesystem::remove_all(dir);
  return 0;
}
