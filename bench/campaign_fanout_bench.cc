// Campaign fan-out against a real SQLite file (docs/benchmarks.md): N live contacts
// with emails in one static segment, an email account (provider "log") and a
// template; each run creates a new campaign to the segment and times
// CampaignStore::Start, the one transaction that freezes the audience into the
// ledger (target: <= 10 s for 1,000,000 recipients).
// Usage: campaign_fanout_bench [--contacts N] [--runs N] [--keep]
//   --keep: leave the temporary directory (its path is printed) for a look with sqlite3.
#include <sqlite3.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/clock.h"
#include "store/sqlite/sqlite_store.h"

using namespace outflow;
using Steady = std::chrono::steady_clock;

namespace {

double Seconds(Steady::duration d) { return std::chrono::duration<double>(d).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The first value of a /proc/cpuinfo field ("model name").
std::string CpuInfo(const std::string& field) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) {
      auto p = line.find(':');
      if (p != std::string::npos) return line.substr(p + 2);
    }
  }
  return "unknown";
}

template <typename T>
T OrDie(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, r.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

}  // namespace

int main(int argc, char** argv) {
  int64_t contacts = 1'000'000;
  int runs = 3;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--contacts") && i + 1 < argc) contacts = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--runs") && i + 1 < argc) runs = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--keep")) keep = true;
    else {
      std::fprintf(stderr, "usage: campaign_fanout_bench [--contacts N] [--runs N] [--keep]\n");
      return 2;
    }
  }
  if (contacts <= 0 || runs <= 0) {
    std::fprintf(stderr, "--contacts and --runs must be positive\n");
    return 2;
  }
  utsname u{};
  uname(&u);
  std::printf("campaign_fanout_bench\n");
  std::printf("  machine: nproc %ld, CPU %s, %s %s; SQLite %s\n", sysconf(_SC_NPROCESSORS_ONLN),
              CpuInfo("model name").c_str(), u.sysname, u.release, sqlite3_libversion());
#if !defined(__OPTIMIZE__)
  std::printf("  NOT OPTIMISED (debug build: figures are meaningless)\n");
#endif
  std::string dir = std::filesystem::temp_directory_path() / ("outflow-fanoutbench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::printf("  database: %s/outflow.db\n", dir.c_str());
  std::fflush(stdout);
  Timestamp now = SystemClock::Instance().Now();
  auto stores = OrDie(SqliteStores::Open(dir + "/outflow.db", {}, now), "open");
  SqliteStores& s = *stores;

  Segment seg{SegmentId(), "Everyone", SegmentKind::kStatic, std::nullopt, 0, {}, {}};
  seg = OrDie(s.segments().Create(seg, now), "create segment");
  auto t0 = Steady::now();
  std::vector<Contact> batch;
  std::vector<ContactId> ids;
  for (int64_t i = 0; i < contacts; ++i) {
    Contact c;
    c.email = "user" + std::to_string(i) + "@example.com";
    c.first_name = "User" + std::to_string(i);
    batch.push_back(std::move(c));
    if (batch.size() == 10'000 || i + 1 == contacts) {
      auto outcomes = OrDie(s.contacts().UpsertBatch(batch, ExistingPolicy::kUpdate, now), "upsert contacts");
      ids.clear();
      for (const UpsertOutcome& o : outcomes) {
        if (o.kind == UpsertOutcome::Kind::kFailed) {
          std::fprintf(stderr, "contact failed: %s\n", o.error.c_str());
          return 1;
        }
        ids.push_back(o.id);
      }
      OrDie(s.segments().AddMembers(seg.id, ids, now), "add members");
      batch.clear();
    }
  }
  std::printf("loaded %lld live contacts into static segment %lld: %.1f s\n", static_cast<long long>(contacts),
              static_cast<long long>(seg.id.value()), Seconds(Steady::now() - t0));

  SendingAccount acct;
  acct.name = "bench-email";
  acct.channel = Channel::kEmail;
  acct.provider = "log";
  acct.rate_per_second = 1000;
  acct.burst = 1000;
  acct = OrDie(s.campaigns().CreateAccount(acct, nullptr, now), "create account");
  MessageTemplateRecord tpl;
  tpl.name = "bench";
  tpl.subject = "Hello {{first_name}}";
  tpl.text = "Hi {{first_name}}, this is a benchmark.";
  tpl = OrDie(s.campaigns().CreateTemplate(tpl, now), "create template");

  std::vector<double> secs;
  for (int r = 0; r < runs; ++r) {
    Campaign c;
    c.name = "fan-out run " + std::to_string(r + 1);
    c.account = acct.id;
    c.template_id = tpl.id;
    c.audience.segments = {seg.id.value()};
    c.state = CampaignState::kScheduled;
    c = OrDie(s.campaigns().CreateCampaign(c, now), "create campaign");
    auto s0 = Steady::now();
    Campaign started = OrDie(s.campaigns().Start(c.id, SystemClock::Instance().Now()), "start");
    double sec = Seconds(Steady::now() - s0);
    secs.push_back(sec);
    if (started.state != CampaignState::kProcessing || started.counts.pending != contacts ||
        started.counts.total != contacts) {
      std::fprintf(stderr, "run %d: campaign %lld is %s with %lld pending of %lld (expected %lld)\n", r + 1,
                   static_cast<long long>(c.id.value()), std::string(CampaignStateName(started.state)).c_str(),
                   static_cast<long long>(started.counts.pending), static_cast<long long>(started.counts.total),
                   static_cast<long long>(contacts));
      return 1;
    }
    std::printf("run %d: Start of campaign %lld, %lld recipients: %.3f s (%.0f recipients/s)\n", r + 1,
                static_cast<long long>(c.id.value()), static_cast<long long>(contacts), sec,
                static_cast<double>(contacts) / sec);
    std::fflush(stdout);
  }
  double med = Median(secs);
  std::string all;
  for (double x : secs) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", x);
    all += (all.empty() ? "" : " / ") + std::string(buf);
  }
  std::printf("fan-out of %lld recipients: median %.3f s (%.0f recipients/s), runs %s s; target <= 10 s at 1,000,000: %s\n",
              static_cast<long long>(contacts), med, static_cast<double>(contacts) / med, all.c_str(),
              contacts < 1'000'000 ? "n/a (fewer contacts)" : med <= 10.0 ? "met" : "NOT MET");
  stores.reset();
  if (keep) std::printf("kept %s\n", dir.c_str());
  else std::filesystem::remove_all(dir);
  return 0;
}
