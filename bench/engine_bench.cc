// engine_bench: throughput and latency of the SQLite job store and the engine,
// measured against a real SQLite file (WAL, synchronous=NORMAL, as
// SqliteJobStore::Open sets them) in a fresh temporary directory per run.
//
//   engine_bench [enqueue|dispatch|lateness|lateness-live|all] [--runs N] [options]
//   engine_bench build-1m DIR    # writes DIR/outflow.db with 1,000,000 ready jobs due in 1 h
//   engine_bench open-1m DIR [--cold]   # times Open + Engine::Start on it and prints VmHWM;
//                                       # --cold first evicts the file from the page cache
//   engine_bench pending-1m [--runs N]  # build-1m once in a temp dir, then open-1m N times warm
//                                       # and N times --cold, each in a child process (own RSS)
//   engine_bench lateness-bulk [--bulk-contacts N] [--bulk-rate N] [--bulk-chunk N]
//                          # job lateness and the longest writer hold while a dynamic segment
//                          # over N contacts (1,000,000) is filled and a campaign to them fans
//                          # out, chunked (--bulk-chunk, default SqliteOptions') vs in one
//                          # transaction, alternating in each run; jobs due at --bulk-rate/s
//                          # (2,000). See bench/bulk_lateness.h.
//   engine_bench prune [--prune-rows N] [--prune-chunk N]
//                          # N finished jobs (10,000,000), finished 60..31 days ago, written by
//                          # one SQL statement; then JobStore::Prune(now - 30 d, chunk (5,000))
//                          # until a chunk comes back short, as Pruner does: rows/s, and the
//                          # median, p99 and longest single Prune call (its transaction)
//
// Scenarios (each repeated --runs times, default 3; every run and the median are printed):
//   enqueue        SqliteJobStore::Enqueue in batches of 1,000, payload {"n":i}: once with no
//                  idempotency key, once with a unique key per job. Target >= 200,000 jobs/s.
//   dispatch       N jobs due now are enqueued, then an Engine (SystemClock, workers=2,
//                  default claim_batch, a no-op handler) is started; the time from Start()
//                  until the engine has committed all N as done. Target >= 50,000 jobs/s.
//   lateness       rate*seconds jobs due at `rate` per second, the first ~1 s after Start();
//                  the no-op handler records Now() - due_at. Targets p50 <= 5 ms, p99 <= 50 ms.
//   lateness-live  as lateness, but a producer thread enqueues the jobs while the engine runs
//                  (every 10 ms a batch due 1 s later, then NotifyEnqueued), as the API would.
//   all            enqueue, dispatch, lateness, lateness-live.
//
// Options: --runs N, --enqueue-jobs N (200000), --dispatch-jobs N (200000), --workers N (2),
//          --rate N (10000), --seconds N (10), --batch-window-us N (1000), --tmp DIR (default $TMPDIR or /tmp), --keep.
//
// The engine and store phases are timed with a pass-through JobStore that counts calls and
// time per method, so each dispatch/lateness run also prints where the dispatcher spent it.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "base/time.h"
#include "bulk_lateness.h"
#include "domain/job.h"
#include "engine/engine.h"
#include "engine/handler.h"
#include "engine/metrics.h"
#include "store/sqlite/sqlite_job_store.h"

namespace outflow::bench {
namespace {

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// Small helpers.

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "engine_bench: %s\n", what.c_str());
  std::exit(1);
}

void CheckOk(const Status& st, const std::string& what) {
  if (!st.ok()) Die(what + ": " + st.ToString());
}

template <typename T>
T Check(Result<T> r, const std::string& what) {
  if (!r.ok()) Die(what + ": " + r.status().ToString());
  return std::move(r).value();
}

double SecondsSince(Steady::time_point t0) {
  return std::chrono::duration<double>(Steady::now() - t0).count();
}

Timestamp Now() {
  return SystemClock::Instance().Now();
}

// 1234567.8 -> "1,234,568"
std::string Thousands(double v) {
  long long n = std::llround(v);
  bool neg = n < 0;
  std::string digits = std::to_string(neg ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return neg ? "-" + out : out;
}

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Nearest-rank percentile of a sorted sample.
template <typename T>
T Percentile(const std::vector<T>& sorted, double p) {
  if (sorted.empty()) return T{};
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

// A field of /proc/self/status in kB ("VmHWM", "VmRSS"), or -1.
long long ProcStatusKb(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::atoll(line.c_str() + key.size() + 1);
  }
  return -1;
}

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The first value of a /proc/cpuinfo field ("model name", "cpu MHz").
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

std::string FsType(const std::string& path) {
  struct statfs s {};
  if (statfs(path.c_str(), &s) != 0) return "unknown";
  switch (static_cast<unsigned long>(s.f_type)) {
    case 0xEF53: return "ext4";
    case 0x01021994: return "tmpfs (RAM: not a real disk!)";
    case 0x794c7630: return "overlayfs";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "0x%lx", static_cast<unsigned long>(s.f_type));
      return buf;
    }
  }
}

// Options shared by all scenarios.
struct Config {
  int runs = 3;
  size_t enqueue_jobs = 200'000;
  size_t dispatch_jobs = 200'000;
  int workers = 2;
  int rate = 10'000;
  int seconds = 10;
  int batch_window_us = 1000;  // EngineOptions::batch_window, as the daemon sets it
  std::string tmp;             // parent of the per-run temp dirs
  bool keep = false;
  int64_t prune_rows = 10'000'000;
  int prune_chunk = 5000;
  BulkLatenessConfig bulk;
};

class TempDir {
 public:
  TempDir(const std::string& parent, bool keep) : keep_(keep) {
    std::string tmpl = parent + "/outflow-bench-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) Die("mkdtemp in " + parent + ": " + std::strerror(errno));
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    if (!keep_) fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& Path() const { return path_; }
  std::string DbPath() const { return path_ + "/outflow.db"; }

 private:
  std::string path_;
  bool keep_;
};

std::unique_ptr<SqliteJobStore> OpenStore(const std::string& path) {
  return Check(SqliteJobStore::Open(path, Now()), "open " + path);
}

// Batches of specs for `n` jobs of kind "noop"; job i is due at due(i).
std::vector<std::vector<JobSpec>> MakeBatches(size_t n, size_t batch, const std::function<Timestamp(size_t)>& due,
                                              bool unique_keys, const std::string& key_prefix = "k-") {
  std::vector<std::vector<JobSpec>> out;
  out.reserve((n + batch - 1) / batch);
  for (size_t i = 0; i < n; ++i) {
    if (i % batch == 0) {
      out.emplace_back();
      out.back().reserve(std::min(batch, n - i));
    }
    JobSpec s;
    s.kind = "noop";
    s.due_at = due(i);
    s.payload = "{\"n\":" + std::to_string(i) + "}";
    if (unique_keys) s.idempotency_key = key_prefix + std::to_string(i);
    out.back().push_back(std::move(s));
  }
  return out;
}

void EnqueueAll(JobStore& store, const std::vector<std::vector<JobSpec>>& batches) {
  for (const auto& b : batches) {
    auto r = Check(store.Enqueue(b, Now()), "enqueue");
    if (r.size() != b.size()) Die("enqueue returned a short result");
  }
}

// ---------------------------------------------------------------------------------------------
// A pass-through JobStore that counts calls, items and time per method (per batch, so its own
// cost is two clock reads per store transaction).

class TimedStore final : public JobStore {
 public:
  struct Op {
    std::atomic<int64_t> calls{0};
    std::atomic<int64_t> items{0};
    std::atomic<int64_t> ns{0};
    std::atomic<int64_t> max_ns{0};
    void Add(int64_t n_items, Steady::time_point t0) {
      int64_t d = std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now() - t0).count();
      calls.fetch_add(1, std::memory_order_relaxed);
      items.fetch_add(n_items, std::memory_order_relaxed);
      ns.fetch_add(d, std::memory_order_relaxed);
      int64_t m = max_ns.load(std::memory_order_relaxed);
      while (d > m && !max_ns.compare_exchange_weak(m, d)) {
      }
    }
  };

  explicit TimedStore(JobStore& inner) : inner_(inner) {}

  Result<std::vector<EnqueueResult>> Enqueue(std::span<const JobSpec> specs, Timestamp now) override {
    auto t0 = Steady::now();
    auto r = inner_.Enqueue(specs, now);
    enqueue.Add(static_cast<int64_t>(specs.size()), t0);
    return r;
  }
  Result<Job> Get(JobId id) override { return inner_.Get(id); }
  Result<JobPage> List(const JobFilter& filter) override { return inner_.List(filter); }
  Result<Job> Cancel(JobId id, Timestamp now) override { return inner_.Cancel(id, now); }
  Result<std::vector<Job>> ClaimKinds(std::string_view owner, Timestamp now, Duration lease, int limit,
                                      std::span<const std::string> kinds) override {
    return inner_.ClaimKinds(owner, now, lease, limit, kinds);
  }
  Result<std::vector<Job>> Claim(std::string_view owner, Timestamp now, Duration lease, int limit) override {
    auto t0 = Steady::now();
    auto r = inner_.Claim(owner, now, lease, limit);
    claim.Add(r.ok() ? static_cast<int64_t>(r->size()) : 0, t0);
    return r;
  }
  Result<CommitStats> Commit(std::string_view owner, std::span<const JobOutcome> outcomes, Timestamp now) override {
    auto t0 = Steady::now();
    auto r = inner_.Commit(owner, outcomes, now);
    commit.Add(static_cast<int64_t>(outcomes.size()), t0);
    return r;
  }
  Result<RecoverStats> RecoverLeases(Timestamp now, std::optional<std::string_view> owner) override {
    auto t0 = Steady::now();
    auto r = inner_.RecoverLeases(now, owner);
    recover.Add(r.ok() ? r->to_ready + r->to_dead : 0, t0);
    return r;
  }
  Result<WakeTimes> NextWakeTimes() override {
    auto t0 = Steady::now();
    auto r = inner_.NextWakeTimes();
    wake.Add(0, t0);
    return r;
  }
  Result<StateCounts> CountByState() override { return inner_.CountByState(); }
  Result<int64_t> Prune(Timestamp before, int limit) override { return inner_.Prune(before, limit); }

  // "claim 200 calls, 1000.0 jobs/call, 1234 ms (avg 6.2 ms, max 20.1 ms)"
  void Print(const char* indent) const {
    struct Row {
      const char* name;
      const Op* op;
      const char* unit;
    };
    for (const Row& row :
         {Row{"claim", &claim, "jobs"}, Row{"commit", &commit, "outcomes"}, Row{"next-wake", &wake, ""},
          Row{"recover", &recover, "leases"}, Row{"enqueue", &enqueue, "jobs"}}) {
      int64_t calls = row.op->calls.load();
      if (calls == 0) continue;
      double total_ms = static_cast<double>(row.op->ns.load()) / 1e6;
      std::printf("%s%-9s %7s calls", indent, row.name, Thousands(static_cast<double>(calls)).c_str());
      if (*row.unit) {
        std::printf(", %7.1f %s/call", static_cast<double>(row.op->items.load()) / static_cast<double>(calls),
                    row.unit);
      }
      std::printf(", total %8.1f ms, avg %6.3f ms, max %6.1f ms\n", total_ms, total_ms / static_cast<double>(calls),
                  static_cast<double>(row.op->max_ns.load()) / 1e6);
    }
  }

  Op enqueue, claim, commit, recover, wake;

 private:
  JobStore& inner_;
};

// ---------------------------------------------------------------------------------------------
// Summary across scenarios.

struct SummaryRow {
  std::string metric;
  std::string median;
  std::string runs;
  std::string target;
  bool met;
};
std::vector<SummaryRow> g_summary;

std::string JoinRuns(const std::vector<double>& v, int decimals, bool thousands) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += " / ";
    s += thousands ? Thousands(v[i]) : Fixed(v[i], decimals);
  }
  return s;
}

void PrintSummary() {
  if (g_summary.empty()) return;
  size_t w0 = 6, w1 = 6, w2 = 4, w3 = 6;
  for (const auto& r : g_summary) {
    w0 = std::max(w0, r.metric.size());
    w1 = std::max(w1, r.median.size());
    w2 = std::max(w2, r.runs.size());
    w3 = std::max(w3, r.target.size());
  }
  std::printf("\n== Summary (medians; the machine is shared, so single runs are noisy)\n");
  std::printf("%-*s  %*s  %-*s  %-*s  %s\n", static_cast<int>(w0), "metric", static_cast<int>(w1), "median",
              static_cast<int>(w2), "runs", static_cast<int>(w3), "target", "met");
  for (const auto& r : g_summary) {
    std::printf("%-*s  %*s  %-*s  %-*s  %s\n", static_cast<int>(w0), r.metric.c_str(), static_cast<int>(w1),
                r.median.c_str(), static_cast<int>(w2), r.runs.c_str(), static_cast<int>(w3), r.target.c_str(),
                r.met ? "yes" : "NO");
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Enqueue throughput.

void BenchEnqueue(const Config& cfg) {
  constexpr size_t kBatch = 1000;
  for (bool keys : {false, true}) {
    std::printf("\n== enqueue: %s jobs per run in batches of %zu, payload {\"n\":i}, %s\n",
                Thousands(static_cast<double>(cfg.enqueue_jobs)).c_str(), kBatch,
                keys ? "a unique idempotency key per job" : "no idempotency key");
    std::vector<double> rates;
    for (int run = 1; run <= cfg.runs; ++run) {
      TempDir dir(cfg.tmp, cfg.keep);
      auto store = OpenStore(dir.DbPath());
      Timestamp now = Now();
      // Keys are unique across runs too, though each run has a fresh database anyway.
      auto batches = MakeBatches(
          cfg.enqueue_jobs, kBatch, [&](size_t) { return now; }, keys, "order-" + std::to_string(run) + "-");
      std::vector<double> batch_ms;
      batch_ms.reserve(batches.size());
      auto t0 = Steady::now();
      for (const auto& b : batches) {
        auto tb = Steady::now();
        auto r = Check(store->Enqueue(b, Now()), "enqueue");
        batch_ms.push_back(SecondsSince(tb) * 1e3);
        if (r.size() != b.size() ||
            !std::all_of(r.begin(), r.end(), [](const EnqueueResult& e) { return e.created; })) {
          Die("enqueue did not create every job");
        }
      }
      double secs = SecondsSince(t0);
      auto counts = Check(store->CountByState(), "count");
      if (counts[static_cast<size_t>(JobState::kReady)] != static_cast<int64_t>(cfg.enqueue_jobs)) {
        Die("enqueue: wrong number of ready jobs in the database");
      }
      std::sort(batch_ms.begin(), batch_ms.end());
      double rate = static_cast<double>(cfg.enqueue_jobs) / secs;
      rates.push_back(rate);
      std::printf("  run %d: %9s jobs/s  (%.3f s; per-batch ms p50 %.2f, p99 %.2f, max %.2f)\n", run,
                  Thousands(rate).c_str(), secs, Percentile(batch_ms, 50), Percentile(batch_ms, 99), batch_ms.back());
      std::fflush(stdout);
    }
    double med = Median(rates);
    std::printf("  median: %s jobs/s   target >= 200,000 jobs/s: %s\n", Thousands(med).c_str(),
                med >= 200'000 ? "met" : "NOT MET");
    g_summary.push_back({keys ? "enqueue, unique idempotency keys (jobs/s)" : "enqueue, no idempotency key (jobs/s)",
                         Thousands(med), JoinRuns(rates, 0, true), ">= 200,000", med >= 200'000});
  }
}

// ---------------------------------------------------------------------------------------------
// 2. Dispatch throughput with a no-op handler.

void BenchDispatch(const Config& cfg) {
  const size_t n = cfg.dispatch_jobs;
  std::printf(
      "\n== dispatch: %s jobs due now, Engine(SystemClock, workers=%d, claim_batch=%d, max_in_flight=%d), "
      "no-op handler; time from Start() until all are committed done\n",
      Thousands(static_cast<double>(n)).c_str(), cfg.workers, EngineOptions().claim_batch,
      EngineOptions().max_in_flight);
  std::vector<double> rates;
  for (int run = 1; run <= cfg.runs; ++run) {
    TempDir dir(cfg.tmp, cfg.keep);
    auto store = OpenStore(dir.DbPath());
    Timestamp due = Now();
    auto batches = MakeBatches(
        n, 1000, [&](size_t) { return due; }, false);
    auto te = Steady::now();
    EnqueueAll(*store, batches);
    double enqueue_s = SecondsSince(te);
    batches.clear();

    TimedStore timed(*store);
    HandlerRegistry handlers;
    std::atomic<int64_t> ran{0};
    handlers.Register("noop", std::make_shared<FunctionHandler>("does nothing", [&](const Job&) {
                        ran.fetch_add(1, std::memory_order_relaxed);
                        return RunResult::Done();
                      }));
    EngineMetrics metrics;
    EngineOptions opts;
    opts.workers = cfg.workers;
    Engine engine(timed, SystemClock::Instance(), handlers, metrics, opts);

    double cpu0 = CpuSeconds();
    auto t0 = Steady::now();
    CheckOk(engine.Start(), "engine start");
    double all_ran_s = 0;
    while (metrics.completed.load(std::memory_order_relaxed) < n) {
      if (all_ran_s == 0 && ran.load(std::memory_order_relaxed) >= static_cast<int64_t>(n))
        all_ran_s = SecondsSince(t0);
      if (SecondsSince(t0) > 300) Die("dispatch: not finished after 300 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    double secs = SecondsSince(t0);
    double cpu = CpuSeconds() - cpu0;
    if (all_ran_s == 0) all_ran_s = secs;
    engine.Stop();

    auto counts = Check(store->CountByState(), "count");
    if (counts[static_cast<size_t>(JobState::kDone)] != static_cast<int64_t>(n)) Die("dispatch: not every job is done");
    if (ran.load() != static_cast<int64_t>(n)) Die("dispatch: a job ran more than once");
    double rate = static_cast<double>(n) / secs;
    rates.push_back(rate);
    std::printf(
        "  run %d: %9s jobs/s  (%.3f s; all handlers had run at %.3f s; CPU %.2f s = %.2f cores; "
        "pre-enqueue %.2f s, not counted)\n",
        run, Thousands(rate).c_str(), secs, all_ran_s, cpu, cpu / secs, enqueue_s);
    timed.Print("         ");
    std::fflush(stdout);
  }
  double med = Median(rates);
  std::printf("  median: %s jobs/s   target >= 50,000 jobs/s: %s\n", Thousands(med).c_str(),
              med >= 50'000 ? "met" : "NOT MET");
  g_summary.push_back({"dispatch, no-op handler, 2 workers (jobs/s)", Thousands(med), JoinRuns(rates, 0, true),
                       ">= 50,000", med >= 50'000});
}

// ---------------------------------------------------------------------------------------------
// 3. Start lateness.

struct LatenessResult {
  double p50, p90, p99, p999, max, min;
  int64_t early;  // started before due: must be 0
};

// live=false: every job is enqueued before Start(). live=true: a producer enqueues them while
// the engine runs, each batch 1 s ahead of its due times, and calls NotifyEnqueued.
LatenessResult RunLateness(const Config& cfg, bool live, int run) {
  const size_t n = static_cast<size_t>(cfg.rate) * static_cast<size_t>(cfg.seconds);
  const Duration spacing = Duration(1'000'000 / cfg.rate);
  TempDir dir(cfg.tmp, cfg.keep);
  auto store = OpenStore(dir.DbPath());
  TimedStore timed(*store);

  std::vector<int64_t> lateness_us(n, 0);
  std::atomic<size_t> next{0};
  HandlerRegistry handlers;
  handlers.Register("noop", std::make_shared<FunctionHandler>("records its start lateness", [&](const Job& job) {
                      int64_t late = ToMicros(SystemClock::Instance().Now()) - ToMicros(job.due_at);
                      size_t i = next.fetch_add(1, std::memory_order_relaxed);
                      if (i < lateness_us.size()) lateness_us[i] = late;
                      return RunResult::Done();
                    }));
  EngineMetrics metrics;
  EngineOptions opts;
  opts.workers = cfg.workers;
  opts.batch_window = Duration(cfg.batch_window_us);
  Engine engine(timed, SystemClock::Instance(), handlers, metrics, opts);

  Timestamp first_due;
  std::thread producer;
  double cpu0 = 0;
  if (!live) {
    first_due = Now() + std::chrono::milliseconds(1500);  // enqueueing takes ~0.5 s; then ~1 s to go
    auto batches = MakeBatches(
        n, 1000, [&](size_t i) { return first_due + spacing * static_cast<int64_t>(i); }, false);
    EnqueueAll(*store, batches);
    cpu0 = CpuSeconds();
    Timestamp started = Now();
    CheckOk(engine.Start(), "engine start");
    std::printf("  run %d: first job due %.0f ms after Start()\n", run,
                std::chrono::duration<double, std::milli>(first_due - started).count());
  } else {
    cpu0 = CpuSeconds();
    CheckOk(engine.Start(), "engine start");
    // Every 10 ms, enqueue the jobs due in a 10 ms window 1 s later.
    const Timestamp start = Now();
    first_due = start + std::chrono::seconds(1);
    const size_t per_tick = static_cast<size_t>(cfg.rate) / 100;
    producer = std::thread([&, per_tick] {
      size_t done = 0;
      for (int64_t tick = 0; done < n; ++tick) {
        std::this_thread::sleep_until(Steady::now() + (start + std::chrono::milliseconds(10 * tick) - Now()));
        std::vector<JobSpec> batch;
        batch.reserve(per_tick);
        for (size_t k = 0; k < per_tick && done < n; ++k, ++done) {
          JobSpec s;
          s.kind = "noop";
          s.due_at = first_due + spacing * static_cast<int64_t>(done);
          s.payload = "{\"n\":" + std::to_string(done) + "}";
          batch.push_back(std::move(s));
        }
        Check(timed.Enqueue(batch, Now()), "enqueue");
        engine.NotifyEnqueued(batch.front().due_at);
      }
    });
    std::printf("  run %d: producer enqueues %zu jobs every 10 ms, each due 1 s later\n", run, per_tick);
  }
  std::fflush(stdout);

  const Timestamp last_due = first_due + spacing * static_cast<int64_t>(n - 1);
  while (metrics.completed.load(std::memory_order_relaxed) < n) {
    if (Now() > last_due + std::chrono::seconds(60)) Die("lateness: not finished 60 s after the last due time");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  double span_s = std::chrono::duration<double>(Now() - first_due).count();
  double cpu = CpuSeconds() - cpu0;
  if (producer.joinable()) producer.join();
  engine.Stop();
  auto counts = Check(store->CountByState(), "count");
  if (counts[static_cast<size_t>(JobState::kDone)] != static_cast<int64_t>(n)) Die("lateness: not every job is done");
  if (next.load() != n)
    Die("lateness: handler ran " + std::to_string(next.load()) + " times for " + std::to_string(n) + " jobs");

  std::sort(lateness_us.begin(), lateness_us.end());
  auto ms = [](int64_t us) { return static_cast<double>(us) / 1000.0; };
  LatenessResult r{ms(Percentile(lateness_us, 50)),
                   ms(Percentile(lateness_us, 90)),
                   ms(Percentile(lateness_us, 99)),
                   ms(Percentile(lateness_us, 99.9)),
                   ms(lateness_us.back()),
                   ms(lateness_us.front()),
                   std::count_if(lateness_us.begin(), lateness_us.end(), [](int64_t v) { return v < 0; })};
  std::printf(
      "         lateness ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (min %.3f, started early: %lld)"
      "; CPU %.2f cores\n",
      r.p50, r.p90, r.p99, r.p999, r.max, r.min, static_cast<long long>(r.early), cpu / span_s);
  timed.Print("         ");
  std::fflush(stdout);
  return r;
}

void BenchLateness(const Config& cfg, bool live) {
  const size_t n = static_cast<size_t>(cfg.rate) * static_cast<size_t>(cfg.seconds);
  std::printf(
      "\n== %s: %s jobs due at %s/s over %d s (%s), no-op handler recording Now() - due_at, "
      "workers=%d, batch_window %d us\n",
      live ? "lateness-live" : "lateness", Thousands(static_cast<double>(n)).c_str(), Thousands(cfg.rate).c_str(),
      cfg.seconds, live ? "enqueued while the engine runs, 1 s ahead" : "all enqueued before Start()", cfg.workers,
      cfg.batch_window_us);
  std::vector<double> p50, p90, p99, mx;
  for (int run = 1; run <= cfg.runs; ++run) {
    LatenessResult r = RunLateness(cfg, live, run);
    p50.push_back(r.p50);
    p90.push_back(r.p90);
    p99.push_back(r.p99);
    mx.push_back(r.max);
  }
  double m50 = Median(p50), m90 = Median(p90), m99 = Median(p99), mmax = Median(mx);
  std::printf("  median of runs: p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms\n", m50, m90, m99, mmax);
  std::printf("  target p50 <= 5 ms: %s; p99 <= 50 ms: %s\n", m50 <= 5 ? "met" : "NOT MET",
              m99 <= 50 ? "met" : "NOT MET");
  std::string name = live ? "lateness-live" : "lateness";
  g_summary.push_back({name + " p50 (ms)", Fixed(m50, 3), JoinRuns(p50, 3, false), "<= 5", m50 <= 5});
  g_summary.push_back({name + " p90 (ms)", Fixed(m90, 3), JoinRuns(p90, 3, false), "-", true});
  g_summary.push_back({name + " p99 (ms)", Fixed(m99, 3), JoinRuns(p99, 3, false), "<= 50", m99 <= 50});
  g_summary.push_back({name + " max (ms)", Fixed(mmax, 3), JoinRuns(mx, 3, false), "-", true});
}

// ---------------------------------------------------------------------------------------------
// 4. One million pending jobs.

constexpr size_t kMillion = 1'000'000;

int Build1m(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) Die("create " + dir + ": " + ec.message());
  const std::string path = dir + "/outflow.db";
  if (fs::exists(path)) Die(path + " already exists; remove it (and its -wal/-shm) first");
  auto t0 = Steady::now();
  {
    auto store = OpenStore(path);
    const Timestamp due = Now() + std::chrono::hours(1);
    constexpr size_t kBatch = 1000;
    for (size_t first = 0; first < kMillion; first += kBatch) {
      auto batches = MakeBatches(
          kBatch, kBatch, [&](size_t i) { return due + Duration(first + i); }, false);
      // Payloads continue the numbering across batches.
      for (size_t i = 0; i < kBatch; ++i) batches[0][i].payload = "{\"n\":" + std::to_string(first + i) + "}";
      EnqueueAll(*store, batches);
    }
  }  // closing the last connection checkpoints the WAL into the file
  double secs = SecondsSince(t0);
  std::printf("built %s: %s ready jobs due in 1 h in %.2f s (%s jobs/s); file %.1f MB; VmHWM of the build %.1f MB\n",
              path.c_str(), Thousands(kMillion).c_str(), secs, Thousands(static_cast<double>(kMillion) / secs).c_str(),
              static_cast<double>(fs::file_size(path)) / 1e6, static_cast<double>(ProcStatusKb("VmHWM")) / 1024);
  return 0;
}

// Drops the file's pages from the OS page cache (written back first), so that the next
// open reads it from the device. Only this file's pages: the rest of the machine is untouched.
void EvictFromPageCache(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;  // e.g. no -wal file
  ::fdatasync(fd);
  int rc = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
  if (rc != 0) Die("posix_fadvise(DONTNEED) " + path + ": " + std::strerror(rc));
}

int Open1m(const std::string& dir, bool cold) {
  const std::string path = dir + "/outflow.db";
  if (!fs::exists(path)) Die(path + " does not exist; run 'engine_bench build-1m " + dir + "' first");
  if (cold) {
    for (const char* suffix : {"", "-wal", "-shm"}) EvictFromPageCache(path + suffix);
  }
  const long long hwm_before = ProcStatusKb("VmHWM");
  HandlerRegistry handlers;
  handlers.Register("noop",
                    std::make_shared<FunctionHandler>("does nothing", [](const Job&) { return RunResult::Done(); }));
  EngineMetrics metrics;
  EngineOptions opts;
  opts.workers = 2;

  auto t0 = Steady::now();
  auto store = OpenStore(path);
  double open_s = SecondsSince(t0);
  auto engine = std::make_unique<Engine>(*store, SystemClock::Instance(), handlers, metrics, opts);
  CheckOk(engine->Start(), "engine start");
  double start_s = SecondsSince(t0);
  if (!engine->running()) Die("engine not running after Start()");
  // The dispatcher's first pass (recover expired leases, claim what is due, look up the next
  // due time) ends when it goes to sleep until the next due job, an hour from now.
  while (engine->SleepTargetForTest() == Timestamp::max()) {
    if (SecondsSince(t0) > 120) Die("dispatcher not idle 120 s after Start()");
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  double idle_s = SecondsSince(t0);
  const Timestamp sleep_until = engine->SleepTargetForTest();
  const long long hwm = ProcStatusKb("VmHWM");
  const long long rss = ProcStatusKb("VmRSS");
  engine->Stop();
  engine.reset();

  // Not part of the measurement: confirm the database holds what build-1m wrote.
  auto tc = Steady::now();
  auto counts = Check(store->CountByState(), "count");
  double count_s = SecondsSince(tc);
  int64_t ready = counts[static_cast<size_t>(JobState::kReady)];
  std::printf("open-1m%s %s: %s ready jobs; dispatcher sleeps %.0f s\n", cold ? " --cold" : "", path.c_str(),
              Thousands(static_cast<double>(ready)).c_str(),
              std::chrono::duration<double>(sleep_until - Now()).count());
  std::printf("  Open %.1f ms, Open+Start %.1f ms, until the dispatcher is idle %.1f ms\n", open_s * 1e3, start_s * 1e3,
              idle_s * 1e3);
  std::printf("  VmHWM %.1f MB (before Open %.1f MB), VmRSS %.1f MB\n", static_cast<double>(hwm) / 1024,
              static_cast<double>(hwm_before) / 1024, static_cast<double>(rss) / 1024);
  std::printf("  (afterwards, not measured: CountByState over 1M rows took %.1f ms)\n", count_s * 1e3);
  // One line for pending-1m to parse.
  std::printf("RESULT open_ms=%.3f start_ms=%.3f idle_ms=%.3f vmhwm_kb=%lld vmrss_kb=%lld ready=%lld\n", open_s * 1e3,
              start_s * 1e3, idle_s * 1e3, hwm, rss, static_cast<long long>(ready));
  return ready == static_cast<int64_t>(kMillion) ? 0 : 1;
}

std::string SelfExe() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  if (ec) Die("read /proc/self/exe: " + ec.message());
  return p.string();
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

// Runs a command, echoing its output; returns the output.
std::string RunChild(const std::string& cmd) {
  std::fflush(stdout);
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) Die("popen " + cmd);
  std::string out;
  char buf[4096];
  while (fgets(buf, sizeof buf, p) != nullptr) {
    out += buf;
    if (std::strncmp(buf, "RESULT ", 7) != 0) std::printf("    %s", buf);
  }
  int rc = pclose(p);
  if (rc != 0) Die("child failed: " + cmd);
  std::fflush(stdout);
  return out;
}

double ParseField(const std::string& out, const std::string& key) {
  auto p = out.find("RESULT ");
  if (p == std::string::npos) Die("no RESULT line in child output");
  auto k = out.find(" " + key + "=", p);
  if (k == std::string::npos) Die("no " + key + " in RESULT line");
  return std::atof(out.c_str() + k + key.size() + 2);
}

void BenchPending1m(const Config& cfg) {
  std::printf(
      "\n== pending-1m: 1,000,000 ready jobs due in 1 h; each run is a fresh process: "
      "SqliteJobStore::Open + Engine::Start, then VmHWM\n");
  TempDir dir(cfg.tmp, cfg.keep);
  const std::string self = SelfExe();
  std::printf("  build (once, not measured):\n");
  RunChild(ShellQuote(self) + " build-1m " + ShellQuote(dir.Path()));
  for (bool cold : {false, true}) {
    std::vector<double> start_ms, idle_ms, hwm_mb;
    for (int run = 1; run <= cfg.runs; ++run) {
      std::printf("  run %d (%s):\n", run,
                  cold ? "cold: the file evicted from the page cache first" : "warm page cache");
      std::string out = RunChild(ShellQuote(self) + " open-1m " + ShellQuote(dir.Path()) + (cold ? " --cold" : ""));
      start_ms.push_back(ParseField(out, "start_ms"));
      idle_ms.push_back(ParseField(out, "idle_ms"));
      hwm_mb.push_back(ParseField(out, "vmhwm_kb") / 1024);
    }
    double ms = Median(start_ms), mi = Median(idle_ms), mh = Median(hwm_mb);
    std::printf(
        "  median (%s): Open+Start %.1f ms, until idle %.1f ms, VmHWM %.1f MB   targets start-up <= 2 s: %s; "
        "RSS <= 300 MB: %s\n",
        cold ? "cold" : "warm", ms, mi, mh, mi <= 2000 ? "met" : "NOT MET", mh <= 300 ? "met" : "NOT MET");
    std::string tag = cold ? " cold" : " warm";
    g_summary.push_back(
        {"1M pending," + tag + ": Open+Start (ms)", Fixed(ms, 1), JoinRuns(start_ms, 1, false), "<= 2000", ms <= 2000});
    g_summary.push_back({"1M pending," + tag + ": Open+Start+first pass (ms)", Fixed(mi, 1),
                         JoinRuns(idle_ms, 1, false), "<= 2000", mi <= 2000});
    g_summary.push_back({"1M pending," + tag + ": peak RSS, VmHWM (MB)", Fixed(mh, 1), JoinRuns(hwm_mb, 1, false),
                         "<= 300", mh <= 300});
  }
}

// ---------------------------------------------------------------------------------------------

// Writes `rows` done jobs that finished between 60 and 31 days before `now`.
void WriteFinishedJobs(const std::string& path, int64_t rows, Timestamp now) {
  OpenStore(path).reset();  // creates and migrates the schema (job_counts and its triggers)
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) Die("open " + path);
  const int64_t oldest = ToMicros(now - std::chrono::hours(24 * 60));
  const int64_t step = std::max<int64_t>(1, Duration(std::chrono::hours(24 * 29)).count() / rows);
  const std::string sql =
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; BEGIN; "
      "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i + 1 < " +
      std::to_string(rows) +
      ") "
      "INSERT INTO jobs(kind, state, due_at, attempts, max_attempts, payload, created_at, updated_at, started_at, "
      "finished_at) SELECT 'noop', 'done', t, 1, 5, '{\"n\":' || i || '}', t, t, t, t FROM (SELECT i, " +
      std::to_string(oldest) + " + i * " + std::to_string(step) + " AS t FROM c); COMMIT;";
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) Die(std::string("insert: ") + err);
  sqlite3_close(db);
}

void BenchPrune(const Config& cfg) {
  std::printf("\n== prune: %s finished jobs, all past a 30-day retention, in chunks of %d\n",
              Thousands(static_cast<double>(cfg.prune_rows)).c_str(), cfg.prune_chunk);
  TempDir dir(cfg.tmp, cfg.keep);
  const Timestamp now = Now();
  auto t0 = Steady::now();
  WriteFinishedJobs(dir.DbPath(), cfg.prune_rows, now);
  std::printf("written in %.1f s; file %.1f MB\n", SecondsSince(t0),
              static_cast<double>(fs::file_size(dir.DbPath())) / 1e6);
  auto store = OpenStore(dir.DbPath());
  std::vector<double> call_ms;
  int64_t total = 0;
  t0 = Steady::now();
  while (true) {
    auto c0 = Steady::now();
    int64_t n = Check(store->Prune(now - std::chrono::hours(24 * 30), cfg.prune_chunk), "prune");
    call_ms.push_back(SecondsSince(c0) * 1000);
    total += n;
    if (n < cfg.prune_chunk) break;
  }
  const double secs = SecondsSince(t0);
  auto counts = Check(store->CountByState(), "count");
  const size_t longest_at = static_cast<size_t>(std::max_element(call_ms.begin(), call_ms.end()) - call_ms.begin());
  const auto slow = std::count_if(call_ms.begin(), call_ms.end(), [](double ms) { return ms > 100; });
  std::printf("first transaction %.1f ms; the longest was number %zu; %td over 100 ms\n", call_ms.front(),
              longest_at + 1, slow);
  std::sort(call_ms.begin(), call_ms.end());
  std::printf(
      "pruned %s rows in %.1f s: %s rows/s; %zu transactions: median %.1f ms, p99 %.1f ms, longest %.1f ms; "
      "done left %lld\n",
      Thousands(static_cast<double>(total)).c_str(), secs, Thousands(static_cast<double>(total) / secs).c_str(),
      call_ms.size(), Percentile(call_ms, 50), Percentile(call_ms, 99), call_ms.back(),
      static_cast<long long>(counts[static_cast<size_t>(JobState::kDone)]));
}

void PrintMachine(const Config& cfg) {
  utsname u{};
  uname(&u);
  std::printf("engine_bench\n");
  std::printf("  machine: nproc %ld, CPU %s (%s MHz, cache %s), %s %s\n", sysconf(_SC_NPROCESSORS_ONLN),
              CpuInfo("model name").c_str(), CpuInfo("cpu MHz").c_str(), CpuInfo("cache size").c_str(), u.sysname,
              u.release);
  std::printf("  memory:  %s\n", ReadFirstLine("/proc/meminfo").c_str());
  std::printf("  load:    %s (/proc/loadavg at start; the machine is shared)\n",
              ReadFirstLine("/proc/loadavg").c_str());
  std::printf("  SQLite:  %s (journal_mode=WAL, synchronous=NORMAL, as SqliteJobStore::Open sets)\n",
              sqlite3_libversion());
#if defined(__OPTIMIZE__) && defined(NDEBUG)
  const char* build = "optimised, NDEBUG";
#elif defined(__OPTIMIZE__)
  const char* build = "optimised, assertions on";
#else
  const char* build = "NOT OPTIMISED (debug build: figures are meaningless)";
#endif
  std::printf("  build:   %s, compiler %s\n", build, __VERSION__);
  std::printf("  temp:    %s (%s)\n", cfg.tmp.c_str(), FsType(cfg.tmp).c_str());
  std::printf("  runs:    %d per scenario\n", cfg.runs);
  std::fflush(stdout);
}

[[noreturn]] void Usage() {
  std::fprintf(
      stderr,
      "usage: engine_bench [enqueue|dispatch|lateness|lateness-live|all] [--runs N] [options]\n"
      "       engine_bench pending-1m [--runs N]\n"
      "       engine_bench prune [--prune-rows N (10000000)] [--prune-chunk N (5000)]\n"
      "       engine_bench lateness-bulk [--bulk-contacts N (1000000)] [--bulk-rate N (2000)] [--bulk-chunk N]\n"
      "                                   [--bulk-import-rows N (100000)] [--bulk-import-batch N (5000)]\n"
      "       engine_bench build-1m DIR\n"
      "       engine_bench open-1m DIR [--cold]\n"
      "options: --runs N (3) --enqueue-jobs N (200000) --dispatch-jobs N (200000) --workers N (2)\n"
      "         --rate N (10000) --seconds N (10) --batch-window-us N (1000) --tmp DIR ($TMPDIR or /tmp) --keep\n");
  std::exit(2);
}

int Main(int argc, char** argv) {
  log::SetLevel(log::Level::kWarn);  // the engine's start/stop lines would interleave with the table
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string cmd = "all";
  if (!args.empty() && args[0].rfind("--", 0) != 0) {
    cmd = args[0];
    args.erase(args.begin());
  }
  if (cmd == "build-1m") {
    if (args.size() != 1) Usage();
    return Build1m(args[0]);
  }
  if (cmd == "open-1m") {
    bool cold = !args.empty() && args.back() == "--cold";
    if (cold) args.pop_back();
    if (args.size() != 1) Usage();
    return Open1m(args[0], cold);
  }

  Config cfg;
  const char* tmpdir = std::getenv("TMPDIR");
  cfg.tmp = tmpdir && *tmpdir ? tmpdir : "/tmp";
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> long long {
      if (i + 1 >= args.size()) Usage();
      char* end = nullptr;
      long long v = std::strtoll(args[++i].c_str(), &end, 10);
      if (*end != '\0' || v <= 0) Usage();
      return v;
    };
    if (a == "--runs")
      cfg.runs = static_cast<int>(value());
    else if (a == "--enqueue-jobs")
      cfg.enqueue_jobs = static_cast<size_t>(value());
    else if (a == "--dispatch-jobs")
      cfg.dispatch_jobs = static_cast<size_t>(value());
    else if (a == "--workers")
      cfg.workers = static_cast<int>(value());
    else if (a == "--rate")
      cfg.rate = static_cast<int>(value());
    else if (a == "--seconds")
      cfg.seconds = static_cast<int>(value());
    else if (a == "--batch-window-us")
      cfg.batch_window_us = static_cast<int>(value());
    else if (a == "--tmp" && i + 1 < args.size())
      cfg.tmp = args[++i];
    else if (a == "--keep")
      cfg.keep = true;
    else if (a == "--prune-rows")
      cfg.prune_rows = value();
    else if (a == "--prune-chunk")
      cfg.prune_chunk = static_cast<int>(value());
    else if (a == "--bulk-contacts")
      cfg.bulk.contacts = value();
    else if (a == "--bulk-rate")
      cfg.bulk.rate = static_cast<int>(value());
    else if (a == "--bulk-chunk")
      cfg.bulk.chunk = static_cast<int>(value());
    else if (a == "--bulk-import-rows")
      cfg.bulk.import_rows = static_cast<int>(value());
    else if (a == "--bulk-import-batch")
      cfg.bulk.import_batch = static_cast<int>(value());
    else
      Usage();
  }
  if (cfg.rate < 100 || 1'000'000 % cfg.rate != 0) Die("--rate must be >= 100 and divide 1,000,000");

  if (cmd != "enqueue" && cmd != "dispatch" && cmd != "lateness" && cmd != "lateness-live" && cmd != "pending-1m" &&
      cmd != "prune" && cmd != "lateness-bulk" && cmd != "all") {
    Usage();
  }
  PrintMachine(cfg);
  auto t0 = Steady::now();
  if (cmd == "enqueue") {
    BenchEnqueue(cfg);
  } else if (cmd == "dispatch") {
    BenchDispatch(cfg);
  } else if (cmd == "lateness") {
    BenchLateness(cfg, false);
  } else if (cmd == "lateness-live") {
    BenchLateness(cfg, true);
  } else if (cmd == "pending-1m") {
    BenchPending1m(cfg);
  } else if (cmd == "prune") {
    BenchPrune(cfg);
  } else if (cmd == "lateness-bulk") {
    cfg.bulk.runs = cfg.runs;
    cfg.bulk.tmp = cfg.tmp;
    cfg.bulk.keep = cfg.keep;
    BenchBulkLateness(cfg.bulk);
  } else if (cmd == "all") {
    BenchEnqueue(cfg);
    BenchDispatch(cfg);
    BenchLateness(cfg, false);
    BenchLateness(cfg, true);
  } else {
    Usage();
  }
  PrintSummary();
  std::printf("\ntotal time %.1f s\n", SecondsSince(t0));
  return 0;
}

}  // namespace
}  // namespace outflow::bench

int main(int argc, char** argv) {
  return outflow::bench::Main(argc, argv);
}
