// The sender over a real SQLite store, with a scripted channel in place of a
// provider (the channels themselves are tested against real servers in
// channels/*_test.cc, and the whole path end to end in tests/e2e/). Campaigns are
// the producer here, with the real CampaignService as the sender's listener.
#include "sending/sender.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "campaigns/campaign_service.h"
#include "engine/handler.h"
#include "engine/job_service.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/loopback_policy.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"
#include "time/local_day.h"

namespace outflow {
namespace {

using channels::OutboundMessage;
using channels::SendOutcome;
using channels::SendResult;
using std::chrono::milliseconds;
using std::chrono::seconds;

struct Sent {
  std::string key, to, subject, text;
  Timestamp at;
};

// What the scripted channel saw and how it answers. Thread-safe.
class Script {
 public:
  explicit Script(Clock& clock) : clock_(clock) {}
  // Answers a message; the default sends it.
  void SetReply(std::function<SendResult(const OutboundMessage&)> reply) {
    std::lock_guard lock(mu_);
    reply_ = std::move(reply);
  }
  std::vector<SendResult> Send(std::span<const OutboundMessage> batch) {
    std::lock_guard lock(mu_);
    std::vector<SendResult> out;
    for (const OutboundMessage& m : batch) {
      sent_.push_back({m.idempotency_key, m.to, m.subject, m.text, clock_.Now()});
      SendResult r = reply_ ? reply_(m) : SendResult{SendOutcome::kSent, "p-" + m.idempotency_key, {}, {}};
      out.push_back(std::move(r));
    }
    return out;
  }
  std::vector<Sent> sent() const {
    std::lock_guard lock(mu_);
    return sent_;
  }
  size_t count() const {
    std::lock_guard lock(mu_);
    return sent_.size();
  }

 private:
  Clock& clock_;
  mutable std::mutex mu_;
  std::function<SendResult(const OutboundMessage&)> reply_;
  std::vector<Sent> sent_;
};

class ScriptedSender final : public channels::ChannelSender {
 public:
  explicit ScriptedSender(std::shared_ptr<Script> s) : s_(std::move(s)) {}
  std::vector<SendResult> SendBatch(std::span<const OutboundMessage> m) override { return s_->Send(m); }
  Status Verify() override { return Status::Ok(); }

 private:
  std::shared_ptr<Script> s_;
};

// Waits for a condition, polling, for at most `limit`.
bool Eventually(const std::function<bool()>& cond, Duration limit = seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return cond();
}

class SenderTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(SystemClock::Instance(), "outflow.db"); }

  // A fresh store in `file`, on `clock`.
  void Open(Clock& clock, const std::string& file) {
    clock_ = &clock;
    script_ = std::make_shared<Script>(clock);
    stores_.reset();
    auto s = SqliteStores::Open(dir_.File(file), {}, clock.Now());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    stores_ = std::move(s).value();
    Segment all{SegmentId(), "All", SegmentKind::kStatic, std::nullopt, 0, {}, {}};
    ASSERT_OK_AND_ASSIGN(segment_, stores_->segments().Create(all, clock.Now()));
    MessageTemplateRecord t;
    t.name = "hello";
    t.subject = "Hi {{first_name}}";
    t.text = "Hello {{first_name}}, your tier is {{tier|basic}}.";
    ASSERT_OK_AND_ASSIGN(template_, stores_->campaigns().CreateTemplate(t, clock.Now()));
  }

  std::unique_ptr<Sender> MakeDispatcher(SenderOptions o) {
    auto script = script_;
    auto sender = std::make_unique<Sender>(
        stores_->outbox(), stores_->campaigns(),
        [script](const SendingAccount&) -> Result<std::unique_ptr<channels::ChannelSender>> {
          return std::unique_ptr<channels::ChannelSender>(std::make_unique<ScriptedSender>(script));
        },
        [](const MessageTemplateRecord& t) {
          return CompileTemplate({t.subject, t.text, t.html}, {"first_name", "tier"});
        },
        *clock_, o);
    contacts_ = std::make_unique<ContactService>(stores_->contacts(), *clock_);
    jobs_ = std::make_unique<JobService>(stores_->jobs(), *clock_, handlers_, metrics_, nullptr);
    service_ = std::make_unique<CampaignService>(stores_->campaigns(), *contacts_, *jobs_, sender.get(), nullptr,
                                                 *clock_, outflow::testing::LoopbackAllowed());
    sender->SetListener(service_.get());
    return sender;
  }

  static SenderOptions Fast() {
    SenderOptions o;
    o.idle_linger = Duration::zero();  // loops end as soon as nothing is queued (tests wait for that)
    o.guard_restart = false;
    o.retry_backoff = {milliseconds(1), milliseconds(4)};
    o.outage_backoff = {milliseconds(1), milliseconds(4)};
    return o;
  }

  void AddContacts(int n, bool named = true) {
    std::vector<ContactId> ids;
    for (int i = 0; i < n; ++i) {
      Contact c;
      c.email = "c" + std::to_string(next_++) + "@example.com";
      if (named) c.first_name = "Ann" + std::to_string(next_);
      ASSERT_OK_AND_ASSIGN(Contact made, stores_->contacts().Create(c, clock_->Now()));
      ids.push_back(made.id);
    }
    ASSERT_OK(stores_->segments().AddMembers(segment_.id, ids, clock_->Now()));
  }

  SendingAccount Account(int rate, int burst, std::optional<int64_t> cap = std::nullopt, std::string time_zone = "UTC",
                         std::vector<Window> windows = {}) {
    SendingAccount a;
    a.time_zone = std::move(time_zone);
    a.windows = std::move(windows);
    a.name = "acct-" + std::to_string(next_++);
    a.channel = Channel::kEmail;
    a.provider = "log";
    a.rate_per_second = rate;
    a.burst = burst;
    a.daily_cap = cap;
    Result<SendingAccount> r = stores_->campaigns().CreateAccount(a, nullptr, clock_->Now());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return *r;
  }

  // A processing campaign to the segment.
  Campaign Started(const SendingAccount& a, int max_attempts = 5, CapPolicy policy = CapPolicy::kWait) {
    Campaign c;
    c.name = "launch-" + std::to_string(next_++);
    c.account = a.id;
    c.template_id = template_.id;
    c.audience.segments = {segment_.id.value()};
    c.state = CampaignState::kScheduled;
    c.max_attempts = max_attempts;
    c.cap_policy = policy;
    Result<Campaign> made = stores_->campaigns().CreateCampaign(c, clock_->Now());
    EXPECT_TRUE(made.ok()) << made.status().ToString();
    Result<Campaign> started = stores_->campaigns().Start(made->id, clock_->Now());
    EXPECT_TRUE(started.ok()) << started.status().ToString();
    return *started;
  }

  CampaignStore& store() { return stores_->campaigns(); }
  Campaign Get(CampaignId id) { return stores_->campaigns().GetCampaign(id).value(); }
  bool Finished(CampaignId id) { return IsFinished(Get(id).state); }
  std::vector<Recipient> Ledger(CampaignId id) {
    RecipientFilter f;
    f.limit = 10000;
    return stores_->campaigns().Recipients(id, f).value();
  }

  static std::string Key(CampaignId c, int64_t contact) {
    return "outflow-c" + std::to_string(c.value()) + "-r" + std::to_string(contact);
  }
  // Claims `n` of the account's messages as a crashed process would have left them.
  void ClaimAndCrash(AccountId account, int n) {
    Result<OutboxClaim> c =
        stores_->outbox().Claim(account, clock_->Now(), n, LocalDay("UTC", clock_->Now()).value(), std::nullopt);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    ASSERT_EQ(c->messages.size(), static_cast<size_t>(n));
  }

  testing::TempDir dir_;
  Clock* clock_ = nullptr;
  std::shared_ptr<Script> script_;
  std::unique_ptr<SqliteStores> stores_;
  Segment segment_;
  MessageTemplateRecord template_;
  int next_ = 0;
  HandlerRegistry handlers_;
  EngineMetrics metrics_;
  std::unique_ptr<ContactService> contacts_;
  std::unique_ptr<JobService> jobs_;
  std::unique_ptr<CampaignService> service_;
};

TEST_F(SenderTest, SendsEveryRecipientOnceRenderedAndCompletes) {
  AddContacts(40);
  AddContacts(1, /*named=*/false);  // the subject needs first_name: this one fails, the rest go on
  Campaign c = Started(Account(10000, 10000));
  auto d = MakeDispatcher(Fast());
  ASSERT_OK(d->Start());
  d->Wake(c.account);
  ASSERT_TRUE(Eventually([&] { return Finished(c.id); }));
  Campaign done = Get(c.id);
  EXPECT_EQ(done.state, CampaignState::kCompleted);
  EXPECT_EQ(done.counts.sent, 40);
  EXPECT_EQ(done.counts.failed, 1);
  EXPECT_EQ(done.counts.pending, 0);

  std::set<std::string> keys;
  for (const Sent& s : script_->sent()) {
    EXPECT_TRUE(keys.insert(s.key).second) << "sent twice: " << s.key;
    EXPECT_TRUE(s.subject.starts_with("Hi Ann")) << s.subject;
    EXPECT_NE(s.text.find("your tier is basic."), std::string::npos) << s.text;
  }
  EXPECT_EQ(keys.size(), 40u);
  for (const Recipient& r : Ledger(c.id)) {
    if (r.state == RecipientState::kSent) {
      EXPECT_EQ(r.provider_id, "p-" + Key(c.id, r.contact_id));
      EXPECT_EQ(keys.count(Key(c.id, r.contact_id)), 1u);
    } else {
      EXPECT_EQ(r.state, RecipientState::kFailed);
      EXPECT_NE(r.error.find("template: subject: field 'first_name' has no value"), std::string::npos) << r.error;
      EXPECT_EQ(keys.count(Key(c.id, r.contact_id)), 0u);
    }
  }
  EXPECT_TRUE(Eventually([&] { return d->active_loops() == 0; }));
}

TEST_F(SenderTest, TransientFailuresRetryWithBackoffPermanentOnesFailWithTheReason) {
  AddContacts(3);
  Campaign c = Started(Account(10000, 10000), /*max_attempts=*/3);
  const std::vector<Recipient> ledger = Ledger(c.id);
  ASSERT_EQ(ledger.size(), 3u);
  const std::string down = ledger[0].address, refused = ledger[1].address, flaky = ledger[2].address;
  std::atomic<int> flaky_calls{0};
  script_->SetReply([&](const OutboundMessage& m) -> SendResult {
    if (m.to == down) return {SendOutcome::kTransient, "", "HTTP 503: upstream down", std::nullopt};
    if (m.to == refused)
      return {SendOutcome::kPermanent, "", "HTTP 400: invalid recipient (code 131026)", std::nullopt};
    if (flaky_calls++ == 0) return {SendOutcome::kTransient, "", "timeout", std::nullopt};
    return {SendOutcome::kSent, "wamid.1", "", std::nullopt};
  });
  auto d = MakeDispatcher(Fast());
  ASSERT_OK(d->Start());
  d->Wake(c.account);
  ASSERT_TRUE(Eventually([&] { return Finished(c.id); }));
  std::map<std::string, Recipient> by_address;
  for (const Recipient& r : Ledger(c.id)) by_address[r.address] = r;
  EXPECT_EQ(by_address[down].state, RecipientState::kFailed);
  EXPECT_EQ(by_address[down].attempts, 3);
  EXPECT_EQ(by_address[down].error, "gave up after 3 attempts: HTTP 503: upstream down");
  EXPECT_EQ(by_address[refused].state, RecipientState::kFailed);
  EXPECT_EQ(by_address[refused].attempts, 1);
  EXPECT_EQ(by_address[refused].error, "HTTP 400: invalid recipient (code 131026)");
  EXPECT_EQ(by_address[flaky].state, RecipientState::kSent);
  EXPECT_EQ(by_address[flaky].attempts, 2);
  EXPECT_EQ(by_address[flaky].provider_id, "wamid.1");
  Campaign done = Get(c.id);
  EXPECT_EQ(done.state, CampaignState::kCompleted);
  EXPECT_EQ(done.counts.sent, 1);
  EXPECT_EQ(done.counts.failed, 2);
}

TEST_F(SenderTest, RetryAfterHoldsTheAccountAtLeastThatLong) {
  AddContacts(2);
  Campaign c = Started(Account(10000, 1));
  std::atomic<int> calls{0};
  script_->SetReply([&](const OutboundMessage&) -> SendResult {
    if (calls++ == 0) return {SendOutcome::kTransient, "", "HTTP 429: slow down", milliseconds(300)};
    return {SendOutcome::kSent, "id", "", std::nullopt};
  });
  auto d = MakeDispatcher(Fast());
  ASSERT_OK(d->Start());
  d->Wake(c.account);
  ASSERT_TRUE(Eventually([&] { return Finished(c.id); }));
  std::vector<Sent> sent = script_->sent();
  ASSERT_EQ(sent.size(), 3u);  // the 429, then both
  // Nothing went to the provider within its Retry-After, not even the other recipient.
  EXPECT_GE(sent[1].at - sent[0].at, milliseconds(300));
  EXPECT_GE(sent[2].at - sent[0].at, milliseconds(300));
  EXPECT_EQ(Get(c.id).counts.sent, 2);
}

TEST_F(SenderTest, PauseStopsSendingWithinASecondAndResumeSendsNothingTwice) {
  AddContacts(60);
  Campaign c = Started(Account(20, 1));  // one message every 50 ms
  auto d = MakeDispatcher(Fast());
  ASSERT_OK(d->Start());
  d->Wake(c.account);
  ASSERT_TRUE(Eventually([&] { return script_->count() >= 5; }));
  const auto paused_at = std::chrono::steady_clock::now();
  ASSERT_OK(service_->Pause(c.id).status());
  const size_t at_pause = script_->count();
  // The loop gives the campaign's claimed messages back and, nothing else being
  // queued on the account, ends.
  ASSERT_TRUE(Eventually([&] { return d->active_loops() == 0; }, seconds(5)));
  EXPECT_LT(std::chrono::steady_clock::now() - paused_at, seconds(1));
  // At most the chunk in the channel's hands when the pause came (one message) went out after it.
  const size_t after = script_->count();
  EXPECT_LE(after, at_pause + 1);
  // Nothing is left claimed; claimed-but-unsent entries got their attempt back.
  for (const Recipient& r : Ledger(c.id)) {
    EXPECT_NE(r.state, RecipientState::kSending);
    if (r.state == RecipientState::kPending) {
      EXPECT_EQ(r.attempts, 0) << r.contact_id;
    }
  }
  EXPECT_EQ(Get(c.id).state, CampaignState::kPaused);
  EXPECT_EQ(script_->count(), after);  // the loop has ended: nothing can have been sent since

  ASSERT_OK(service_->Resume(c.id).status());
  ASSERT_TRUE(Eventually([&] { return Finished(c.id); }));
  std::set<std::string> keys;
  for (const Sent& s : script_->sent()) EXPECT_TRUE(keys.insert(s.key).second) << "sent twice: " << s.key;
  EXPECT_EQ(keys.size(), 60u);
  EXPECT_EQ(Get(c.id).counts.sent, 60);
}

TEST_F(SenderTest, StopThenRestartResumesFromTheOutboxAndRequeuesCrashedClaims) {
  AddContacts(40);
  SendingAccount a = Account(100, 1);
  Campaign c = Started(a);
  {
    auto d = MakeDispatcher(Fast());
    ASSERT_OK(d->Start());
    d->Wake(c.account);
    ASSERT_TRUE(Eventually([&] { return script_->count() >= 10; }));
    d->Stop();
  }
  for (const Recipient& r : Ledger(c.id)) EXPECT_NE(r.state, RecipientState::kSending);
  const size_t before = script_->count();
  ASSERT_LT(before, 40u);
  // A crash leaves claims behind: three entries `sending` that nobody will record.
  ClaimAndCrash(a.id, 3);

  auto d = MakeDispatcher(Fast());
  ASSERT_OK(d->Start());  // requeues them and starts the processing campaign's loop
  ASSERT_TRUE(Eventually([&] { return Finished(c.id); }));
  std::map<std::string, int> times;
  for (const Sent& s : script_->sent()) ++times[s.key];
  EXPECT_EQ(times.size(), 40u);
  for (const auto& [key, n] : times) EXPECT_EQ(n, 1) << key;
  EXPECT_EQ(Get(c.id).counts.sent, 40);
}

TEST_F(SenderTest, CampaignsOnOneAccountShareItsLimitAndARestartWaitsOneWindow) {
  AddContacts(15);
  SendingAccount a = Account(10, 10);
  Campaign c1 = Started(a);
  Campaign c2 = Started(a);
  SenderOptions o = Fast();
  o.guard_restart = true;
  auto d = MakeDispatcher(o);
  const Timestamp start = clock_->Now();
  ASSERT_OK(d->Start());
  d->Wake(a.id);
  ASSERT_TRUE(Eventually([&] { return Finished(c1.id) && Finished(c2.id); }));
  std::vector<Sent> sent = script_->sent();
  ASSERT_EQ(sent.size(), 30u);
  std::vector<Timestamp> at;
  for (const Sent& s : sent) at.push_back(s.at);
  std::sort(at.begin(), at.end());
  // The first window after the start is the restart guard's.
  EXPECT_GE(at.front() - start, seconds(1));
  // Never more than 10 in any one-second window, across both campaigns.
  for (size_t i = 10; i < at.size(); ++i) {
    EXPECT_GE(at[i] - at[i - 10], seconds(1)) << "sends " << i - 10 << " and " << i;
  }
}

TEST_F(SenderTest, AnOutageHoldsTheAccountInsteadOfSpendingEveryRecipientsAttempts) {
  FakeClock clock(FromMicros(1'800'000'000'000'000));
  Open(clock, "fake-clock.db");
  AddContacts(20);
  Campaign c = Started(Account(1000, 5));  // chunks of 5
  std::atomic<bool> down{true};
  script_->SetReply([&](const OutboundMessage&) -> SendResult {
    if (down) return {SendOutcome::kTransient, "", "cannot connect", std::nullopt};
    return {SendOutcome::kSent, "ok", "", std::nullopt};
  });
  SenderOptions o = Fast();
  o.outage_backoff = {seconds(10), seconds(60)};
  o.retry_backoff = {seconds(1), seconds(1)};
  auto d = MakeDispatcher(o);
  ASSERT_OK(d->Start());
  d->Wake(c.account);
  auto attempted = [&] {
    int n = 0, sending = 0;
    for (const Recipient& r : Ledger(c.id)) {
      n += r.attempts > 0;
      sending += r.state == RecipientState::kSending;
    }
    return sending == 0 ? n : -1;
  };
  // One chunk failed wholly: the account is held; the other 15 were given back unattempted.
  ASSERT_TRUE(Eventually([&] { return script_->count() == 5 && attempted() == 5; }));
  EXPECT_EQ(script_->count(), 5u);  // time stands still: the hold has not ended
  down = false;
  clock.Advance(seconds(11));
  ASSERT_TRUE(Eventually([&] {
    clock.Advance(milliseconds(100));
    return Finished(c.id);
  }));
  EXPECT_EQ(Get(c.id).counts.sent, 20);
  EXPECT_EQ(script_->count(), 25u);
}

TEST_F(SenderTest, TheDailyCapWaitsForTheNextLocalDayOrFailsTheCampaign) {
  // 2027-01-15 10:00 UTC.
  FakeClock clock(ParseRfc3339("2027-01-15T10:00:00Z").value());
  Open(clock, "fake-clock.db");
  AddContacts(8);
  Campaign waits = Started(Account(1000, 1000, /*cap=*/5));
  auto d = MakeDispatcher(Fast());
  ASSERT_OK(d->Start());
  d->Wake(waits.account);
  ASSERT_TRUE(Eventually([&] { return Get(waits.id).counts.sent == 5; }));
  EXPECT_EQ(Get(waits.id).state, CampaignState::kProcessing);
  EXPECT_EQ(Get(waits.id).counts.pending, 3);
  EXPECT_EQ(script_->count(), 5u);
  clock.Set(ParseRfc3339("2027-01-16T00:00:01Z").value());
  ASSERT_TRUE(Eventually([&] { return Finished(waits.id); }));
  EXPECT_EQ(Get(waits.id).counts.sent, 8);

  Campaign fails = Started(Account(1000, 1000, /*cap=*/5), 5, CapPolicy::kFail);
  d->Wake(fails.account);
  ASSERT_TRUE(Eventually([&] { return Finished(fails.id); }));
  Campaign f = Get(fails.id);
  EXPECT_EQ(f.state, CampaignState::kFailed);
  EXPECT_EQ(f.counts.sent, 5);
  EXPECT_NE(f.error.find("daily cap of 5 reached"), std::string::npos) << f.error;
}

TEST_F(SenderTest, SendWindowsHoldMessagesUntilTheyOpenInTheAccountsZone) {
  // Saturday 2027-01-16 12:00 in Berlin; the account sends Monday to Friday 09:00-17:00 Berlin time.
  FakeClock clock(ParseRfc3339("2027-01-16T11:00:00Z").value());
  Open(clock, "fake-clock.db");
  AddContacts(5);
  Campaign c = Started(Account(1000, 1000, std::nullopt, "Europe/Berlin", {Window{0x1f, 9 * 60, 17 * 60}}));
  auto d = MakeDispatcher(Fast());
  ASSERT_OK(d->Start());
  d->Wake(c.account);
  // Monday 08:59:59 Berlin: still closed. The loop sleeps until the opening, and
  // moving the clock wakes it to look again.
  clock.Set(ParseRfc3339("2027-01-18T07:59:59Z").value());
  EXPECT_EQ(Get(c.id).counts.sent, 0);
  EXPECT_EQ(script_->count(), 0u);
  clock.Set(ParseRfc3339("2027-01-18T08:00:00Z").value());  // 09:00 Berlin
  ASSERT_TRUE(Eventually([&] { return Finished(c.id); }));
  for (const Sent& s : script_->sent()) EXPECT_GE(s.at, ParseRfc3339("2027-01-18T08:00:00Z").value());
  EXPECT_EQ(Get(c.id).counts.sent, 5);
}

// A provider that stays down: the circuit opens after the first chunk, then the
// account is probed with one message at most every 2 s, and a failed probe costs
// that message no attempt: after six hours nothing has failed or been lost, each
// message shows why it waits, and the provider saw no retry storm.
TEST_F(SenderTest, AProviderThatStaysDownFailsNoMessageAndIsProbedAtMostEveryTwoSeconds) {
  FakeClock clock(FromMicros(1'800'000'000'000'000));
  const Timestamp start = clock.Now();
  Open(clock, "fake-clock.db");
  AddContacts(20);
  Campaign c = Started(Account(1000, 5), /*max_attempts=*/3);
  script_->SetReply([](const OutboundMessage&) -> SendResult {
    return {SendOutcome::kTransient, "", "cannot connect to provider: Connection refused", std::nullopt};
  });
  SenderOptions o = Fast();
  o.retry_backoff = {seconds(30), std::chrono::hours(1)};
  o.outage_backoff = SenderOptions().outage_backoff;  // the default circuit breaker
  auto d = MakeDispatcher(o);
  ASSERT_OK(d->Start());
  d->Wake(c.account);
  // Each 10 s step waits for the step's probe (or half a second of real time, so a
  // loop that stopped probing fails the count below instead of hanging): a loaded
  // machine slows the test down but does not skip probes.
  size_t seen = script_->count();
  auto step_began = std::chrono::steady_clock::now();
  ASSERT_TRUE(Eventually(
      [&] {
        if (script_->count() > seen || std::chrono::steady_clock::now() - step_began > milliseconds(500)) {
          seen = script_->count();
          step_began = std::chrono::steady_clock::now();
          clock.Advance(seconds(10));
        }
        return clock.Now() - start >= std::chrono::hours(6);
      },
      seconds(240)));
  Campaign waiting = Get(c.id);
  EXPECT_EQ(waiting.state, CampaignState::kProcessing);
  EXPECT_EQ(waiting.counts.failed, 0);
  EXPECT_EQ(waiting.counts.pending, 20);
  int told = 0;  // the first chunk and the probed message say why they wait; the rest were never tried
  for (const Recipient& r : Ledger(c.id)) {
    EXPECT_LE(r.attempts, 1) << r.contact_id;
    told += r.error.find("Connection refused") != std::string::npos;
  }
  EXPECT_GE(told, 5);
  // One probe per 10 s step of the fake clock at most (the hold is 2 s), not 3 per message.
  EXPECT_LE(script_->count(), 5u + 6u * 360u);
  EXPECT_GE(script_->count(), 5u + 6u * 300u) << "it kept probing";
}

// A provider down for an hour, then back: the holds spend few attempts during the
// outage, so no recipient runs out of them, and every message goes out once it is back.
TEST_F(SenderTest, AProviderDownForAnHourLosesNothingWhenItComesBack) {
  FakeClock clock(FromMicros(1'800'000'000'000'000));
  const Timestamp start = clock.Now();
  Open(clock, "fake-clock.db");
  AddContacts(20);
  Campaign c = Started(Account(1000, 5));  // max_attempts 5
  std::atomic<bool> down{true};
  script_->SetReply([&](const OutboundMessage&) -> SendResult {
    if (down) return {SendOutcome::kTransient, "", "HTTP 503: Service Unavailable", std::nullopt};
    return {SendOutcome::kSent, "id", "", std::nullopt};
  });
  SenderOptions o = Fast();
  o.retry_backoff = {seconds(30), std::chrono::hours(1)};
  o.outage_backoff = SenderOptions().outage_backoff;  // the default circuit breaker
  auto d = MakeDispatcher(o);
  ASSERT_OK(d->Start());
  d->Wake(c.account);
  ASSERT_TRUE(Eventually(
      [&] {
        clock.Advance(seconds(10));
        return clock.Now() - start >= std::chrono::hours(1);
      },
      seconds(60)));
  EXPECT_EQ(Get(c.id).state, CampaignState::kProcessing);
  EXPECT_EQ(Get(c.id).counts.failed, 0);
  down = false;
  ASSERT_TRUE(Eventually(
      [&] {
        clock.Advance(seconds(10));
        return Finished(c.id);
      },
      seconds(60)));
  EXPECT_EQ(Get(c.id).counts.sent, 20);
  EXPECT_EQ(Get(c.id).counts.failed, 0);
  for (const Recipient& r : Ledger(c.id)) EXPECT_LE(r.attempts, 2) << r.contact_id;
}

TEST_F(SenderTest, ACapWithRoomLeftAndNothingDueWaitsForTheRetryNotForTomorrow) {
  FakeClock clock(ParseRfc3339("2027-01-15T10:00:00Z").value());
  Open(clock, "fake-clock.db");
  AddContacts(3);
  // A claim asks for 250 (1000/s x 250 ms), more than the cap of 10 leaves, so every
  // claim is cut by the cap; with one recipient waiting on a retry, a claim finds
  // nothing due while 7 sends are left today.
  Campaign c = Started(Account(1000, 1000, /*cap=*/10), 5, CapPolicy::kFail);
  const std::string flaky = Ledger(c.id)[0].address;
  std::atomic<int> calls{0};
  script_->SetReply([&](const OutboundMessage& m) -> SendResult {
    if (m.to == flaky && calls++ == 0) return {SendOutcome::kTransient, "", "HTTP 503", std::nullopt};
    return {SendOutcome::kSent, "id", "", std::nullopt};
  });
  SenderOptions o = Fast();
  o.retry_backoff = {seconds(2), seconds(2)};
  auto d = MakeDispatcher(o);
  ASSERT_OK(d->Start());
  d->Wake(c.account);
  ASSERT_TRUE(Eventually([&] { return Get(c.id).counts.sent == 2; }));
  ASSERT_TRUE(Eventually([&] {
    clock.Advance(milliseconds(100));
    return Finished(c.id);
  }));
  Campaign done = Get(c.id);
  EXPECT_EQ(done.state, CampaignState::kCompleted) << done.error;
  EXPECT_EQ(done.counts.sent, 3);
  EXPECT_LT(clock.Now(), ParseRfc3339("2027-01-15T10:01:00Z").value()) << "it waited for the retry, not a day";
}

TEST_F(SenderTest, AWakeBeforeStartWaitsForStartsRequeue) {
  AddContacts(10);
  Campaign c = Started(Account(10000, 10000));
  // A crash left three entries `sending`.
  ClaimAndCrash(c.account, 3);
  auto d = MakeDispatcher(Fast());
  d->Wake(c.account);  // e.g. a resume through the API while the sender starts
  EXPECT_EQ(d->active_loops(), 0u) << "no loop before Start()";
  EXPECT_EQ(script_->count(), 0u);
  ASSERT_OK(d->Start());
  ASSERT_TRUE(Eventually([&] { return Finished(c.id); }));
  std::map<std::string, int> times;
  for (const Sent& x : script_->sent()) ++times[x.key];
  EXPECT_EQ(times.size(), 10u);
  for (const auto& [key, n] : times) EXPECT_EQ(n, 1) << key;
}

// The circuit breaker: after a 20 s outage sending resumes within 2 s of the
// provider's recovery (it probed with one message at a time meanwhile).
TEST_F(SenderTest, AfterAnOutageSendingResumesWithinTwoSecondsOfRecovery) {
  FakeClock clock(FromMicros(1'800'000'000'000'000));
  Open(clock, "fake-clock.db");
  AddContacts(200);
  Campaign c = Started(Account(1000, 10));
  std::atomic<bool> down{true};
  script_->SetReply([&](const OutboundMessage&) -> SendResult {
    if (down) return {SendOutcome::kTransient, "", "cannot connect", std::nullopt};
    return {SendOutcome::kSent, "ok", "", std::nullopt};
  });
  SenderOptions o;  // the default circuit breaker
  o.guard_restart = false;
  auto d = MakeDispatcher(o);
  ASSERT_OK(d->Start());
  d->Wake(c.account);
  const Timestamp start = clock.Now();
  ASSERT_TRUE(Eventually([&] {
    clock.Advance(milliseconds(100));
    return clock.Now() - start >= seconds(20);
  }));
  const size_t during = script_->count();
  EXPECT_LE(during, 10u + 20u) << "one chunk, then about one probe a second";
  down = false;
  const Timestamp recovered = clock.Now();
  std::optional<Timestamp> first_ok;
  ASSERT_TRUE(Eventually([&] {
    for (const Sent& s : script_->sent()) {
      if (s.at >= recovered) {
        first_ok = s.at;
        return true;
      }
    }
    clock.Advance(milliseconds(50));
    return false;
  }));
  EXPECT_LE(*first_ok - recovered, seconds(2));
  ASSERT_TRUE(Eventually([&] {
    clock.Advance(milliseconds(100));
    return Finished(c.id);
  }));
  EXPECT_EQ(Get(c.id).counts.sent, 200);
}

// Transactional messages go before a big campaign's on the same account, and two
// campaigns of one priority take turns.
TEST_F(SenderTest, TransactionalMessagesJumpTheQueueAndCampaignsTakeTurns) {
  AddContacts(300);
  SendingAccount a = Account(100, 10);
  Campaign big = Started(a);
  Campaign other = Started(a);
  auto d = MakeDispatcher(Fast());
  ASSERT_OK(d->Start());
  d->Wake(a.id);
  ASSERT_TRUE(Eventually([&] { return script_->count() >= 50; }));
  // Both campaigns are sending, interleaved.
  std::map<std::string, int> per_campaign;
  for (const Sent& s : script_->sent()) ++per_campaign[s.key.substr(0, s.key.find("-r"))];
  EXPECT_EQ(per_campaign.size(), 2u);
  for (const auto& [k, n] : per_campaign) EXPECT_GE(n, 15) << k;

  NewMessage t;
  t.account = a.id;
  t.contact = ContactId(1);
  t.template_id = template_.id;
  t.source = {SourceKind::kTransactional, a.id.value()};
  t.send_at = clock_->Now();
  ASSERT_OK_AND_ASSIGN(auto made, stores_->outbox().Enqueue(std::vector{t}, clock_->Now()));
  const std::string key = MessageKey(made[0].message);
  const auto enqueued = std::chrono::steady_clock::now();
  d->Wake(a.id);
  ASSERT_TRUE(Eventually([&] {
    for (const Sent& s : script_->sent()) {
      if (s.key == key) return true;
    }
    return false;
  }));
  // One claim of campaign messages (250 ms of the rate) may be ahead of it.
  EXPECT_LT(std::chrono::steady_clock::now() - enqueued, milliseconds(1000));
  ASSERT_TRUE(Eventually([&] { return Finished(big.id) && Finished(other.id); }, seconds(30)));
  EXPECT_EQ(script_->count(), 601u);
}

// Quiet hours are read in each contact's zone: 21:00-08:00 in New York on the night
// the clocks go forward (2027-03-14, 02:00 EST -> 03:00 EDT) ends at 08:00 EDT,
// 12:00 UTC; a message claimed at 01:00 EST waits until then, never dropped.
TEST_F(SenderTest, QuietHoursDeferToTheNextAllowedMinuteInTheContactsZoneAcrossADstChange) {
  FakeClock clock(ParseRfc3339("2027-03-14T06:00:00Z").value());  // 01:00 EST
  Open(clock, "fake-clock.db");
  Contact c;
  c.email = "ny@example.com";
  c.first_name = "Ny";
  c.time_zone = "America/New_York";
  ASSERT_OK_AND_ASSIGN(Contact ny, stores_->contacts().Create(c, clock.Now()));
  ASSERT_OK(stores_->segments().AddMembers(segment_.id, std::vector<ContactId>{ny.id}, clock.Now()));
  AddContacts(1);  // no zone: the account's (UTC), where 06:00 is quiet too, until 08:00 UTC
  SendingAccount a = Account(1000, 1000);
  a.rules.quiet_hours = QuietHours{21 * 60, 8 * 60};
  ASSERT_OK(stores_->campaigns().UpdateAccount(a, std::nullopt, clock.Now()).status());
  Campaign camp = Started(a);
  auto d = MakeDispatcher(Fast());
  ASSERT_OK(d->Start());
  d->Wake(a.id);
  auto message_of = [&](ContactId id) {
    Result<std::vector<Message>> ms = stores_->outbox().List({.contact = id});
    return ms.ok() && !ms->empty() ? ms->front() : Message{};
  };
  ASSERT_TRUE(Eventually([&] { return message_of(ny.id).reason.starts_with("deferred"); }));
  Message held = message_of(ny.id);
  EXPECT_EQ(held.state, MessageState::kQueued);
  EXPECT_EQ(held.attempts, 0) << "a deferral is not an attempt";
  EXPECT_EQ(held.reason, "deferred: quiet hours in America/New_York");
  EXPECT_EQ(FormatRfc3339(held.send_at), "2027-03-14T12:00:00.000000Z") << "08:00 EDT";
  clock.Set(ParseRfc3339("2027-03-14T08:00:00Z").value());  // 08:00 UTC: the zoneless contact's morning
  ASSERT_TRUE(Eventually([&] { return script_->count() == 1; }));
  clock.Set(ParseRfc3339("2027-03-14T11:59:59Z").value());
  EXPECT_EQ(script_->count(), 1u);
  clock.Set(ParseRfc3339("2027-03-14T12:00:00Z").value());
  ASSERT_TRUE(Eventually([&] { return Finished(camp.id); }));
  for (const Sent& s : script_->sent()) {
    if (s.to == "ny@example.com") {
      EXPECT_GE(s.at, ParseRfc3339("2027-03-14T12:00:00Z").value());
    }
  }
  EXPECT_EQ(Get(camp.id).counts.sent, 2);
}

// A frequency cap counts every source: with 1 a day, the second campaign's message to
// each contact waits a day (defer), or is skipped with the reason (skip).
TEST_F(SenderTest, AFrequencyCapAcrossTwoCampaignsDefersOrSkips) {
  FakeClock clock(ParseRfc3339("2027-01-15T10:00:00Z").value());
  Open(clock, "fake-clock.db");
  AddContacts(3);
  SendingAccount a = Account(1000, 1000);
  a.rules.per_day = 1;
  ASSERT_OK(stores_->campaigns().UpdateAccount(a, std::nullopt, clock.Now()).status());
  Campaign first = Started(a);
  auto d = MakeDispatcher(Fast());
  ASSERT_OK(d->Start());
  d->Wake(a.id);
  ASSERT_TRUE(Eventually([&] { return Finished(first.id); }));
  EXPECT_EQ(script_->count(), 3u);
  clock.Advance(std::chrono::hours(1));
  Campaign second = Started(a);
  d->Wake(a.id);
  auto of_campaign = [&](CampaignId id) {
    Result<std::vector<Message>> ms = stores_->outbox().List({.source = SourceRef{SourceKind::kCampaign, id.value()}});
    return ms.ok() ? *ms : std::vector<Message>{};
  };
  ASSERT_TRUE(Eventually([&] {
    std::vector<Message> ms = of_campaign(second.id);
    return ms.size() == 3 && std::all_of(ms.begin(), ms.end(), [](const Message& m) {
             return m.reason.starts_with("deferred: frequency cap");
           });
  }));
  EXPECT_EQ(script_->count(), 3u);
  for (const Message& m : of_campaign(second.id)) {
    EXPECT_EQ(m.reason, "deferred: frequency cap (1 a day)");
    EXPECT_EQ(m.send_at, ParseRfc3339("2027-01-16T10:00:00.000001Z").value()) << "when the first send leaves the day";
  }
  // The skip policy, for a third campaign.
  a.rules.skip_over_cap = true;
  ASSERT_OK_AND_ASSIGN(a, stores_->campaigns().UpdateAccount(a, std::nullopt, clock.Now()));
  d->WakeAll();
  Campaign third = Started(a);
  d->Wake(a.id);
  ASSERT_TRUE(Eventually([&] { return Finished(third.id); }));
  EXPECT_EQ(Get(third.id).counts.skipped, 3);
  std::vector<Message> skipped = of_campaign(third.id);
  ASSERT_FALSE(skipped.empty());
  EXPECT_EQ(skipped[0].reason, "frequency cap: 1 a day");
  // A day later the deferred ones go.
  clock.Set(ParseRfc3339("2027-01-16T10:00:01Z").value());
  ASSERT_TRUE(Eventually([&] { return Finished(second.id); }));
  EXPECT_EQ(Get(second.id).counts.sent, 3);
  EXPECT_EQ(script_->count(), 6u);
}

}  // namespace
}  // namespace outflow
