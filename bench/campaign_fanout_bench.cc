// Campaign fan-out against a real SQLite file (docs/benchmarks.md): N live contacts
// with emails in one static segment, an email account (provider "log") and a
// template; each run creates a new campaign to the segment and times its whole
// fan-out into the outbox: CampaignStore::Start and ContinueFanOut until done, a
// chunk a transaction (target: <= 2 s for 1,000,000 recipients), and the longest
// hold of the writer meanwhile. --chunk N: recipients per chunk (default
// SqliteOptions'; one larger than the audience is the one transaction of before).
// Usage: campaign_fanout_bench [--contacts N] [--runs N] [--chunk N] [--keep]
//   --keep: leave the temporary directory (its path is printed) for a look with sqlite3.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/clock.h"
#include "bench_store.h"
#include "store/sqlite/sqlite_store.h"

using namespace outflow;         // NOLINT(google-build-using-namespace)
using namespace outflow::bench;  // NOLINT(google-build-using-namespace)

int main(int argc, char** argv) {
  int64_t contacts = 1'000'000;
  int runs = 3;
  int chunk = 0;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--contacts") && i + 1 < argc)
      contacts = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--runs") && i + 1 < argc)
      runs = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--chunk") && i + 1 < argc)
      chunk = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--keep"))
      keep = true;
    else {
      std::fprintf(stderr, "usage: campaign_fanout_bench [--contacts N] [--runs N] [--chunk N] [--keep]\n");
      return 2;
    }
  }
  if (contacts <= 0 || runs <= 0) {
    std::fprintf(stderr, "--contacts and --runs must be positive\n");
    return 2;
  }
  std::printf("campaign_fanout_bench\n");
  std::printf("  machine: %s\n", MachineLine().c_str());
  TempDir tmp("outflow-fanoutbench-");
  const std::string& dir = tmp.path();
  std::printf("  database: %s/outflow.db\n", dir.c_str());
  std::fflush(stdout);
  Timestamp now = SystemClock::Instance().Now();
  SqliteOptions options;
  if (chunk > 0) options.fanout_chunk = chunk;
  std::printf("  recipients per chunk: %d\n", options.fanout_chunk);
  auto stores = OrDie(SqliteStores::Open(dir + "/outflow.db", options, now), "open");
  SqliteStores& s = *stores;

  Segment seg = StaticSegment(s, "Everyone", now);
  auto t0 = Steady::now();
  LoadContacts(
      s, seg.id, contacts,
      [](int64_t i, Contact& c) {
        c.email = "user" + std::to_string(i) + "@example.com";
        c.first_name = "User" + std::to_string(i);
      },
      now);
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

  std::vector<double> secs, holds;
  for (int r = 0; r < runs; ++r) {
    Campaign c;
    c.name = "fan-out run " + std::to_string(r + 1);
    c.account = acct.id;
    c.template_id = tpl.id;
    c.audience.segments = {seg.id.value()};
    c.state = CampaignState::kScheduled;
    c = OrDie(s.campaigns().CreateCampaign(c, now), "create campaign");
    s.ResetWriterHolds();
    auto s0 = Steady::now();
    OrDie(s.campaigns().Start(c.id, SystemClock::Instance().Now()).status(), "start");
    int chunks = 1;
    while (!OrDie(s.campaigns().ContinueFanOut(c.id, SystemClock::Instance().Now()), "fan out")) ++chunks;
    double sec = Seconds(Steady::now() - s0);
    const double hold_ms = static_cast<double>(s.writer_holds().longest.count()) / 1000.0;
    const double ckpt_ms = static_cast<double>(s.writer_holds().longest_checkpoint.count()) / 1000.0;
    secs.push_back(sec);
    holds.push_back(hold_ms);
    Campaign started = OrDie(s.campaigns().GetCampaign(c.id), "get");
    if (started.state != CampaignState::kProcessing || started.counts.pending != contacts ||
        started.counts.total != contacts) {
      std::fprintf(stderr, "run %d: campaign %lld is %s with %lld pending of %lld (expected %lld)\n", r + 1,
                   static_cast<long long>(c.id.value()), std::string(CampaignStateName(started.state)).c_str(),
                   static_cast<long long>(started.counts.pending), static_cast<long long>(started.counts.total),
                   static_cast<long long>(contacts));
      return 1;
    }
    std::printf(
        "run %d: fan-out of campaign %lld, %lld recipients: %.3f s (%.0f recipients/s), %d transactions, "
        "longest writer hold %.1f ms (the checkpointer's %.1f ms)\n",
        r + 1, static_cast<long long>(c.id.value()), static_cast<long long>(contacts), sec,
        static_cast<double>(contacts) / sec, chunks + 1, hold_ms, ckpt_ms);
    std::fflush(stdout);
  }
  double med = Median(secs);
  std::string all;
  for (double x : secs) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", x);
    all += (all.empty() ? "" : " / ") + std::string(buf);
  }
  std::printf(
      "fan-out of %lld recipients: median %.3f s (%.0f recipients/s), runs %s s, longest writer hold median "
      "%.1f ms; target <= 2 s at 1,000,000: %s\n",
      static_cast<long long>(contacts), med, static_cast<double>(contacts) / med, all.c_str(), Median(holds),
      contacts < 1'000'000 ? "n/a (fewer contacts)"
      : med <= 2.0         ? "met"
                           : "NOT MET");
  stores.reset();
  if (keep) {
    tmp.Keep();
    std::printf("kept %s\n", dir.c_str());
  }
  return 0;
}
