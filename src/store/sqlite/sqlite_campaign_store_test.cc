// The campaign store over a real SQLite file: accounts, templates, the audience
// frozen into the ledger, claims under a daily cap, outcomes and counts.
#include "store/sqlite/sqlite_campaign_store.h"

#include <gtest/gtest.h>

#include "store/sqlite/sqlite_store.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace outflow {
namespace {

const Timestamp kT0 = FromMicros(1'800'000'000'000'000);

class CampaignStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteStores::Open(dir_.File("outflow.db"), {}, kT0);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    stores_ = std::move(s).value();
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
    Result<SendingAccount> r = stores_->campaigns().CreateAccount(a, std::string("v1:sealed"), kT0);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return *r;
  }
  Campaign NewCampaign(AccountId account) {
    Campaign c;
    c.name = "launch";
    c.account = account;
    c.template_id = template_.id;
    c.audience.segments = {segment_.id.value()};
    c.state = CampaignState::kScheduled;
    Result<Campaign> r = stores_->campaigns().CreateCampaign(c, kT0);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return *r;
  }
  testing::TempDir dir_;
  std::unique_ptr<SqliteStores> stores_;
  Segment segment_, excluded_;
  MessageTemplateRecord template_;
  int next_ = 0;
};

TEST_F(CampaignStoreTest, AccountsKeepCredentialsWriteOnlyAndNamesUnique) {
  SendingAccount a = Account(Channel::kEmail, 100);
  EXPECT_TRUE(a.has_credentials);
  EXPECT_EQ(a.daily_cap, 100);
  ASSERT_OK_AND_ASSIGN(auto sealed, stores_->campaigns().AccountCredentials(a.id));
  EXPECT_EQ(sealed, "v1:sealed");
  SendingAccount dup = a;
  Result<SendingAccount> again = stores_->campaigns().CreateAccount(dup, std::nullopt, kT0);
  EXPECT_EQ(again.status().code(), Code::kConflict);
  a.rate_per_second = 50;
  ASSERT_OK_AND_ASSIGN(SendingAccount changed, stores_->campaigns().UpdateAccount(a, std::nullopt, kT0));
  EXPECT_EQ(changed.rate_per_second, 50);
  EXPECT_TRUE(changed.has_credentials) << "credentials kept when not given";
}

TEST_F(CampaignStoreTest, CreateNamesTheMissingReference) {
  SendingAccount a = Account(Channel::kEmail);
  Campaign c;
  c.name = "x";
  c.account = a.id;
  c.template_id = template_.id;
  c.audience.segments = {segment_.id.value(), 999};
  Result<Campaign> r = stores_->campaigns().CreateCampaign(c, kT0);
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("audience.segments[1]"), std::string::npos) << r.status().message();
  c.audience.segments = {segment_.id.value()};
  c.account = AccountId(77);
  r = stores_->campaigns().CreateCampaign(c, kT0);
  EXPECT_NE(r.status().message().find("account_id"), std::string::npos) << r.status().message();
}

TEST_F(CampaignStoreTest, StartFreezesTheAudienceWithSkipReasons) {
  ContactId a = AddContact("a@x.io", "+14155550001");
  ContactId b = AddContact(std::nullopt, "+14155550002");  // no email
  ContactId c = AddContact("c@x.io", std::nullopt);
  AddContact("d@x.io", std::nullopt, /*in_segment=*/false);  // not in the audience
  ASSERT_OK(stores_->segments().AddMembers(excluded_.id, std::vector<ContactId>{c}, kT0));
  Campaign camp = NewCampaign(Account(Channel::kEmail).id);
  // exclude c
  Campaign with_ex = camp;
  with_ex.audience.exclude_segment = excluded_.id.value();
  with_ex.name = "with exclusion";
  ASSERT_OK_AND_ASSIGN(Campaign ex, stores_->campaigns().CreateCampaign(with_ex, kT0));
  ASSERT_OK_AND_ASSIGN(Campaign started, stores_->campaigns().Start(ex.id, kT0));
  EXPECT_EQ(started.state, CampaignState::kProcessing);
  EXPECT_EQ(started.counts.total, 2);
  EXPECT_EQ(started.counts.pending, 1);
  EXPECT_EQ(started.counts.skipped, 1);
  ASSERT_OK_AND_ASSIGN(auto rs, stores_->campaigns().Recipients(ex.id, {}));
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].contact_id, a.value());
  EXPECT_EQ(rs[0].address, "a@x.io");
  EXPECT_EQ(rs[1].contact_id, b.value());
  EXPECT_EQ(rs[1].state, RecipientState::kSkipped);
  EXPECT_EQ(rs[1].error, "no email address");
  EXPECT_EQ(stores_->campaigns().Start(ex.id, kT0).status().code(), Code::kConflict) << "starts once";
}

TEST_F(CampaignStoreTest, DuplicatePhonesAreSkippedAndAnEmptyAudienceFails) {
  AddContact("a@x.io", "+14155550001");
  AddContact("b@x.io", "+14155550001");
  AddContact("c@x.io", "+14155550003");
  Campaign sms = NewCampaign(Account(Channel::kSms).id);
  ASSERT_OK_AND_ASSIGN(Campaign started, stores_->campaigns().Start(sms.id, kT0));
  EXPECT_EQ(started.counts.pending, 2);
  EXPECT_EQ(started.counts.skipped, 1);
  ASSERT_OK_AND_ASSIGN(auto skipped, stores_->campaigns().Recipients(sms.id, {RecipientState::kSkipped, 0, 10}));
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].error, "duplicate address");

  Segment empty{SegmentId(), "Empty", SegmentKind::kStatic, std::nullopt, 0, {}, {}};
  ASSERT_OK_AND_ASSIGN(Segment e, stores_->segments().Create(empty, kT0));
  Campaign c = NewCampaign(sms.account);
  c.audience.segments = {e.id.value()};
  c.name = "nobody";
  ASSERT_OK_AND_ASSIGN(Campaign nobody, stores_->campaigns().CreateCampaign(c, kT0));
  ASSERT_OK_AND_ASSIGN(Campaign failed, stores_->campaigns().Start(nobody.id, kT0));
  EXPECT_EQ(failed.state, CampaignState::kFailed);
  EXPECT_NE(failed.error.find("no recipients"), std::string::npos);
  EXPECT_TRUE(failed.failed_at.has_value());
}

TEST_F(CampaignStoreTest, ClaimRecordAndCompleteKeepCountsAndTheDailyCap) {
  for (int i = 0; i < 5; ++i) AddContact("p" + std::to_string(i) + "@x.io", std::nullopt);
  SendingAccount acct = Account(Channel::kEmail, /*cap=*/3);
  Campaign camp = NewCampaign(acct.id);
  ASSERT_OK(stores_->campaigns().Start(camp.id, kT0).status());
  ASSERT_OK_AND_ASSIGN(ClaimResult first, stores_->campaigns().Claim(camp.id, kT0, 10, "2027-01-15", acct.daily_cap));
  EXPECT_EQ(first.recipients.size(), 3u) << "the cap of 3 for the day";
  EXPECT_TRUE(first.cap_reached);
  EXPECT_EQ(first.recipients[0].contact.email, "p0@x.io");
  EXPECT_EQ(first.recipients[0].recipient.attempts, 1);
  ASSERT_OK_AND_ASSIGN(ClaimResult none, stores_->campaigns().Claim(camp.id, kT0, 10, "2027-01-15", acct.daily_cap));
  EXPECT_TRUE(none.recipients.empty());
  EXPECT_TRUE(none.cap_reached);
  EXPECT_EQ(*stores_->campaigns().DayCount(acct.id, "2027-01-15"), 3);

  std::vector<RecipientOutcome> out;
  out.push_back({first.recipients[0].recipient.contact_id, RecipientState::kSent, "prov-1", "", {}});
  out.push_back({first.recipients[1].recipient.contact_id, RecipientState::kFailed, "", "550 no such user", {}});
  out.push_back({first.recipients[2].recipient.contact_id, RecipientState::kPending, "", "451 try later",
                 kT0 + std::chrono::seconds(30)});
  ASSERT_OK_AND_ASSIGN(Campaign after, stores_->campaigns().Record(camp.id, out, kT0));
  EXPECT_EQ(after.counts.sent, 1);
  EXPECT_EQ(after.counts.failed, 1);
  EXPECT_EQ(after.counts.pending, 3);
  ASSERT_OK_AND_ASSIGN(auto next, stores_->campaigns().NextAttempt(camp.id));
  ASSERT_TRUE(next.has_value());
  EXPECT_LE(*next, kT0) << "two never tried are due now";
  ASSERT_OK(stores_->campaigns().Record(camp.id, out, kT0).status());
  EXPECT_EQ(stores_->campaigns().GetCampaign(camp.id)->counts.sent, 1) << "a repeated record counts nothing";

  // The next day: the rest go; the retried one only when due.
  ASSERT_OK_AND_ASSIGN(ClaimResult day2, stores_->campaigns().Claim(camp.id, kT0, 10, "2027-01-16", acct.daily_cap));
  EXPECT_EQ(day2.recipients.size(), 2u) << "the one retried later is not due yet";
  std::vector<RecipientOutcome> sent2;
  for (const auto& r : day2.recipients) sent2.push_back({r.recipient.contact_id, RecipientState::kSent, "p", "", {}});
  ASSERT_OK(stores_->campaigns().Record(camp.id, sent2, kT0).status());
  ASSERT_OK_AND_ASSIGN(ClaimResult late, stores_->campaigns().Claim(camp.id, kT0 + std::chrono::seconds(30), 10,
                                                                    "2027-01-16", acct.daily_cap));
  ASSERT_EQ(late.recipients.size(), 1u);
  EXPECT_EQ(late.recipients[0].recipient.attempts, 2);
  ASSERT_OK_AND_ASSIGN(Campaign done, stores_->campaigns().Record(
      camp.id, {{late.recipients[0].recipient.contact_id, RecipientState::kSent, "p3", "", {}}}, kT0));
  EXPECT_EQ(done.state, CampaignState::kCompleted);
  EXPECT_EQ(done.counts.sent, 4);
  EXPECT_EQ(done.counts.pending, 0);
  EXPECT_TRUE(done.completed_at.has_value());

  ASSERT_OK_AND_ASSIGN(int64_t retried, stores_->campaigns().RetryFailed(camp.id, kT0));
  EXPECT_EQ(retried, 1);
  ASSERT_OK_AND_ASSIGN(Campaign again, stores_->campaigns().GetCampaign(camp.id));
  EXPECT_EQ(again.state, CampaignState::kProcessing);
  EXPECT_EQ(again.counts.failed, 0);
  EXPECT_EQ(again.counts.pending, 1);
}

TEST_F(CampaignStoreTest, PausedCampaignsClaimNothingAndCrashLeftoversGoBackToPending) {
  for (int i = 0; i < 3; ++i) AddContact("q" + std::to_string(i) + "@x.io", std::nullopt);
  Campaign camp = NewCampaign(Account(Channel::kEmail).id);
  ASSERT_OK(stores_->campaigns().Start(camp.id, kT0).status());
  ASSERT_OK_AND_ASSIGN(ClaimResult claimed, stores_->campaigns().Claim(camp.id, kT0, 2, "d", std::nullopt));
  EXPECT_EQ(claimed.recipients.size(), 2u);
  ASSERT_OK(stores_->campaigns().SetState(camp.id, {CampaignState::kProcessing}, CampaignState::kPaused, kT0, {}).status());
  ASSERT_OK_AND_ASSIGN(ClaimResult none, stores_->campaigns().Claim(camp.id, kT0, 2, "d", std::nullopt));
  EXPECT_TRUE(none.recipients.empty());
  ASSERT_OK_AND_ASSIGN(int64_t requeued, stores_->campaigns().RequeueSending(camp.id, kT0));
  EXPECT_EQ(requeued, 2);
  ASSERT_OK_AND_ASSIGN(Campaign resumed, stores_->campaigns().SetState(camp.id, {CampaignState::kPaused},
                                                                       CampaignState::kProcessing, kT0, {}));
  EXPECT_EQ(resumed.counts.pending, 3);
  EXPECT_TRUE(resumed.paused_at.has_value());
}

}  // namespace
}  // namespace outflow
