#include "bulk_lateness.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "engine/engine.h"
#include "engine/handler.h"
#include "engine/metrics.h"
#include "ingest/import_service.h"
#include "store/sqlite/sqlite_store.h"

namespace outflow::bench {
namespace {

using Steady = std::chrono::steady_clock;
constexpr int kWindowSeconds = 8;  // jobs fall due over this long from just before the operation

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "engine_bench lateness-bulk: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T Must(Result<T> r, const std::string& what) {
  if (!r.ok()) Fail(what + ": " + r.status().ToString());
  return std::move(r).value();
}

void Must(const Status& st, const std::string& what) {
  if (!st.ok()) Fail(what + ": " + st.ToString());
}

Timestamp Now() {
  return SystemClock::Instance().Now();
}

double Pct(std::vector<int64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size())));
  return static_cast<double>(v[i]) / 1000.0;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The longest single store call of the operation (its own transaction, and its
// wait for the writer), set by the operations below.
double g_longest_call_ms = 0;

template <typename F>
auto Timed(F&& f) {
  const auto t0 = Steady::now();
  auto r = f();
  g_longest_call_ms =
      std::max(g_longest_call_ms, std::chrono::duration<double, std::milli>(Steady::now() - t0).count());
  return r;
}

struct OpResult {
  double seconds = 0;
  double longest_hold_ms = 0;
  double longest_call_ms = 0;
  double longest_checkpoint_ms = 0;
  double p50 = 0, p99 = 0, max = 0;  // lateness (ms) of the jobs due while it ran
  size_t jobs = 0;
};

// The fixed parts of the database: contacts, the static segment, an account, a template.
struct Fixture {
  std::string path;
  SegmentId everyone;
  AccountId account;
  TemplateId template_id;
};

SqliteOptions OptionsFor(int chunk) {
  SqliteOptions o;
  if (chunk > 0) o.segment_fill_chunk = o.fanout_chunk = chunk;
  return o;
}

Fixture Build(const BulkLatenessConfig& cfg, const std::string& dir) {
  Fixture f{dir + "/outflow.db", {}, {}, {}};
  auto s = Must(SqliteStores::Open(f.path, {}, Now()), "open");
  Segment everyone{SegmentId(), "Everyone", SegmentKind::kStatic, std::nullopt, 0, false, false, {}, {}};
  f.everyone = Must(s->segments().Create(everyone, Now()), "segment").id;
  const auto t0 = Steady::now();
  std::vector<Contact> batch;
  for (int64_t i = 0; i < cfg.contacts; ++i) {
    Contact c;
    c.email = "user" + std::to_string(i) + "@example.com";
    c.first_name = "User" + std::to_string(i);
    c.tier = i % 2 == 0 ? "pro" : "free";
    batch.push_back(std::move(c));
    if (batch.size() < 10'000 && i + 1 < cfg.contacts) continue;
    auto out = Must(s->contacts().UpsertBatch(batch, ExistingPolicy::kUpdate, Now()), "contacts");
    std::vector<ContactId> ids;
    for (const UpsertOutcome& o : out) ids.push_back(o.id);
    Must(s->segments().AddMembers(f.everyone, ids, Now()).status(), "members");
    batch.clear();
  }
  SendingAccount a;
  a.name = "bench";
  a.channel = Channel::kEmail;
  a.provider = "log";
  a.rate_per_second = a.burst = 1000;
  f.account = Must(s->campaigns().CreateAccount(a, nullptr, Now()), "account").id;
  MessageTemplateRecord t;
  t.name = "bench";
  t.subject = "Hello {{first_name}}";
  t.text = "Hi";
  f.template_id = Must(s->campaigns().CreateTemplate(t, Now()), "template").id;
  std::printf("  loaded %lld contacts (every other one pro) in %.1f s\n", static_cast<long long>(cfg.contacts),
              std::chrono::duration<double>(Steady::now() - t0).count());
  return f;
}

// The two operations, each run to its end.
void Fill(SqliteStores& s, const std::string& name, int64_t contacts) {
  Filter pro;
  pro.kind = Filter::Kind::kCondition;
  pro.condition = {"tier", FilterOp::kEquals, {"pro"}};
  Segment seg{SegmentId(), name, SegmentKind::kDynamic, pro, 0, false, false, {}, {}};
  Segment created = Must(Timed([&] { return s.segments().Create(seg, Now()); }), "create segment");
  while (!Must(Timed([&] { return s.segments().FillChunk(created.id, Now()); }), "fill").done) {
  }
  ContactFilter live_pro;
  live_pro.tier = "pro";
  live_pro.status = ContactStatus::kLive;
  const int64_t want = Must(s.contacts().Count(live_pro), "count");  // with the imports' contacts
  const int64_t members = Must(s.segments().Get(created.id), "get").member_count;
  if (members != want || want < (contacts + 1) / 2) Fail("fill: " + std::to_string(members) + " members");
}

// `rows` new contacts committed as an import does, in batches of `batch` rows
// (CommitBatch: one transaction each, with their dynamic segment joins); batch 0:
// sized as ImportService sizes them (ImportBatchSizer, from each commit's time).
void Import(SqliteStores& s, const std::string& tag, int rows, int fixed_batch) {
  AdaptiveBatch sizer = ImportBatchSizer();
  outflow::Import im;
  im.file_name = tag + ".csv";
  im.file_path = "/nonexistent";
  im = Must(s.imports().Create(im, Now()), "import");
  Must(s.imports().SetState(im.id, ImportState::kQueued, ImportState::kValidating, Now()), "validating");
  im.state = ImportState::kValidating;
  Must(s.imports().SetValidated(im, Now()), "validated");
  uint64_t offset = 0;
  for (int done = 0; done < rows;) {
    ImportBatch b;
    b.start_offset = offset;
    const int batch = fixed_batch > 0 ? fixed_batch : sizer.size();
    for (int i = 0; i < batch && done < rows; ++i, ++done) {
      Contact c;
      c.email = tag + "-" + std::to_string(done) + "@example.org";
      c.tier = done % 2 == 0 ? "pro" : "free";
      b.contacts.push_back(std::move(c));
      b.contact_rows.push_back(done + 2);
    }
    b.rows_read = static_cast<int64_t>(b.contacts.size());
    b.bytes_done = offset = offset + 100 * b.contacts.size();
    b.next_line = done + 2;
    b.last = done >= rows;
    const auto t0 = std::chrono::steady_clock::now();
    Must(Timed([&] { return s.imports().CommitBatch(im.id, b, ExistingPolicy::kUpdate, Now()); }).status(),
         "commit batch");
    sizer.Observe(std::chrono::steady_clock::now() - t0);
  }
}

void FanOut(SqliteStores& s, const Fixture& f, const std::string& name, int64_t contacts) {
  Campaign c;
  c.name = name;
  c.account = f.account;
  c.template_id = f.template_id;
  c.audience.segments = {f.everyone.value()};
  c.state = CampaignState::kScheduled;
  c = Must(s.campaigns().CreateCampaign(c, Now()), "campaign");
  Must(Timed([&] { return s.campaigns().Start(c.id, Now()); }).status(), "start");
  while (!Must(Timed([&] { return s.campaigns().ContinueFanOut(c.id, Now()); }), "fan out")) {
  }
  const int64_t total = Must(s.campaigns().GetCampaign(c.id), "get").counts.total;
  if (total != contacts) Fail("fan-out: " + std::to_string(total) + " messages");
}

// Runs `op` beside an engine whose jobs fall due at `rate`/s around it.
OpResult RunBeside(const Fixture& f, int chunk, int rate, const std::function<void(SqliteStores&)>& op) {
  auto s = Must(SqliteStores::Open(f.path, OptionsFor(chunk), Now()), "open");
  const size_t n = static_cast<size_t>(rate) * kWindowSeconds;
  std::vector<std::pair<int64_t, int64_t>> seen(n);  // (due, lateness) in µs
  std::atomic<size_t> next{0};
  HandlerRegistry handlers;
  handlers.Register("noop", std::make_shared<FunctionHandler>("records its lateness", [&](const Job& job) {
                      const size_t i = next.fetch_add(1);
                      if (i < seen.size()) seen[i] = {ToMicros(job.due_at), ToMicros(Now()) - ToMicros(job.due_at)};
                      return RunResult::Done();
                    }));
  EngineMetrics metrics;
  EngineOptions eo;
  eo.workers = 2;
  eo.batch_window = std::chrono::milliseconds(1);  // as the daemon
  Engine engine(s->jobs(), SystemClock::Instance(), handlers, metrics, eo);
  const Timestamp first_due = Now() + std::chrono::milliseconds(300);
  std::vector<JobSpec> specs(n);
  for (size_t i = 0; i < n; ++i) {
    specs[i].kind = "noop";
    specs[i].due_at = first_due + std::chrono::microseconds(1'000'000 * static_cast<int64_t>(i) / rate);
    specs[i].payload = "{}";
  }
  for (size_t i = 0; i < n; i += 1000) {
    Must(s->jobs().Enqueue(std::span(specs).subspan(i, std::min<size_t>(1000, n - i)), Now()).status(), "enqueue");
  }
  Must(engine.Start(), "engine");
  std::this_thread::sleep_until(Steady::now() + (first_due + std::chrono::milliseconds(500) - Now()));
  s->ResetWriterHolds();
  g_longest_call_ms = 0;
  const Timestamp op_start = Now();
  op(*s);
  const Timestamp op_end = Now();
  const WriterHoldStats holds = s->writer_holds();
  while (metrics.completed.load() < n) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  engine.Stop();
  std::vector<int64_t> during;
  for (const auto& [due, late] : seen) {
    if (due >= ToMicros(op_start) && due <= ToMicros(op_end)) during.push_back(late);
  }
  return {std::chrono::duration<double>(op_end - op_start).count(),
          static_cast<double>(holds.longest.count()) / 1000.0,
          g_longest_call_ms,
          static_cast<double>(holds.longest_checkpoint.count()) / 1000.0,
          Pct(during, 50),
          Pct(during, 99),
          Pct(during, 100),
          during.size()};
}

void Print(const char* what, const char* mode, int run, const OpResult& r) {
  std::printf(
      "  run %d %-8s %-16s %.3f s; longest writer hold %.1f ms (its own longest call %.1f ms, the "
      "checkpointer's %.1f ms); lateness of the %zu jobs due meanwhile: p50 %.3f  p99 %.3f  max %.3f ms\n",
      run, what, mode, r.seconds, r.longest_hold_ms, r.longest_call_ms, r.longest_checkpoint_ms, r.jobs, r.p50, r.p99,
      r.max);
  std::fflush(stdout);
}

struct Series {
  std::vector<double> seconds, hold, call, p99, max;
  void Add(const OpResult& r) {
    seconds.push_back(r.seconds);
    call.push_back(r.longest_call_ms);
    hold.push_back(r.longest_hold_ms);
    p99.push_back(r.p99);
    max.push_back(r.max);
  }
};

void Summary(const char* what, const Series& chunked, const Series& whole) {
  std::printf(
      "  %-8s medians, chunked vs one transaction: time %.3f / %.3f s; longest hold %.1f / %.1f ms (%.0fx), own "
      "longest call %.1f / %.1f ms; lateness p99 %.3f / %.3f ms, max %.3f / %.3f ms\n",
      what, Median(chunked.seconds), Median(whole.seconds), Median(chunked.hold), Median(whole.hold),
      Median(whole.hold) / std::max(Median(chunked.hold), 0.001), Median(chunked.call), Median(whole.call),
      Median(chunked.p99), Median(whole.p99), Median(chunked.max), Median(whole.max));
}

}  // namespace

void BenchBulkLateness(const BulkLatenessConfig& cfg) {
  const int chunk = cfg.chunk > 0 ? cfg.chunk : SqliteOptions().segment_fill_chunk;
  std::printf(
      "\n== lateness-bulk: %lld contacts; jobs due at %d/s around each operation, workers=2; chunk %d vs one "
      "transaction\n",
      static_cast<long long>(cfg.contacts), cfg.rate, chunk);
  const std::string dir = cfg.tmp + "/outflow-bulkbench-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  const Fixture f = Build(cfg, dir);
  Series fill[2], fan[2], imp[2];  // [0] chunked, [1] one transaction (import: 20,000-row batches)
  const char* modes[2] = {"chunked", "one transaction"};
  for (int run = 1; run <= cfg.runs; ++run) {
    for (int m = 0; m < 2; ++m) {
      const int c = m == 0 ? chunk : INT_MAX;
      const std::string tag = std::to_string(run) + "-" + std::to_string(m);
      OpResult r = RunBeside(f, c, cfg.rate, [&](SqliteStores& s) { Fill(s, "fill-" + tag, cfg.contacts); });
      Print("fill", modes[m], run, r);
      fill[m].Add(r);
      r = RunBeside(f, c, cfg.rate, [&](SqliteStores& s) { FanOut(s, f, "fan-out " + tag, cfg.contacts); });
      Print("fan-out", modes[m], run, r);
      fan[m].Add(r);
      const int batch = m == 0 ? cfg.import_batch : 20'000;
      r = RunBeside(f, c, cfg.rate, [&](SqliteStores& s) { Import(s, "import-" + tag, cfg.import_rows, batch); });
      Print("import", m == 0 ? "batches" : "20,000 batches", run, r);
      imp[m].Add(r);
    }
  }
  Summary("fill", fill[0], fill[1]);
  Summary("fan-out", fan[0], fan[1]);
  std::printf("  (import: %d rows in batches of %d vs 20,000, %d dynamic segments kept by then)\n", cfg.import_rows,
              cfg.import_batch, 2 * cfg.runs);
  Summary("import", imp[0], imp[1]);
  if (!cfg.keep) std::filesystem::remove_all(dir);
}

}  // namespace outflow::bench
