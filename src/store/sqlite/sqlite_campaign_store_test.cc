// The campaign store over a real SQLite file: the conformance suite instantiated
// for SQLite, and what only the file can show (rows damaged underneath the store,
// the ledger migration).
#include "store/sqlite/sqlite_campaign_store.h"

#include <gtest/gtest.h>

#include "store/campaign_store_conformance.h"
#include "store/sqlite/db.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_store_set.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace outflow {
namespace {

const Timestamp kT0 = FromMicros(1'800'000'000'000'000);

INSTANTIATE_TEST_SUITE_P(Sqlite, CampaignStoreConformance, ::testing::Values(SqliteStoreSet()), SqliteName);

// The SQLite store with small chunks (its options): fan-outs and fills over several transactions.
class CampaignStoreTest : public ::testing::Test {
 protected:
  // The options the stores open with (a derived fixture makes chunks small).
  virtual SqliteOptions Options() const { return {}; }
  void Open() {
    stores_.reset();
    auto s = SqliteStores::Open(dir_.File("outflow.db"), Options(), kT0);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    stores_ = std::move(s).value();
  }
  void SetUp() override {
    Open();
    Segment all{SegmentId(), "All", SegmentKind::kStatic, std::nullopt, 0, {}, {}};
    ASSERT_OK_AND_ASSIGN(segment_, stores_->segments().Create(all, kT0));
    Segment ex{SegmentId(), "Excluded", SegmentKind::kStatic, std::nullopt, 0, {}, {}};
    ASSERT_OK_AND_ASSIGN(excluded_, stores_->segments().Create(ex, kT0));
    MessageTemplateRecord t;
    t.name = "hello";
    t.subject = "Hi {{first_name}}";
    t.text = "Hello";
    ASSERT_OK_AND_ASSIGN(template_, stores_->campaigns().CreateTemplate(t, kT0));
  }
  ContactId AddContact(std::optional<std::string> email, std::optional<std::string> phone, bool in_segment = true) {
    Contact c;
    c.email = std::move(email);
    c.phone = std::move(phone);
    if (!c.email && !c.phone) c.external_id = "x" + std::to_string(next_++);
    Result<Contact> r = stores_->contacts().Create(c, kT0);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (in_segment) {
      EXPECT_OK(stores_->segments().AddMembers(segment_.id, std::vector<ContactId>{r->id}, kT0));
    }
    return r->id;
  }
  SendingAccount Account(Channel ch, std::optional<int64_t> cap = std::nullopt) {
    SendingAccount a;
    a.name = "acct-" + std::to_string(next_++);
    a.channel = ch;
    a.provider = "log";
    a.rate_per_second = 29;
    a.burst = 29;
    a.daily_cap = cap;
    Result<SendingAccount> r = stores_->campaigns().CreateAccount(
        a, [](AccountId id) { return "v1:sealed-" + std::to_string(id.value()); }, kT0);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return *r;
  }
  Campaign NewCampaign(AccountId account, CampaignState state = CampaignState::kScheduled) {
    Campaign c;
    c.name = "launch";
    c.account = account;
    c.template_id = template_.id;
    c.audience.segments = {segment_.id.value()};
    c.state = state;
    Result<Campaign> r = stores_->campaigns().CreateCampaign(c, kT0);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return *r;
  }
  // Claims up to `n` messages of the account.
  std::vector<Message> ClaimAll(AccountId account, Timestamp now, int n = 10) {
    Result<OutboxClaim> c = stores_->outbox().Claim(account, now, n, "2027-01-15", std::nullopt);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    std::vector<Message> out;
    if (c.ok()) {
      for (auto& m : c->messages) out.push_back(m.message);
    }
    return out;
  }
  void RecordSent(AccountId account, const std::vector<Message>& ms, Timestamp now) {
    std::vector<MessageOutcome> out;
    for (const Message& m : ms) out.push_back({.id = m.id, .attempt = m.attempts, .state = MessageState::kSent});
    EXPECT_OK(stores_->outbox().Record(account, out, now).status());
  }
  testing::TempDir dir_;
  std::unique_ptr<SqliteStores> stores_;
  Segment segment_, excluded_;
  MessageTemplateRecord template_;
  int next_ = 0;
};

// A row the store cannot read is Corruption naming it: an unknown channel must not
// become `log` (a silent dry run), nor an unreadable audience nobody.
TEST(SqliteCampaignStore, DamagedRowsAreCorruptionNotDefaults) {
  testing::TempDir dir;
  auto opened = SqliteStores::Open(dir.File("outflow.db"), {}, kT0);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  CampaignStore& store = (*opened)->campaigns();
  SendingAccount a;
  a.name = "mail";
  a.channel = Channel::kEmail;
  a.provider = "log";
  ASSERT_OK_AND_ASSIGN(SendingAccount account, store.CreateAccount(a, nullptr, kT0));
  MessageTemplateRecord t;
  t.name = "t";
  t.subject = "Hi";
  t.text = "x";
  ASSERT_OK_AND_ASSIGN(MessageTemplateRecord tmpl, store.CreateTemplate(t, kT0));
  Campaign c;
  c.name = "c";
  c.account = account.id;
  c.template_id = tmpl.id;
  ASSERT_OK_AND_ASSIGN(Campaign camp, store.CreateCampaign(c, kT0));
  ASSERT_OK_AND_ASSIGN(auto raw, sqlite::Connection::Open(dir.File("outflow.db"), {}));
  ASSERT_OK(raw->Exec("PRAGMA ignore_check_constraints = ON; UPDATE sending_accounts SET channel = 'pigeon'"));
  Result<SendingAccount> got = store.GetAccount(account.id);
  EXPECT_EQ(got.status().code(), Code::kCorruption);
  EXPECT_NE(got.status().message().find("unknown channel 'pigeon'"), std::string::npos) << got.status().message();
  EXPECT_EQ(store.ListAccounts().status().code(), Code::kCorruption);
  ASSERT_OK(raw->Exec("UPDATE campaigns SET audience = 'not json'"));
  Result<Campaign> bad = store.GetCampaign(camp.id);
  EXPECT_EQ(bad.status().code(), Code::kCorruption);
  EXPECT_NE(bad.status().message().find("unreadable audience"), std::string::npos) << bad.status().message();
  ASSERT_OK(raw->Exec("UPDATE campaigns SET audience = '{\"segments\":[]}', cap_policy = 'maybe'"));
  EXPECT_EQ(store.GetCampaign(camp.id).status().code(), Code::kCorruption);
}

// Migration 8 moves a version-7 ledger into the outbox: the entries become messages
// with their states, keys and times, each started campaign a source with its counts,
// and a cancelled campaign's unsent entries cancelled messages.
TEST(CampaignLedgerMigration, TheLedgerBecomesTheCampaignsMessagesWithTheirCounts) {
  testing::TempDir dir;
  const std::string path = dir.File("v7.db");
  {
    ASSERT_OK_AND_ASSIGN(auto conn, sqlite::Connection::Open(path, {}));
    ASSERT_OK(
        conn->Exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                   "applied_at INTEGER NOT NULL)"));
    for (const sqlite::Migration& m : sqlite::AllMigrations()) {
      if (m.version > 7) break;
      ASSERT_OK(conn->Exec(m.sql));
      ASSERT_OK(
          conn->Exec("INSERT INTO schema_migrations VALUES(" + std::to_string(m.version) + ", '" + m.name + "', 0)"));
    }
    ASSERT_OK(conn->Exec(R"sql(
      INSERT INTO contacts(id, email, email_norm, created_at, updated_at) VALUES
        (1, 'a@x.io', 'a@x.io', 0, 0), (2, 'b@x.io', 'b@x.io', 0, 0), (3, 'c@x.io', 'c@x.io', 0, 0);
      INSERT INTO sending_accounts(id, name, channel, provider, rate_per_second, burst, time_zone, created_at, updated_at)
        VALUES (5, 'mail', 'email', 'log', 10, 10, 'UTC', 0, 0);
      INSERT INTO templates(id, name, subject, text_body, created_at, updated_at) VALUES (6, 't', 'Hi', 'x', 0, 0);
      INSERT INTO campaigns(id, name, account_id, template_id, audience, time_zone, cap_policy, max_attempts, state,
                            total, pending, sent, failed, skipped, created_at, updated_at, started_at)
        VALUES (10, 'running', 5, 6, '{"segments":[]}', 'UTC', 'wait', 4, 'processing', 3, 2, 1, 0, 0, 0, 100, 100),
               (11, 'stopped', 5, 6, '{"segments":[]}', 'UTC', 'wait', 5, 'cancelled', 2, 1, 1, 0, 0, 0, 100, 100);
      INSERT INTO campaign_recipients(campaign_id, contact_id, state, address, attempts, next_attempt_at, provider_id,
                                      error, updated_at) VALUES
        (10, 1, 'sent', 'a@x.io', 1, 0, 'p-1', NULL, 200),
        (10, 2, 'pending', 'b@x.io', 2, 900, NULL, 'HTTP 503', 300),
        (10, 3, 'sending', 'c@x.io', 1, 0, NULL, NULL, 400),
        (11, 1, 'sent', 'a@x.io', 1, 0, 'p-2', NULL, 500),
        (11, 2, 'pending', 'b@x.io', 0, 0, NULL, NULL, 600);
    )sql"));
  }
  auto opened = SqliteStores::Open(path, {}, kT0);  // migrates 8 and on
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  SqliteStores& stores = **opened;
  ASSERT_OK_AND_ASSIGN(Campaign running, stores.campaigns().GetCampaign(CampaignId(10)));
  EXPECT_EQ(running.counts.total, 3);
  EXPECT_EQ(running.counts.pending, 2);
  EXPECT_EQ(running.counts.sent, 1);
  ASSERT_OK_AND_ASSIGN(Campaign stopped, stores.campaigns().GetCampaign(CampaignId(11)));
  EXPECT_EQ(stopped.counts.pending, 0);
  EXPECT_EQ(stopped.counts.cancelled, 1);
  ASSERT_OK_AND_ASSIGN(auto msgs, stores.outbox().List({.source = SourceRef{SourceKind::kCampaign, 10}}));
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0].state, MessageState::kSent);
  EXPECT_EQ(msgs[0].provider_id, "p-1");
  EXPECT_EQ(msgs[0].sent_at, FromMicros(200));
  EXPECT_EQ(MessageKey(msgs[0]), "outflow-c10-r1") << "the key a provider saw before";
  EXPECT_EQ(msgs[1].state, MessageState::kQueued);
  EXPECT_EQ(msgs[1].attempts, 2);
  EXPECT_EQ(msgs[1].send_at, FromMicros(900));
  EXPECT_EQ(msgs[1].reason, "HTTP 503");
  EXPECT_EQ(msgs[1].max_attempts, 4);
  EXPECT_EQ(msgs[2].state, MessageState::kQueued) << "in flight at the upgrade: sent again with the same key";
  EXPECT_EQ(msgs[2].send_at, FromMicros(400));
  ASSERT_OK_AND_ASSIGN(auto gone, stores.outbox().List({.source = SourceRef{SourceKind::kCampaign, 11}}));
  ASSERT_EQ(gone.size(), 2u);
  EXPECT_EQ(gone[1].state, MessageState::kCancelled);
  // The running campaign's messages are claimable on its account; the cancelled one's are not.
  ASSERT_OK_AND_ASSIGN(OutboxClaim claim, stores.outbox().Claim(AccountId(5), kT0, 10, "d", std::nullopt));
  EXPECT_EQ(claim.messages.size(), 2u);
}

// Fan-outs and fills in chunks of two contacts: several transactions each.
class ChunkedFanOutTest : public CampaignStoreTest {
 protected:
  SqliteOptions Options() const override {
    SqliteOptions o;
    o.fanout_chunk = 2;
    o.segment_fill_chunk = 2;
    return o;
  }
  // The campaign's recipients by listing them: contact ids, each once.
  std::vector<int64_t> RecipientIds(CampaignId id) {
    Result<std::vector<Recipient>> rs = stores_->campaigns().Recipients(id, {std::nullopt, 0, 1000});
    EXPECT_TRUE(rs.ok());
    std::vector<int64_t> out;
    if (rs.ok()) {
      for (const Recipient& r : *rs) out.push_back(r.contact_id);
    }
    return out;
  }
  // The counts as the store keeps them agree with the messages.
  void ExpectCountsMatchMessages(CampaignId id, const std::string& when) {
    ASSERT_OK_AND_ASSIGN(Campaign c, stores_->campaigns().GetCampaign(id));
    ASSERT_OK_AND_ASSIGN(auto rs, stores_->campaigns().Recipients(id, {std::nullopt, 0, 1000}));
    int64_t skipped = 0;
    for (const Recipient& r : rs) skipped += r.state == RecipientState::kSkipped;
    EXPECT_EQ(c.counts.total, static_cast<int64_t>(rs.size())) << when;
    EXPECT_EQ(c.counts.skipped, skipped) << when;
  }
  int FanOutToEnd(CampaignId id) {
    int steps = 0;
    while (true) {
      Result<bool> done = stores_->campaigns().ContinueFanOut(id, kT0);
      EXPECT_TRUE(done.ok()) << done.status().ToString();
      ++steps;
      ExpectCountsMatchMessages(id, "after step " + std::to_string(steps));
      if (!done.ok() || *done || steps > 100) return steps;
    }
  }
};

TEST_F(ChunkedFanOutTest, CountsAreRightAtEveryCommitAndTheCampaignCompletesOnlyAfterTheLastChunk) {
  std::vector<int64_t> audience;
  for (int i = 0; i < 7; ++i) audience.push_back(AddContact("f" + std::to_string(i) + "@x.io", std::nullopt).value());
  audience.push_back(AddContact(std::nullopt, "+14155550009").value());  // no email: skipped
  AddContact("out@x.io", std::nullopt, /*in_segment=*/false);
  AccountId acct = Account(Channel::kEmail).id;
  Campaign camp = NewCampaign(acct);
  ASSERT_OK_AND_ASSIGN(Campaign started, stores_->campaigns().Start(camp.id, kT0));
  EXPECT_EQ(started.state, CampaignState::kProcessing);
  EXPECT_EQ(started.counts.total, 2) << "the first chunk only";
  ExpectCountsMatchMessages(camp.id, "after Start");
  // The first chunk's messages go out while the rest is made; the campaign does
  // not complete in between although nothing is pending.
  RecordSent(acct, ClaimAll(acct, kT0), kT0);
  ASSERT_OK_AND_ASSIGN(Campaign between, stores_->campaigns().CompleteIfDone(camp.id, kT0));
  EXPECT_EQ(between.state, CampaignState::kProcessing);
  EXPECT_EQ(FanOutToEnd(camp.id), 4);
  EXPECT_EQ(RecipientIds(camp.id), audience);
  ASSERT_OK_AND_ASSIGN(Campaign after, stores_->campaigns().GetCampaign(camp.id));
  EXPECT_EQ(after.counts.total, 8);
  EXPECT_EQ(after.counts.skipped, 1);
  EXPECT_EQ(after.counts.sent, 2);
  RecordSent(acct, ClaimAll(acct, kT0, 100), kT0);
  ASSERT_OK_AND_ASSIGN(Campaign done, stores_->campaigns().CompleteIfDone(camp.id, kT0));
  EXPECT_EQ(done.state, CampaignState::kCompleted);
  ASSERT_OK_AND_ASSIGN(bool idle, stores_->campaigns().ContinueFanOut(camp.id, kT0));
  EXPECT_TRUE(idle);
}

TEST_F(ChunkedFanOutTest, AFanOutResumesAfterARestartWithNoRecipientTwice) {
  std::vector<int64_t> audience;
  for (int i = 0; i < 9; ++i) audience.push_back(AddContact("r" + std::to_string(i) + "@x.io", std::nullopt).value());
  Campaign camp = NewCampaign(Account(Channel::kEmail).id);
  ASSERT_OK(stores_->campaigns().Start(camp.id, kT0).status());
  ASSERT_OK(stores_->campaigns().ContinueFanOut(camp.id, kT0).status());
  Open();  // a restart between two chunks
  // Contacts made after the start are not in this campaign's audience.
  AddContact("late@x.io", std::nullopt);
  FanOutToEnd(camp.id);
  EXPECT_EQ(RecipientIds(camp.id), audience);
  ASSERT_OK_AND_ASSIGN(Campaign c, stores_->campaigns().GetCampaign(camp.id));
  EXPECT_EQ(c.counts.total, 9);
  EXPECT_EQ(c.counts.pending, 9);
}

int64_t FanOutAddressRows(const std::string& path) {
  auto c = sqlite::Connection::Open(path, {});
  EXPECT_TRUE(c.ok());
  if (!c.ok()) return -1;
  auto s = (*c)->Prepare("SELECT count(*) FROM fanout_addresses");
  EXPECT_TRUE(s.ok());
  if (!s.ok() || (*s)->Step() != SQLITE_ROW) return -1;
  const int64_t n = (*s)->Int(0);
  (*s)->Reset();
  return n;
}

TEST_F(ChunkedFanOutTest, DuplicatePhonesAreSkippedAcrossChunks) {
  const std::vector<std::string> phones = {"+14155550001", "+14155550002", "+14155550001", "+14155550003",
                                           "+14155550002", "+14155550001", "+14155550004"};
  std::vector<int64_t> ids;
  for (size_t i = 0; i < phones.size(); ++i) ids.push_back(AddContact(std::nullopt, phones[i]).value());
  Campaign sms = NewCampaign(Account(Channel::kSms).id);
  ASSERT_OK(stores_->campaigns().Start(sms.id, kT0).status());
  EXPECT_GT(FanOutAddressRows(dir_.File("outflow.db")), 0) << "kept while the fan-out runs";
  FanOutToEnd(sms.id);
  ASSERT_OK_AND_ASSIGN(auto skipped, stores_->campaigns().Recipients(sms.id, {RecipientState::kSkipped, 0, 10}));
  std::vector<int64_t> dup;
  for (const Recipient& r : skipped) {
    EXPECT_EQ(r.error, "duplicate address");
    dup.push_back(r.contact_id);
  }
  EXPECT_EQ(dup, (std::vector<int64_t>{ids[2], ids[4], ids[5]})) << "the first contact with a number gets it";
  ASSERT_OK_AND_ASSIGN(Campaign c, stores_->campaigns().GetCampaign(sms.id));
  EXPECT_EQ(c.counts.pending, 4);
  EXPECT_EQ(FanOutAddressRows(dir_.File("outflow.db")), 0) << "forgotten when it ends";
}

TEST_F(ChunkedFanOutTest, ACampaignWaitsForItsSegmentsFirstFill) {
  for (int i = 0; i < 5; ++i) AddContact("w" + std::to_string(i) + "@x.io", std::nullopt, /*in_segment=*/false);
  Filter any;
  any.kind = Filter::Kind::kCondition;
  any.condition = {"email", FilterOp::kNotEmpty, {}};
  Segment dyn{SegmentId(), "With email", SegmentKind::kDynamic, any, 0, false, false, {}, {}};
  ASSERT_OK_AND_ASSIGN(Segment seg, stores_->segments().Create(dyn, kT0));
  ASSERT_TRUE(seg.filling);
  Campaign c = NewCampaign(Account(Channel::kEmail).id);
  c.audience.segments = {seg.id.value()};
  c.name = "to the filling segment";
  ASSERT_OK_AND_ASSIGN(Campaign camp, stores_->campaigns().CreateCampaign(c, kT0));
  Result<Campaign> early = stores_->campaigns().Start(camp.id, kT0);
  EXPECT_EQ(early.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(early.status().message().find("still filling"), std::string::npos) << early.status().ToString();
  EXPECT_EQ(stores_->campaigns().GetCampaign(camp.id)->state, CampaignState::kScheduled);
  ASSERT_OK(FillToEnd(stores_->segments(), seg.id, kT0).status());
  ASSERT_OK(stores_->campaigns().Start(camp.id, kT0).status());
  FanOutToEnd(camp.id);
  EXPECT_EQ(stores_->campaigns().GetCampaign(camp.id)->counts.total, 5);
}

TEST_F(ChunkedFanOutTest, CancellingStopsTheFanOut) {
  for (int i = 0; i < 8; ++i) AddContact("k" + std::to_string(i) + "@x.io", std::nullopt);
  Campaign camp = NewCampaign(Account(Channel::kEmail).id);
  ASSERT_OK(stores_->campaigns().Start(camp.id, kT0).status());
  ASSERT_OK(stores_->campaigns()
                .SetState(camp.id, {CampaignState::kProcessing}, CampaignState::kCancelled, kT0, {})
                .status());
  ASSERT_OK_AND_ASSIGN(bool done, stores_->campaigns().ContinueFanOut(camp.id, kT0));
  EXPECT_TRUE(done);
  ASSERT_OK_AND_ASSIGN(Campaign c, stores_->campaigns().GetCampaign(camp.id));
  EXPECT_EQ(c.state, CampaignState::kCancelled);
  EXPECT_EQ(c.counts.total, 2) << "no message made after the cancel";
  EXPECT_EQ(c.counts.pending, 0);
}

// Only a dynamic segment fills: a static one an import makes is ready at once
// (it was once left looking "filling", and its campaigns waited for ever).
TEST_F(ChunkedFanOutTest, AStaticSegmentAnImportMadeIsAnAudienceAtOnce) {
  Import im;
  im.file_name = "webinar.csv";
  im.file_path = "/nonexistent";
  ASSERT_OK_AND_ASSIGN(Import created, stores_->imports().Create(im, kT0));
  ASSERT_OK(stores_->imports().SetState(created.id, ImportState::kQueued, ImportState::kValidating, kT0));
  created.state = ImportState::kValidating;
  ASSERT_OK(stores_->imports().SetValidated(created, kT0));
  ImportBatch b;
  Contact c;
  c.email = "i@x.io";
  b.contacts = {c};
  b.contact_rows = {2};
  b.contact_segments = {"Webinar"};
  b.rows_read = 1;
  b.last = true;
  ASSERT_OK(stores_->imports().CommitBatch(created.id, b, ExistingPolicy::kUpdate, kT0).status());
  ASSERT_OK_AND_ASSIGN(std::optional<Segment> webinar, stores_->segments().FindByName("Webinar"));
  ASSERT_TRUE(webinar.has_value());
  EXPECT_FALSE(webinar->filling);
  Campaign camp = NewCampaign(Account(Channel::kEmail).id, CampaignState::kDraft);
  Campaign to_webinar = camp;
  to_webinar.audience.segments = {webinar->id.value()};
  to_webinar.state = CampaignState::kScheduled;
  to_webinar.name = "to the webinar";
  ASSERT_OK_AND_ASSIGN(Campaign scheduled, stores_->campaigns().CreateCampaign(to_webinar, kT0));
  ASSERT_OK_AND_ASSIGN(Campaign started, stores_->campaigns().Start(scheduled.id, kT0));
  EXPECT_EQ(started.counts.total, 1);
}

}  // namespace
}  // namespace outflow
