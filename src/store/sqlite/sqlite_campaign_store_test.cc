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

}  // namespace
}  // namespace outflow
