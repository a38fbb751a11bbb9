// Campaigns end to end in one process (docs/benchmarks.md, "Campaigns (issue #4)"):
// a real SQLite file in a fresh temporary directory, the Engine, JobService,
// CampaignService and the outbox Sender wired as src/app/daemon.cc wires them
// (credentials sealed with a SecretBox whose key is generated into the directory),
// and the real channel senders over loopback to servers this benchmark runs on
// their own threads (bench/http_sink.h, bench/smtp_sink.h). A campaign is created
// through CampaignService::CreateCampaign, so its `campaign.start` job, Verify, the
// fan-out and the dispatcher's claim / render / limiter / send / record loop are all
// in the figures.
//
//   campaign_send_bench [--scenario all|http|smtp|pacing|lateness] [--runs N]
//                       [--recipients N] [--smtp-recipients N] [--smtp-connections 4,8,16]
//                       [--pacing-rate R] [--pacing-seconds S] [--pacing-dump PATH_PREFIX]
//                       [--lateness-campaigns K] [--lateness-audience N] [--lateness-spacing-ms MS]
//                       [--log-level warn] [--keep]
//   --keep: leave each scenario's temporary directory (database, key) in place.
//
// Scenarios:
//   http      N recipients (default 100,000) of a WhatsApp account (provider
//             whatsapp_cloud, base_url at the HTTP sink, concurrency 64), rate
//             100,000/s; one campaign "now" per run. Creation to completed (every
//             recipient sent) -> messages/s, median of --runs. Target >= 20,000.
//   smtp      The same for email (provider smtp, tls none) to the C++ SMTP sink, for
//             each --smtp-connections value. Target >= 3,000.
//   pacing    R/s (default 29) with burst R, then burst 1, each a backlog of
//             R x S recipients (S default 20); then two campaigns on one account at
//             once. The sink timestamps every message (steady clock): the most in any
//             1-second window [a, a + 1 s) starting at an arrival (target <= R), and
//             the sustained rate after the first second (target >= 28.5 for 29). The
//             same window count by the time each message was handed to SendBatch
//             tells the limiter's decisions apart from delivery latency;
//             --pacing-dump writes both times of every message as CSV.
//   lateness  K campaigns (default 50) of N recipients (10), scheduled 1 s ahead
//             and --lateness-spacing-ms (200) apart, on an unthrottled account: the
//             sink's arrival of each campaign's first message minus its send time.
//             Target p99 <= 100 ms.
//
// The dispatcher blocks every account for its first second (the restart guard,
// docs/campaigns.md "Pacing"); each scenario starts its campaigns later than that.
#include <sys/resource.h>

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/log.h"
#include "bench_store.h"
#include "campaigns/campaign_service.h"
#include "contacts/contact_service.h"
#include "crypto/secret_box.h"
#include "engine/engine.h"
#include "engine/handler.h"
#include "engine/job_service.h"
#include "engine/metrics.h"
#include "http_sink.h"
#include "sending/sender.h"
#include "smtp_sink.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/loopback_policy.h"

namespace {

using namespace outflow;         // NOLINT(google-build-using-namespace)
using namespace outflow::bench;  // NOLINT(google-build-using-namespace)
using std::chrono::milliseconds;
namespace json = boost::json;

struct Options {
  std::string scenario = "all";
  int runs = 3;
  int64_t recipients = 100'000;
  int64_t smtp_recipients = 20'000;
  std::vector<int> smtp_connections = {4, 8, 16};
  int pacing_rate = 29;
  int pacing_seconds = 20;
  std::string pacing_dump;  // a path prefix: CSVs of each pacing run's times
  int lateness_campaigns = 50;
  int lateness_audience = 10;
  int lateness_spacing_ms = 200;
  std::string log_level = "warn";
  bool keep = false;
};

// The send loop's options (--max-chunk, --max-batch; the daemon's defaults otherwise).
SenderOptions g_sender_options;

// One line of the summary printed at the end.
struct Row {
  std::string scenario, metric, figure, runs, target, met;
};

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// "12,345".
std::string Thousands(double v) {
  auto n = static_cast<long long>(std::llround(v));
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (n < 0 ? "-" : "") + out;
}

std::string Joined(const std::vector<double>& v, const char* format) {
  std::string out;
  for (double x : v) out += (out.empty() ? "" : " / ") + Fmt(format, x);
  return out;
}

double Sec(Timestamp a, Timestamp b) {
  return std::chrono::duration<double>(b - a).count();
}

// CPU seconds (user + system) of this process so far: the benchmark, the store,
// the senders and the sink threads together.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

// When the dispatcher handed each message to its channel (SendBatch entered), for
// comparing the limiter's decisions with what the sink sees. Thread-safe.
class HandoffLog {
 public:
  struct Handoff {
    std::chrono::steady_clock::time_point steady;
    Timestamp system;  // the clock the dispatcher and its limiter run on
    std::string key;
  };
  void Add(std::span<const channels::OutboundMessage> batch) {
    const auto now = std::chrono::steady_clock::now();
    const Timestamp system = SystemClock::Instance().Now();
    std::lock_guard lock(mu_);
    for (const channels::OutboundMessage& m : batch) handoffs_.push_back({now, system, m.idempotency_key});
  }
  std::vector<Handoff> Take() {
    std::lock_guard lock(mu_);
    return std::exchange(handoffs_, {});
  }

 private:
  std::mutex mu_;
  std::vector<Handoff> handoffs_;
};

// Time spent inside the channel senders' SendBatch, summed over every sender.
struct SendTime {
  std::atomic<int64_t> nanos{0};
  std::atomic<int64_t> batches{0};
  std::atomic<int64_t> messages{0};
};

// Decorates an account's real sender: times each SendBatch and, with a log,
// records when each message was handed over; passes everything on unchanged.
class RecordingSender final : public channels::ChannelSender {
 public:
  RecordingSender(std::unique_ptr<channels::ChannelSender> inner, SendTime& time, HandoffLog* log)
      : inner_(std::move(inner)), time_(time), log_(log) {}
  std::vector<channels::SendResult> SendBatch(std::span<const channels::OutboundMessage> messages) override {
    if (log_ != nullptr) log_->Add(messages);
    const auto start = std::chrono::steady_clock::now();
    std::vector<channels::SendResult> results = inner_->SendBatch(messages);
    time_.nanos.fetch_add(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count(),
        std::memory_order_relaxed);
    time_.batches.fetch_add(1, std::memory_order_relaxed);
    time_.messages.fetch_add(static_cast<int64_t>(messages.size()), std::memory_order_relaxed);
    return results;
  }
  Status Verify() override { return inner_->Verify(); }

 private:
  std::unique_ptr<channels::ChannelSender> inner_;
  SendTime& time_;
  HandoffLog* log_;
};

// The daemon's parts (src/app/daemon.cc, Daemon::Start) over a fresh SQLite file,
// without the HTTP API. Started by the constructor, stopped in the daemon's order
// (dispatcher, then engine) by the destructor. Every sender the dispatcher builds
// is wrapped in a RecordingSender (two clock reads per batch), which also logs
// hand-offs when `handoffs` is given.
class World {
 public:
  World(const std::string& name, bool keep, HandoffLog* handoffs = nullptr) : dir_("outflow-sendbench-" + name + "-") {
    if (keep) dir_.Keep();
    Clock& clock = SystemClock::Instance();
    OrDie(SecretBox::GenerateKeyFile(dir_.File("secret.key")), "generate secret key");
    secrets_.emplace(OrDie(SecretBox::FromKeyFile(dir_.File("secret.key")), "load secret key"));
    store_ = OrDie(SqliteStores::Open(dir_.File("outflow.db"), SqliteOptions(), clock.Now()), "open store");
    starter_ = std::make_shared<CampaignStartHandler>();
    handlers_.Register(std::string(kCampaignStartKind), starter_);
    EngineOptions eo;
    eo.node_id = "bench";
    eo.batch_window = milliseconds(1);  // as the daemon
    engine_ = std::make_unique<Engine>(store_->jobs(), clock, handlers_, metrics_, eo);
    jobs_ = std::make_unique<JobService>(store_->jobs(), clock, handlers_, metrics_, engine_.get());
    contacts_ = std::make_unique<ContactService>(store_->contacts(), clock);
    dispatcher_ = std::make_unique<Sender>(
        store_->outbox(), store_->campaigns(),
        [this, handoffs](const SendingAccount& a) -> Result<std::unique_ptr<channels::ChannelSender>> {
          Result<std::unique_ptr<channels::ChannelSender>> sender = campaigns_->MakeSender(a);
          if (!sender.ok()) return sender;
          return std::unique_ptr<channels::ChannelSender>(
              std::make_unique<RecordingSender>(std::move(sender).value(), send_time_, handoffs));
        },
        [this](const MessageTemplateRecord& t) { return campaigns_->Compile(t); }, clock, g_sender_options);
    campaigns_ = std::make_unique<CampaignService>(store_->campaigns(), *contacts_, *jobs_, dispatcher_.get(),
                                                   &*secrets_, clock, outflow::testing::LoopbackAllowed());
    dispatcher_->SetListener(campaigns_.get());
    starter_->SetService(campaigns_.get());
    OrDie(campaigns_->CompleteDrained(), "complete drained campaigns");
    OrDie(dispatcher_->Start(), "dispatcher start");
    dispatcher_started_ = clock.Now();
    OrDie(engine_->Start(), "engine start");
  }
  ~World() {
    dispatcher_->Stop();
    engine_->Stop();
    campaigns_.reset();
    dispatcher_.reset();
    contacts_.reset();
    jobs_.reset();
    engine_.reset();
    store_.reset();
  }
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  SqliteStores& store() { return *store_; }
  CampaignService& campaigns() { return *campaigns_; }
  Sender& dispatcher() { return *dispatcher_; }
  const SendTime& send_time() const { return send_time_; }
  const std::string& dir() const { return dir_.path(); }

  // Sleeps until the dispatcher's restart guard (its first second) is over, plus `margin`.
  void AfterRestartGuard(Duration margin) {
    std::this_thread::sleep_until(
        std::chrono::system_clock::time_point(dispatcher_started_ + std::chrono::seconds(1) + margin));
  }

  SendingAccount Account(const std::string& name, Channel channel, const std::string& provider,
                         const json::object& settings, const std::optional<json::object>& credentials, int rate,
                         int burst) {
    SendingAccount a;
    a.name = name;
    a.channel = channel;
    a.provider = provider;
    a.settings_json = json::serialize(settings);
    a.rate_per_second = rate;
    a.burst = burst;
    std::optional<std::string> creds;
    if (credentials) creds = json::serialize(*credentials);
    return OrDie(campaigns_->CreateAccount(a, creds), "create account");
  }

  MessageTemplateRecord Template(const std::string& name, const std::string& subject, const std::string& text,
                                 const std::string& html) {
    MessageTemplateRecord t;
    t.name = name;
    t.subject = subject;
    t.text = text;
    t.html = html;
    return OrDie(campaigns_->CreateTemplate(t), "create template");
  }

  Campaign Create(const std::string& name, const SendingAccount& a, const MessageTemplateRecord& t,
                  std::vector<int64_t> segments, std::optional<Timestamp> send_at = std::nullopt) {
    Campaign c;
    c.name = name;
    c.account = a.id;
    c.template_id = t.id;
    c.audience.segments = std::move(segments);
    c.scheduled_at = send_at;
    return OrDie(campaigns_->CreateCampaign(c, /*schedule=*/true), "create campaign");
  }

  // Polls until the campaign is completed, failed or cancelled; exits if it makes no
  // progress for `stall`.
  Campaign WaitFinished(CampaignId id, Duration stall = std::chrono::seconds(30)) {
    int64_t last_done = -1;
    auto last_progress = Steady::now();
    while (true) {
      Campaign c = OrDie(campaigns_->GetCampaign(id), "get campaign");
      if (c.state == CampaignState::kCompleted || c.state == CampaignState::kFailed ||
          c.state == CampaignState::kCancelled) {
        return c;
      }
      int64_t done = c.counts.sent + c.counts.failed;
      if (done != last_done) {
        last_done = done;
        last_progress = Steady::now();
      } else if (Steady::now() - last_progress > stall) {
        std::fprintf(stderr, "campaign %lld made no progress for %.0f s: %s, %lld sent, %lld failed, %lld pending\n",
                     static_cast<long long>(id.value()), std::chrono::duration<double>(stall).count(),
                     std::string(CampaignStateName(c.state)).c_str(), static_cast<long long>(c.counts.sent),
                     static_cast<long long>(c.counts.failed), static_cast<long long>(c.counts.pending));
        std::exit(1);
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
  }

 private:
  TempDir dir_;
  SendTime send_time_;
  std::optional<SecretBox> secrets_;
  std::unique_ptr<SqliteStores> store_;
  HandlerRegistry handlers_;
  EngineMetrics metrics_;
  std::shared_ptr<CampaignStartHandler> starter_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<JobService> jobs_;
  std::unique_ptr<ContactService> contacts_;
  std::unique_ptr<Sender> dispatcher_;
  std::unique_ptr<CampaignService> campaigns_;
  Timestamp dispatcher_started_{};
};

// A distinct E.164 number per index.
std::string Phone(int64_t i) {
  return "+1555" + std::to_string(1'000'000 + i);
}

void FillContact(int64_t i, Contact& c) {
  c.email = "user" + std::to_string(i) + "@example.org";
  c.phone = Phone(i);
  c.first_name = "Ann" + std::to_string(i);
  c.last_name = "Lee";
}

void CheckAllSent(const Campaign& c, int64_t expected) {
  if (c.state != CampaignState::kCompleted || c.counts.sent != expected || c.counts.failed != 0) {
    std::fprintf(stderr, "campaign %lld is %s (%s) with %lld sent, %lld failed, %lld skipped; expected %lld sent\n",
                 static_cast<long long>(c.id.value()), std::string(CampaignStateName(c.state)).c_str(), c.error.c_str(),
                 static_cast<long long>(c.counts.sent), static_cast<long long>(c.counts.failed),
                 static_cast<long long>(c.counts.skipped), static_cast<long long>(expected));
    std::exit(1);
  }
}

// One unthrottled run's times, from the campaign's stamps and the sink.
struct ThroughputRun {
  double total_s = 0;      // CreateCampaign called -> completed_at
  double to_start_s = 0;   // -> started_at (start job due at once, Verify; Start stamps before the fan-out)
  double to_first_s = 0;   // -> first message at the sink (fan-out, loop start, first claim and chunk)
  double sending_s = 0;    // first message at the sink -> completed_at
  double in_sender_s = 0;  // of which inside the senders' SendBatch (the rest: claim, render, record)
  double batches = 0;      // SendBatch calls
  double cpu_cores = 0;    // process CPU time / wall time over the run
};

template <typename Sink>
ThroughputRun TimeOneCampaign(World& w, Sink& sink, const std::string& name, const SendingAccount& a,
                              const MessageTemplateRecord& t, int64_t segment, int64_t expected) {
  sink.ResetTimes();
  const int64_t nanos0 = w.send_time().nanos.load();
  const int64_t batches0 = w.send_time().batches.load();
  const double cpu0 = CpuSeconds();
  const auto wall0 = Steady::now();
  const Timestamp t0 = SystemClock::Instance().Now();
  Campaign c = w.Create(name, a, t, {segment});
  c = w.WaitFinished(c.id);
  const double wall = Seconds(Steady::now() - wall0);
  const double cpu = CpuSeconds() - cpu0;
  CheckAllSent(c, expected);
  ThroughputRun r;
  const Timestamp first = FromMicros(sink.FirstMessageMicros());
  r.total_s = Sec(t0, *c.completed_at);
  r.to_start_s = Sec(t0, *c.started_at);
  r.to_first_s = Sec(t0, first);
  r.sending_s = Sec(first, *c.completed_at);
  r.cpu_cores = cpu / wall;
  r.in_sender_s = static_cast<double>(w.send_time().nanos.load() - nanos0) / 1e9;
  r.batches = static_cast<double>(w.send_time().batches.load() - batches0);
  return r;
}

void PrintRunHeader() {
  std::printf(
      "  total: CreateCampaign to completed_at; to start: to started_at (start job, Verify); to 1st msg: to\n"
      "  the first message at the sink (+ fan-out, first claim); sending: from there to completed_at, of\n"
      "  which 'in sender' inside SendBatch (the rest is the dispatcher's claim, render and record);\n"
      "  cores: the process's CPU time / wall time (sink included)\n");
  std::printf("  %-11s %10s %11s %8s %9s %11s %10s %10s %9s %8s %6s\n", "run", "recipients", "messages/s", "total s",
              "to start", "to 1st msg", "sending s", "sending/s", "in sender", "batches", "cores");
}
void PrintRun(const std::string& label, int64_t n, const ThroughputRun& r) {
  std::printf("  %-11s %10lld %11s %8.3f %9.3f %11.3f %10.3f %10s %9.3f %8.0f %6.2f\n", label.c_str(),
              static_cast<long long>(n), Thousands(static_cast<double>(n) / r.total_s).c_str(), r.total_s, r.to_start_s,
              r.to_first_s, r.sending_s, Thousands(static_cast<double>(n) / r.sending_s).c_str(), r.in_sender_s,
              r.batches, r.cpu_cores);
  std::fflush(stdout);
}

// The median run by total time, with every run's messages/s.
void Summarise(std::vector<Row>& summary, const std::string& scenario, const std::string& what, int64_t n,
               const std::vector<ThroughputRun>& runs, double target) {
  std::vector<double> rates, sending, to_first, outside;
  for (const ThroughputRun& r : runs) {
    rates.push_back(static_cast<double>(n) / r.total_s);
    sending.push_back(static_cast<double>(n) / r.sending_s);
    to_first.push_back(r.to_first_s);
    outside.push_back(100.0 * (r.sending_s - r.in_sender_s) / r.sending_s);
  }
  const double med = Median(rates);
  summary.push_back({scenario, what + ", creation to completed", Thousands(med) + " messages/s", Joined(rates, "%.0f"),
                     ">= " + Thousands(target), med >= target ? "yes" : "NO"});
  summary.push_back({scenario, what + ", sending only (1st message at the sink to completed)",
                     Thousands(Median(sending)) + " messages/s", Joined(sending, "%.0f"), "", ""});
  summary.push_back({scenario, what + ", creation to 1st message (start job, Verify, fan-out)",
                     Fmt("%.3f s", Median(to_first)), Joined(to_first, "%.3f"), "", ""});
  summary.push_back({scenario, what + ", share of the sending time outside SendBatch (claim, render, record)",
                     Fmt("%.0f%%", Median(outside)), Joined(outside, "%.0f%%"), "", ""});
}

// ---- http ----

void RunHttp(const Options& o, std::vector<Row>& summary) {
  std::printf("\n== http: %lld recipients, WhatsApp (whatsapp_cloud -> HTTP sink), rate 100,000/s, %d runs\n",
              static_cast<long long>(o.recipients), o.runs);
  HttpSink sink;
  World w("http", o.keep);
  Timestamp now = SystemClock::Instance().Now();
  Segment seg = StaticSegment(w.store(), "audience", now);
  auto l0 = Steady::now();
  LoadContacts(w.store(), seg.id, o.recipients, FillContact, now);
  std::printf("  loaded %lld contacts in %.1f s; database %s/outflow.db\n", static_cast<long long>(o.recipients),
              Seconds(Steady::now() - l0), w.dir().c_str());
  SendingAccount a = w.Account("wa", Channel::kWhatsapp, "whatsapp_cloud",
                               {{"phone_number_id", "1234567890"}, {"base_url", sink.BaseUrl()}, {"concurrency", 64}},
                               json::object{{"access_token", "bench-token"}}, kMaxRatePerSecond, kMaxRatePerSecond);
  MessageTemplateRecord t =
      w.Template("wa", "", "Hi {{first_name}}, your order is ready for pickup. Reply STOP to opt out.", "");
  w.AfterRestartGuard(milliseconds(100));
  PrintRunHeader();
  std::vector<ThroughputRun> runs;
  for (int r = 0; r < o.runs; ++r) {
    runs.push_back(TimeOneCampaign(w, sink, "http run " + std::to_string(r + 1), a, t, seg.id.value(), o.recipients));
    PrintRun("run " + std::to_string(r + 1), o.recipients, runs.back());
  }
  std::printf("  sink: %lld messages, %d connections\n", static_cast<long long>(sink.Messages()), sink.Connections());
  Summarise(summary, "http", Thousands(static_cast<double>(o.recipients)) + " WhatsApp messages", o.recipients, runs,
            20'000);
}

// ---- smtp ----

void RunSmtp(const Options& o, std::vector<Row>& summary) {
  std::printf(
      "\n== smtp: %lld recipients, email (smtp, tls none -> C++ SMTP sink), rate 100,000/s, %d runs per "
      "connection count\n",
      static_cast<long long>(o.smtp_recipients), o.runs);
  SmtpSink sink;
  World w("smtp", o.keep);
  Timestamp now = SystemClock::Instance().Now();
  Segment seg = StaticSegment(w.store(), "audience", now);
  auto l0 = Steady::now();
  LoadContacts(w.store(), seg.id, o.smtp_recipients, FillContact, now);
  std::printf("  loaded %lld contacts in %.1f s\n", static_cast<long long>(o.smtp_recipients),
              Seconds(Steady::now() - l0));
  MessageTemplateRecord t =
      w.Template("digest", "Your weekly digest, {{first_name}}",
                 "Hi {{first_name}},\n\nHere is what happened this week. Your order is ready for pickup.\n\n"
                 "-- \nThe Example team\n",
                 "<html><body><p>Hi {{first_name}},</p><p>Here is what happened this week. Your order is "
                 "<b>ready</b> for pickup.</p><p>-- The Example team</p></body></html>");
  std::vector<SendingAccount> accounts;
  for (int conns : o.smtp_connections) {
    accounts.push_back(w.Account("smtp-" + std::to_string(conns), Channel::kEmail, "smtp",
                                 {{"host", "127.0.0.1"},
                                  {"port", sink.Port()},
                                  {"tls", "none"},
                                  {"from_address", "bench@example.com"},
                                  {"connections", conns}},
                                 std::nullopt, kMaxRatePerSecond, kMaxRatePerSecond));
  }
  w.AfterRestartGuard(milliseconds(100));
  PrintRunHeader();
  for (size_t k = 0; k < accounts.size(); ++k) {
    const int conns = o.smtp_connections[k];
    std::vector<ThroughputRun> runs;
    for (int r = 0; r < o.runs; ++r) {
      const int64_t before = sink.Messages();
      runs.push_back(TimeOneCampaign(w, sink, "smtp c" + std::to_string(conns) + " run " + std::to_string(r + 1),
                                     accounts[k], t, seg.id.value(), o.smtp_recipients));
      if (sink.Messages() - before != o.smtp_recipients) {
        std::fprintf(stderr, "the sink accepted %lld messages, expected %lld\n",
                     static_cast<long long>(sink.Messages() - before), static_cast<long long>(o.smtp_recipients));
        std::exit(1);
      }
      PrintRun(std::to_string(conns) + " conn #" + std::to_string(r + 1), o.smtp_recipients, runs.back());
    }
    Summarise(summary, "smtp",
              Thousands(static_cast<double>(o.smtp_recipients)) + " emails, " + std::to_string(conns) + " connections",
              o.smtp_recipients, runs, 3'000);
  }
  std::printf("  sink: %lld messages (%lld bytes), %lld sessions, %lld error replies\n",
              static_cast<long long>(sink.Messages()), static_cast<long long>(sink.MessageBytes()),
              static_cast<long long>(sink.Sessions()), static_cast<long long>(sink.Errors()));
}

// ---- pacing ----

// The campaign id in a key "outflow-c<campaign>-r<contact>"; -1 if not one.
int64_t CampaignOfKey(const std::string& key) {
  if (key.rfind("outflow-c", 0) != 0) return -1;
  return std::strtoll(key.c_str() + 9, nullptr, 10);
}

struct PacingFigures {
  size_t messages = 0;
  size_t distinct = 0;
  int max_in_window = 0;   // most messages in any [a, a + 1 s) starting at a message
  int windows_at_max = 0;  // how many such windows hold that many
  double sustained = 0;    // messages/s after the first second (see Pacing)
  double span_s = 0;       // first to last
  double closest_ms = 0;   // the shortest time spanned by limit + 1 consecutive messages (a ceiling
                           // of `limit` per second holds exactly when this is >= 1000 ms)
};

using SteadyPoint = std::chrono::steady_clock::time_point;
using Nanos = std::chrono::nanoseconds;

// A time as nanoseconds since its clock's epoch, for comparing times of one clock.
template <typename TimePoint>
Nanos SinceEpoch(TimePoint t) {
  return std::chrono::duration_cast<Nanos>(t.time_since_epoch());
}

// Figures over the times (of one clock) of the messages of `campaigns`.
PacingFigures Pacing(const std::vector<std::pair<Nanos, std::string>>& all, const std::set<int64_t>& campaigns,
                     int limit) {
  std::vector<Nanos> at;
  std::set<std::string> keys;
  for (auto& [time, key] : all) {
    if (!campaigns.contains(CampaignOfKey(key))) continue;
    at.push_back(time);
    keys.insert(key);
  }
  std::sort(at.begin(), at.end());
  PacingFigures f;
  f.messages = at.size();
  f.distinct = keys.size();
  if (at.empty()) return f;
  std::vector<double> t;  // seconds since the first
  for (auto x : at) t.push_back(std::chrono::duration<double>(x - at.front()).count());
  // Sliding windows, exact: for each message i, the messages in [t_i, t_i + 1 s).
  size_t j = 0;
  for (size_t i = 0; i < at.size(); ++i) {
    while (j < at.size() && at[j] - at[i] < std::chrono::seconds(1)) ++j;
    int n = static_cast<int>(j - i);
    if (n > f.max_in_window) {
      f.max_in_window = n;
      f.windows_at_max = 0;
    }
    if (n == f.max_in_window) ++f.windows_at_max;
  }
  f.span_s = t.back();
  Nanos closest = Nanos::max();
  for (size_t i = 0; i + static_cast<size_t>(limit) < at.size(); ++i) {
    closest = std::min(closest, at[i + static_cast<size_t>(limit)] - at[i]);
  }
  f.closest_ms = std::chrono::duration<double, std::milli>(closest).count();
  // Sustained, after the first second: from the first message at or after 1 s (index a)
  // to the message limit x m later (the same phase of the limiter's rhythm, so that
  // bursts do not skew it), for the largest m: limit x m / the time between them.
  size_t first = 0;
  while (first < t.size() && t[first] < 1.0) ++first;
  const size_t step = static_cast<size_t>(limit);
  if (first < t.size()) {
    const size_t m = (t.size() - 1 - first) / step;
    if (m > 0 && t[first + m * step] > t[first]) {
      f.sustained = static_cast<double>(m * step) / (t[first + m * step] - t[first]);
    }
  }
  return f;
}

// Writes "handed_s,handed_system_s,arrived_s,key" per message (seconds since the
// first hand-off, by the steady clock, by the system clock, and at the sink by the
// steady clock), for a look.
void DumpPacing(const std::string& path, const std::vector<HandoffLog::Handoff>& handed,
                const std::vector<HttpSink::Arrival>& arrived) {
  std::map<std::string, SteadyPoint> arrival;
  for (const HttpSink::Arrival& a : arrived) arrival.emplace(a.key, a.steady);
  SteadyPoint t0 = handed.empty() ? SteadyPoint() : handed.front().steady;
  for (const auto& h : handed) t0 = std::min(t0, h.steady);
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return;
  Timestamp s0 = handed.empty() ? Timestamp() : handed.front().system;
  for (const auto& h : handed) s0 = std::min(s0, h.system);
  std::fprintf(f, "handed_s,handed_system_s,arrived_s,key\n");
  for (const auto& h : handed) {
    auto it = arrival.find(h.key);
    std::fprintf(f, "%.9f,%.6f,%.9f,%s\n", std::chrono::duration<double>(h.steady - t0).count(),
                 std::chrono::duration<double>(h.system - s0).count(),
                 it == arrival.end() ? -1.0 : std::chrono::duration<double>(it->second - t0).count(), h.key.c_str());
  }
  std::fclose(f);
  std::printf("  wrote %s\n", path.c_str());
}

void RunPacing(const Options& o, std::vector<Row>& summary) {
  const int rate = o.pacing_rate;
  const int64_t backlog = static_cast<int64_t>(rate) * o.pacing_seconds;
  std::printf("\n== pacing: rate %d/s, backlog %lld recipients (%d s worth) per run\n", rate,
              static_cast<long long>(backlog), o.pacing_seconds);
  HttpSink sink(/*record=*/true);
  HandoffLog handoffs;
  World w("pacing", o.keep, &handoffs);
  Timestamp now = SystemClock::Instance().Now();
  // Two halves, so that two campaigns at once can share the backlog.
  Segment first_half = StaticSegment(w.store(), "first half", now);
  Segment second_half = StaticSegment(w.store(), "second half", now);
  LoadContacts(w.store(), first_half.id, backlog / 2, FillContact, now);
  LoadContacts(
      w.store(), second_half.id, backlog - backlog / 2, [&](int64_t i, Contact& c) { FillContact(backlog + i, c); },
      now);
  MessageTemplateRecord t = w.Template("wa", "", "Hi {{first_name}}, your order is ready.", "");
  auto account = [&](const std::string& name, int burst) {
    return w.Account(name, Channel::kWhatsapp, "whatsapp_cloud",
                     {{"phone_number_id", "1234567890"}, {"base_url", sink.BaseUrl()}},
                     json::object{{"access_token", "bench-token"}}, rate, burst);
  };
  w.AfterRestartGuard(milliseconds(100));
  std::printf(
      "  Per run, line 1: messages, first to last (s), sustained rate after the first second, distinct keys.\n"
      "  Line 2: the most messages in any window [a, a + 1 s) starting at a message (and how many windows\n"
      "  hold that many); line 3: the shortest time spanned by %d consecutive messages, in ms (>= 1000\n"
      "  exactly when no window holds more than %d). Each by three clocks: arrival at the sink (steady\n"
      "  clock), hand-off to the sender's SendBatch (steady clock), and the hand-off by the system clock\n"
      "  (the dispatcher's Clock, which its RateLimiter runs on).\n",
      rate + 1, rate);
  std::printf("  %-34s %8s %8s %11s %8s\n", "run", "messages", "span s", "sustained/s", "distinct");
  std::printf("  %-34s %12s %12s %12s\n", "", "sink", "handed", "handed/sys");

  struct Case {
    std::string label;
    int burst;
    bool two;
  };
  const std::vector<Case> cases = {{"burst " + std::to_string(rate), rate, false},
                                   {"burst 1", 1, false},
                                   {"two campaigns at once, burst " + std::to_string(rate), rate, true}};
  for (const Case& k : cases) {
    sink.ClearArrivals();
    handoffs.Take();
    SendingAccount a = account("pacing " + k.label, k.burst);
    std::vector<Campaign> cs;
    if (k.two) {
      cs.push_back(w.Create("pacing A", a, t, {first_half.id.value()}));
      cs.push_back(w.Create("pacing B", a, t, {second_half.id.value()}));
    } else {
      cs.push_back(w.Create("pacing", a, t, {first_half.id.value(), second_half.id.value()}));
    }
    std::set<int64_t> ids;
    int64_t sent = 0;
    for (Campaign& c : cs) {
      c = w.WaitFinished(c.id);
      ids.insert(c.id.value());
      sent += c.counts.sent;
      if (c.state != CampaignState::kCompleted || c.counts.failed != 0) {
        std::fprintf(stderr, "pacing campaign %lld is %s with %lld failed\n", static_cast<long long>(c.id.value()),
                     std::string(CampaignStateName(c.state)).c_str(), static_cast<long long>(c.counts.failed));
        std::exit(1);
      }
    }
    const std::vector<HttpSink::Arrival> arrived = sink.Arrivals();
    const std::vector<HandoffLog::Handoff> handed = handoffs.Take();
    std::vector<std::pair<Nanos, std::string>> at_sink, at_handoff, at_handoff_system;
    for (const auto& x : arrived) at_sink.emplace_back(SinceEpoch(x.steady), x.key);
    for (const auto& x : handed) {
      at_handoff.emplace_back(SinceEpoch(x.steady), x.key);
      at_handoff_system.emplace_back(SinceEpoch(x.system), x.key);
    }
    PacingFigures f = Pacing(at_sink, ids, rate);
    PacingFigures h = Pacing(at_handoff, ids, rate);
    PacingFigures hs = Pacing(at_handoff_system, ids, rate);
    auto max_text = [](const PacingFigures& x) {
      return std::to_string(x.max_in_window) + " (x" + std::to_string(x.windows_at_max) + ")";
    };
    std::printf("  %-34s %8zu %8.3f %11.2f %8zu\n", k.label.c_str(), f.messages, f.span_s, f.sustained, f.distinct);
    std::printf("  %-34s %12s %12s %12s\n", "", max_text(f).c_str(), max_text(h).c_str(), max_text(hs).c_str());
    std::printf("  %-34s %12.4f %12.4f %12.4f\n", "", f.closest_ms, h.closest_ms, hs.closest_ms);
    if (!o.pacing_dump.empty()) {
      std::string name = k.label;
      for (char& ch : name) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '-';
      DumpPacing(o.pacing_dump + "-" + name + ".csv", handed, arrived);
    }
    std::fflush(stdout);
    if (sent != backlog || static_cast<int64_t>(f.messages) != backlog) {
      std::fprintf(stderr, "pacing: %lld recorded sent, %zu messages at the sink, expected %lld\n",
                   static_cast<long long>(sent), f.messages, static_cast<long long>(backlog));
    }
    const double min_rate = rate * (28.5 / 29.0);
    summary.push_back({"pacing", k.label + ": most messages in any 1 s window at the sink",
                       std::to_string(f.max_in_window), "", "<= " + std::to_string(rate),
                       f.max_in_window <= rate ? "yes" : "NO"});
    summary.push_back({"pacing", k.label + ": the same by hand-off to the sender, steady / system clock",
                       std::to_string(h.max_in_window) + " / " + std::to_string(hs.max_in_window), "", "", ""});
    summary.push_back(
        {"pacing",
         k.label + ": shortest span of " + std::to_string(rate + 1) +
             " consecutive messages: sink / hand-off, steady / system clock",
         Fmt("%.3f", f.closest_ms) + " / " + Fmt("%.3f", h.closest_ms) + " / " + Fmt("%.3f ms", hs.closest_ms), "",
         ">= 1000 ms", ""});
    summary.push_back({"pacing", k.label + ": sustained rate after the first second", Fmt("%.2f/s", f.sustained), "",
                       ">= " + Fmt("%.1f", min_rate), f.sustained >= min_rate ? "yes" : "NO"});
  }
}

// ---- lateness ----

double Percentile(std::vector<double> v, double p) {  // nearest rank
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

void RunLateness(const Options& o, std::vector<Row>& summary) {
  std::printf("\n== lateness: %d campaigns of %d recipients, scheduled %d ms apart, unthrottled WhatsApp account\n",
              o.lateness_campaigns, o.lateness_audience, o.lateness_spacing_ms);
  HttpSink sink(/*record=*/true);
  World w("lateness", o.keep);
  Timestamp now = SystemClock::Instance().Now();
  Segment seg = StaticSegment(w.store(), "audience", now);
  LoadContacts(w.store(), seg.id, o.lateness_audience, FillContact, now);
  SendingAccount a = w.Account("wa", Channel::kWhatsapp, "whatsapp_cloud",
                               {{"phone_number_id", "1234567890"}, {"base_url", sink.BaseUrl()}},
                               json::object{{"access_token", "bench-token"}}, kMaxRatePerSecond, kMaxRatePerSecond);
  MessageTemplateRecord t = w.Template("wa", "", "Hi {{first_name}}, your order is ready.", "");
  // The first send time: 1 s from now, and at least 1.5 s after the dispatcher's start.
  w.AfterRestartGuard(milliseconds(500));
  const Timestamp base = SystemClock::Instance().Now() + std::chrono::seconds(1);
  std::map<int64_t, Timestamp> due;  // campaign -> send time
  for (int k = 0; k < o.lateness_campaigns; ++k) {
    Timestamp at = base + milliseconds(static_cast<int64_t>(k) * o.lateness_spacing_ms);
    Campaign c = w.Create("late " + std::to_string(k + 1), a, t, {seg.id.value()}, at);
    due[c.id.value()] = at;
  }
  const double create_s = Sec(base - std::chrono::seconds(1), SystemClock::Instance().Now());
  if (create_s >= 1.0) {
    std::fprintf(stderr, "creating the campaigns took %.3f s, past the first send time: use fewer\n", create_s);
    std::exit(1);
  }
  std::map<int64_t, Campaign> done;
  for (const auto& [id, at] : due) done[id] = w.WaitFinished(CampaignId(id));
  std::map<int64_t, Timestamp> first;
  for (const HttpSink::Arrival& x : sink.Arrivals()) {
    int64_t id = CampaignOfKey(x.key);
    Timestamp ts = std::chrono::time_point_cast<Duration>(x.system);
    auto it = first.find(id);
    if (it == first.end() || ts < it->second) first[id] = ts;
  }
  std::vector<double> late_ms, start_ms;
  for (const auto& [id, at] : due) {
    CheckAllSent(done[id], o.lateness_audience);
    if (!first.contains(id)) {
      std::fprintf(stderr, "campaign %lld: no message reached the sink\n", static_cast<long long>(id));
      std::exit(1);
    }
    late_ms.push_back(Sec(at, first[id]) * 1000);
    start_ms.push_back(Sec(at, *done[id].started_at) * 1000);
  }
  std::printf("  created %d campaigns in %.3f s (before the first send time)\n", o.lateness_campaigns, create_s);
  std::printf("  %-44s %9s %9s %9s %9s\n", "ms after the send time", "min", "p50", "p99", "max");
  std::printf("  %-44s %9.2f %9.2f %9.2f %9.2f\n", "start job ran, Verify done (started_at)", Percentile(start_ms, 0),
              Percentile(start_ms, 50), Percentile(start_ms, 99), Percentile(start_ms, 100));
  std::printf("  %-44s %9.2f %9.2f %9.2f %9.2f\n", "first message at the sink", Percentile(late_ms, 0),
              Percentile(late_ms, 50), Percentile(late_ms, 99), Percentile(late_ms, 100));
  const double p99 = Percentile(late_ms, 99);
  summary.push_back(
      {"lateness",
       "first message after the send time, " + std::to_string(o.lateness_campaigns) + " campaigns: p50 / p99 / max",
       Fmt("%.1f", Percentile(late_ms, 50)) + " / " + Fmt("%.1f", p99) + " / " +
           Fmt("%.1f ms", Percentile(late_ms, 100)),
       "", "p99 <= 100 ms", p99 <= 100 ? "yes" : "NO"});
  if (Percentile(late_ms, 0) < 0) std::printf("  NOTE: a campaign sent before its time\n");
}

std::vector<int> IntList(const char* text) {
  std::vector<int> out;
  for (const char* p = text; *p != '\0';) {
    char* end = nullptr;
    long v = std::strtol(p, &end, 10);
    if (end == p) break;
    out.push_back(static_cast<int>(v));
    p = *end == ',' ? end + 1 : end;
  }
  return out;
}

int Usage() {
  std::fprintf(stderr,
               "usage: campaign_send_bench [--scenario all|http|smtp|pacing|lateness] [--runs N] [--recipients N]\n"
               "         [--smtp-recipients N] [--smtp-connections 4,8,16] [--pacing-rate R] [--pacing-seconds S]\n"
               "         [--pacing-dump PATH_PREFIX] [--lateness-campaigns K] [--lateness-audience N] "
               "[--lateness-spacing-ms MS]\n"
               "         [--log-level debug|info|warn|error|off] [--max-chunk N] [--max-batch N] [--keep]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--keep") {
      o.keep = true;
      continue;
    }
    if (i + 1 >= argc) return Usage();
    const char* v = argv[++i];
    if (flag == "--scenario")
      o.scenario = v;
    else if (flag == "--runs")
      o.runs = std::atoi(v);
    else if (flag == "--recipients")
      o.recipients = std::atoll(v);
    else if (flag == "--smtp-recipients")
      o.smtp_recipients = std::atoll(v);
    else if (flag == "--smtp-connections")
      o.smtp_connections = IntList(v);
    else if (flag == "--pacing-rate")
      o.pacing_rate = std::atoi(v);
    else if (flag == "--pacing-seconds")
      o.pacing_seconds = std::atoi(v);
    else if (flag == "--pacing-dump")
      o.pacing_dump = v;
    else if (flag == "--lateness-campaigns")
      o.lateness_campaigns = std::atoi(v);
    else if (flag == "--lateness-audience")
      o.lateness_audience = std::atoi(v);
    else if (flag == "--lateness-spacing-ms")
      o.lateness_spacing_ms = std::atoi(v);
    else if (flag == "--log-level")
      o.log_level = v;
    else if (flag == "--max-chunk")
      g_sender_options.max_chunk = std::atoi(v);
    else if (flag == "--max-batch")
      g_sender_options.max_batch = std::atoi(v);
    else
      return Usage();
  }
  const std::set<std::string> scenarios = {"all", "http", "smtp", "pacing", "lateness"};
  if (!scenarios.contains(o.scenario) || o.runs < 1 || o.recipients < 1 || o.smtp_recipients < 1 ||
      o.smtp_connections.empty() || o.pacing_rate < 1 || o.pacing_rate > kMaxRatePerSecond || o.pacing_seconds < 2 ||
      o.lateness_campaigns < 1 || o.lateness_audience < 1 || o.lateness_spacing_ms < 0 ||
      g_sender_options.max_chunk < 1 || g_sender_options.max_batch < 1) {
    return Usage();
  }
  log::Level level;
  if (!log::ParseLevel(o.log_level, level)) return Usage();
  log::SetLevel(level);

  std::printf("campaign_send_bench\n  machine: %s\n", MachineLine().c_str());
  std::fflush(stdout);
  std::vector<Row> summary;
  const bool all = o.scenario == "all";
  if (all || o.scenario == "http") RunHttp(o, summary);
  if (all || o.scenario == "smtp") RunSmtp(o, summary);
  if (all || o.scenario == "pacing") RunPacing(o, summary);
  if (all || o.scenario == "lateness") RunLateness(o, summary);

  std::printf("\n| scenario | metric | median | runs | target | met |\n|---|---|---|---|---|---|\n");
  for (const Row& r : summary) {
    std::printf("| %s | %s | %s | %s | %s | %s |\n", r.scenario.c_str(), r.metric.c_str(), r.figure.c_str(),
                r.runs.c_str(), r.target.c_str(), r.met.c_str());
  }
  std::printf("  load average at the end: %s\n", LoadAverage().c_str());
  return 0;
}
