// The CampaignStore conformance suite: the contract of store/campaign_store.h, as
// tests that every store implementation passes (see sqlite_campaign_store_test.cc).
// Accounts, templates, the audience frozen into the outbox, campaign states moving
// their outbox source, start jobs stored with the campaign. (Claims, outcomes and
// the daily cap: the outbox conformance suite.)
#include "store/campaign_store_conformance.h"

#include <atomic>
#include <map>
#include <stdexcept>
#include <thread>

#include "testing/status_matchers.h"

namespace outflow {

void CampaignStoreConformance::SetUp() {
  StoreSetTest::SetUp();
  if (HasFatalFailure()) return;
  Segment all{SegmentId(), "All", SegmentKind::kStatic, std::nullopt, 0, {}, {}};
  ASSERT_OK_AND_ASSIGN(segment_, segments().Create(all, kT0));
  Segment ex{SegmentId(), "Excluded", SegmentKind::kStatic, std::nullopt, 0, {}, {}};
  ASSERT_OK_AND_ASSIGN(excluded_, segments().Create(ex, kT0));
  MessageTemplateRecord t;
  t.name = "hello";
  t.subject = "Hi {{first_name}}";
  t.text = "Hello";
  ASSERT_OK_AND_ASSIGN(template_, campaigns().CreateTemplate(t, kT0));
}

ContactId CampaignStoreConformance::AddContact(std::optional<std::string> email, std::optional<std::string> phone,
                                               bool in_segment) {
  Contact c;
  c.email = std::move(email);
  c.phone = std::move(phone);
  if (!c.email && !c.phone) c.external_id = "x" + std::to_string(next_++);
  Result<Contact> r = contacts().Create(c, kT0);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return ContactId();
  if (in_segment) EXPECT_OK(segments().AddMembers(segment_.id, std::vector<ContactId>{r->id}, kT0));
  return r->id;
}

SendingAccount CampaignStoreConformance::Account(Channel ch, std::optional<int64_t> cap) {
  SendingAccount a;
  a.name = "acct-" + std::to_string(next_++);
  a.channel = ch;
  a.provider = "log";
  a.rate_per_second = 29;
  a.burst = 29;
  a.daily_cap = cap;
  Result<SendingAccount> r = campaigns().CreateAccount(
      a, [](AccountId id) { return "v1:sealed-" + std::to_string(id.value()); }, kT0);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : a;
}

Campaign CampaignStoreConformance::NewCampaign(AccountId account, CampaignState state) {
  Campaign c;
  c.name = "launch";
  c.account = account;
  c.template_id = template_.id;
  c.audience.segments = {segment_.id.value()};
  c.state = state;
  Result<Campaign> r = campaigns().CreateCampaign(c, kT0);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : c;
}

std::vector<Message> CampaignStoreConformance::ClaimAll(AccountId account, Timestamp now, int n) {
  Result<OutboxClaim> c = outbox().Claim(account, now, n, "2027-01-15", std::nullopt);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  std::vector<Message> out;
  if (c.ok()) {
    for (auto& m : c->messages) out.push_back(m.message);
  }
  return out;
}

void CampaignStoreConformance::RecordSent(AccountId account, const std::vector<Message>& ms, Timestamp now) {
  std::vector<MessageOutcome> out;
  for (const Message& m : ms) out.push_back({.id = m.id, .attempt = m.attempts, .state = MessageState::kSent});
  EXPECT_OK(outbox().Record(account, out, now).status());
}

Result<JobSpec> CampaignStoreConformance::StartJob(const Campaign& c) {
  JobSpec spec;
  spec.kind = "campaign.start";
  spec.due_at = c.scheduled_state_at.value_or(c.created_at);
  spec.idempotency_key = "start-" + std::to_string(c.id.value());
  return spec;
}

namespace {

TEST_P(CampaignStoreConformance, AccountsKeepCredentialsWriteOnlyAndNamesUnique) {
  SendingAccount a = Account(Channel::kEmail, 100);
  EXPECT_TRUE(a.has_credentials);
  EXPECT_EQ(a.daily_cap, 100);
  ASSERT_OK_AND_ASSIGN(auto sealed, campaigns().AccountCredentials(a.id));
  EXPECT_EQ(sealed, "v1:sealed-" + std::to_string(a.id.value()));
  SendingAccount dup = a;
  Result<SendingAccount> again = campaigns().CreateAccount(dup, nullptr, kT0);
  EXPECT_EQ(again.status().code(), Code::kConflict);
  a.rate_per_second = 50;
  ASSERT_OK_AND_ASSIGN(SendingAccount changed, campaigns().UpdateAccount(a, std::nullopt, kT0));
  EXPECT_EQ(changed.rate_per_second, 50);
  EXPECT_TRUE(changed.has_credentials) << "credentials kept when not given";
}

TEST_P(CampaignStoreConformance, ResealReplacesEveryCredentialAtOnceOrNone) {
  SendingAccount a = Account(Channel::kEmail);
  SendingAccount b = Account(Channel::kSms);
  SendingAccount bare;
  bare.name = "bare";
  bare.channel = Channel::kEmail;
  bare.provider = "log";
  ASSERT_OK_AND_ASSIGN(bare, campaigns().CreateAccount(bare, nullptr, kT0));
  // A failure half-way leaves every value as it was.
  Result<int64_t> failed = campaigns().ResealCredentials(
      [&](AccountId id, const std::string& old) -> Result<std::string> {
        if (id == b.id) return Status::Corruption("cannot open");
        return "v2:" + old;
      },
      kT0);
  EXPECT_EQ(failed.status().code(), Code::kCorruption);
  ASSERT_OK_AND_ASSIGN(auto kept, campaigns().AccountCredentials(a.id));
  EXPECT_EQ(kept, "v1:sealed-" + std::to_string(a.id.value())) << "all or nothing";
  std::vector<AccountId> seen;
  ASSERT_OK_AND_ASSIGN(int64_t n, campaigns().ResealCredentials(
                                      [&](AccountId id, const std::string& old) -> Result<std::string> {
                                        seen.push_back(id);
                                        return "new-" + old;
                                      },
                                      kT0));
  EXPECT_EQ(n, 2) << "accounts without credentials are left alone";
  EXPECT_EQ(seen, (std::vector<AccountId>{a.id, b.id}));
  ASSERT_OK_AND_ASSIGN(auto now_a, campaigns().AccountCredentials(a.id));
  EXPECT_EQ(now_a, "new-v1:sealed-" + std::to_string(a.id.value()));
  ASSERT_OK_AND_ASSIGN(auto none, campaigns().AccountCredentials(bare.id));
  EXPECT_FALSE(none);
}

TEST_P(CampaignStoreConformance, CreateAccountSealsWithTheNewRowsIdInItsTransaction) {
  Account(Channel::kEmail);  // so that the next id is not 1
  SendingAccount a;
  a.name = "sealed";
  a.channel = Channel::kSms;
  a.provider = "twilio_sms";
  std::vector<AccountId> seen;
  ASSERT_OK_AND_ASSIGN(SendingAccount created, campaigns().CreateAccount(
                                                   a,
                                                   [&](AccountId id) {
                                                     seen.push_back(id);
                                                     return std::string("v1:for-") + std::to_string(id.value());
                                                   },
                                                   kT0));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], created.id) << "the seal is bound to the row it is stored in";
  EXPECT_EQ(created.id.value(), 2);
  EXPECT_TRUE(created.has_credentials);
  ASSERT_OK_AND_ASSIGN(auto sealed, campaigns().AccountCredentials(created.id));
  EXPECT_EQ(sealed, "v1:for-2");

  a.name = "bare";
  ASSERT_OK_AND_ASSIGN(SendingAccount bare, campaigns().CreateAccount(a, nullptr, kT0));
  EXPECT_FALSE(bare.has_credentials) << "no seal function: no credentials";
  ASSERT_OK_AND_ASSIGN(auto none, campaigns().AccountCredentials(bare.id));
  EXPECT_FALSE(none.has_value());

  a.name = "sealed";  // taken: the seal is not called, nothing is written
  seen.clear();
  Result<SendingAccount> dup = campaigns().CreateAccount(
      a,
      [&](AccountId id) {
        seen.push_back(id);
        return std::string("v1:x");
      },
      kT0);
  EXPECT_EQ(dup.status().code(), Code::kConflict);
  EXPECT_TRUE(seen.empty());
  EXPECT_EQ(campaigns().ListAccounts()->size(), 3u);

  a.name = "unsealable";  // a seal that throws leaves no account behind
  EXPECT_THROW(campaigns().CreateAccount(
                   a, [](AccountId) -> std::string { throw std::runtime_error("no key"); }, kT0),
               std::runtime_error);
  EXPECT_EQ(campaigns().ListAccounts()->size(), 3u);
  ASSERT_OK_AND_ASSIGN(SendingAccount after, campaigns().CreateAccount(a, nullptr, kT0));
  EXPECT_EQ(after.name, "unsealable") << "the writer is free again";
}

TEST_P(CampaignStoreConformance, CreateNamesTheMissingReference) {
  SendingAccount a = Account(Channel::kEmail);
  Campaign c;
  c.name = "x";
  c.account = a.id;
  c.template_id = template_.id;
  c.audience.segments = {segment_.id.value(), 999};
  Result<Campaign> r = campaigns().CreateCampaign(c, kT0);
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("audience.segments[1]"), std::string::npos) << r.status().message();
  c.audience.segments = {segment_.id.value()};
  c.account = AccountId(77);
  r = campaigns().CreateCampaign(c, kT0);
  EXPECT_NE(r.status().message().find("account_id"), std::string::npos) << r.status().message();
}

TEST_P(CampaignStoreConformance, StartFreezesTheAudienceWithSkipReasons) {
  ContactId a = AddContact("a@x.io", "+14155550001");
  ContactId b = AddContact(std::nullopt, "+14155550002");  // no email
  ContactId c = AddContact("c@x.io", std::nullopt);
  AddContact("d@x.io", std::nullopt, /*in_segment=*/false);  // not in the audience
  ASSERT_OK(segments().AddMembers(excluded_.id, std::vector<ContactId>{c}, kT0));
  Campaign camp = NewCampaign(Account(Channel::kEmail).id);
  // exclude c
  Campaign with_ex = camp;
  with_ex.audience.exclude_segment = excluded_.id.value();
  with_ex.name = "with exclusion";
  ASSERT_OK_AND_ASSIGN(Campaign ex, campaigns().CreateCampaign(with_ex, kT0));
  ASSERT_OK_AND_ASSIGN(Campaign started, campaigns().Start(ex.id, kT0));
  EXPECT_EQ(started.state, CampaignState::kProcessing);
  EXPECT_EQ(started.counts.total, 2);
  EXPECT_EQ(started.counts.pending, 1);
  EXPECT_EQ(started.counts.skipped, 1);
  ASSERT_OK_AND_ASSIGN(auto rs, campaigns().Recipients(ex.id, {}));
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].contact_id, a.value());
  EXPECT_EQ(rs[0].address, "a@x.io");
  EXPECT_EQ(rs[1].contact_id, b.value());
  EXPECT_EQ(rs[1].state, RecipientState::kSkipped);
  EXPECT_EQ(rs[1].error, "no email address");
  EXPECT_EQ(campaigns().Start(ex.id, kT0).status().code(), Code::kConflict) << "starts once";
}

TEST_P(CampaignStoreConformance, DuplicatePhonesAreSkippedAndAnEmptyAudienceFails) {
  AddContact("a@x.io", "+14155550001");
  AddContact("b@x.io", "+14155550001");
  AddContact("c@x.io", "+14155550003");
  Campaign sms = NewCampaign(Account(Channel::kSms).id);
  ASSERT_OK_AND_ASSIGN(Campaign started, campaigns().Start(sms.id, kT0));
  EXPECT_EQ(started.counts.pending, 2);
  EXPECT_EQ(started.counts.skipped, 1);
  ASSERT_OK_AND_ASSIGN(auto skipped, campaigns().Recipients(sms.id, {RecipientState::kSkipped, 0, 10}));
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].error, "duplicate address");

  Segment empty{SegmentId(), "Empty", SegmentKind::kStatic, std::nullopt, 0, {}, {}};
  ASSERT_OK_AND_ASSIGN(Segment e, segments().Create(empty, kT0));
  Campaign c = NewCampaign(sms.account);
  c.audience.segments = {e.id.value()};
  c.name = "nobody";
  ASSERT_OK_AND_ASSIGN(Campaign nobody, campaigns().CreateCampaign(c, kT0));
  ASSERT_OK_AND_ASSIGN(Campaign failed, campaigns().Start(nobody.id, kT0));
  EXPECT_EQ(failed.state, CampaignState::kFailed);
  EXPECT_NE(failed.error.find("no recipients"), std::string::npos);
  EXPECT_TRUE(failed.failed_at.has_value());
}

TEST_P(CampaignStoreConformance, APausedCampaignsMessagesAreNotClaimedAndCancelCancelsThem) {
  for (int i = 0; i < 3; ++i) AddContact("q" + std::to_string(i) + "@x.io", std::nullopt);
  AccountId acct = Account(Channel::kEmail).id;
  Campaign camp = NewCampaign(acct);
  ASSERT_OK(campaigns().Start(camp.id, kT0).status());
  EXPECT_EQ(ClaimAll(acct, kT0, 2).size(), 2u);
  ASSERT_OK(campaigns().SetState(camp.id, {CampaignState::kProcessing}, CampaignState::kPaused, kT0, {}).status());
  EXPECT_TRUE(ClaimAll(acct, kT0).empty()) << "paused in the same transaction";
  ASSERT_OK_AND_ASSIGN(int64_t requeued, outbox().RequeueSending(acct, kT0));
  EXPECT_EQ(requeued, 2);
  ASSERT_OK_AND_ASSIGN(Campaign resumed,
                       campaigns().SetState(camp.id, {CampaignState::kPaused}, CampaignState::kProcessing, kT0, {}));
  EXPECT_EQ(resumed.counts.pending, 3);
  EXPECT_TRUE(resumed.paused_at.has_value());
  EXPECT_EQ(ClaimAll(acct, kT0, 1).size(), 1u);
  ASSERT_OK_AND_ASSIGN(Campaign cancelled,
                       campaigns().SetState(camp.id, {CampaignState::kProcessing}, CampaignState::kCancelled, kT0, {}));
  EXPECT_EQ(cancelled.counts.cancelled, 2);
  EXPECT_EQ(cancelled.counts.pending, 1) << "the one being sent";
  EXPECT_TRUE(ClaimAll(acct, kT0).empty());
  ASSERT_OK_AND_ASSIGN(auto rs, campaigns().Recipients(camp.id, {RecipientState::kCancelled, 0, 10}));
  EXPECT_EQ(rs.size(), 2u);
}
TEST_P(CampaignStoreConformance, ActiveCampaignsAreScheduledProcessingOrPausedOldestFirst) {
  AddContact("p@x.io", std::nullopt);
  AddContact("q@x.io", std::nullopt);
  AccountId acct = Account(Channel::kEmail).id;
  CampaignStore& cs = campaigns();
  ASSERT_OK_AND_ASSIGN(auto none, cs.ActiveCampaigns());
  EXPECT_TRUE(none.empty());
  Campaign draft = NewCampaign(acct, CampaignState::kDraft);
  Campaign scheduled = NewCampaign(acct);
  Campaign processing = NewCampaign(acct);
  ASSERT_OK(cs.Start(processing.id, kT0).status());
  Campaign paused = NewCampaign(acct);
  ASSERT_OK(cs.Start(paused.id, kT0).status());
  ASSERT_OK(cs.SetState(paused.id, {CampaignState::kProcessing}, CampaignState::kPaused, kT0).status());
  Campaign cancelled = NewCampaign(acct);
  ASSERT_OK(cs.SetState(cancelled.id, {CampaignState::kScheduled}, CampaignState::kCancelled, kT0).status());
  Campaign failed = NewCampaign(acct);
  ASSERT_OK(cs.SetState(failed.id, {CampaignState::kScheduled}, CampaignState::kFailed, kT0, "missed").status());
  Campaign completed = NewCampaign(acct);
  ASSERT_OK(cs.SetState(processing.id, {CampaignState::kProcessing}, CampaignState::kPaused, kT0).status());
  ASSERT_OK(cs.Start(completed.id, kT0).status());
  RecordSent(acct, ClaimAll(acct, kT0), kT0);
  ASSERT_OK_AND_ASSIGN(Campaign done, cs.CompleteIfDone(completed.id, kT0));
  ASSERT_EQ(done.state, CampaignState::kCompleted);
  ASSERT_OK(cs.SetState(processing.id, {CampaignState::kPaused}, CampaignState::kProcessing, kT0).status());
  Campaign scheduled_last = NewCampaign(acct);

  ASSERT_OK_AND_ASSIGN(auto active, cs.ActiveCampaigns());
  std::vector<CampaignId> ids;
  for (const Campaign& c : active) ids.push_back(c.id);
  EXPECT_EQ(ids, (std::vector<CampaignId>{scheduled.id, processing.id, paused.id, scheduled_last.id}));
  ASSERT_EQ(active.size(), 4u);
  EXPECT_EQ(active[2].state, CampaignState::kPaused);
  EXPECT_EQ(active[1].counts.pending, 2) << "whole campaigns, counts included";
  (void)draft;
}

TEST_P(CampaignStoreConformance, CompleteIfDoneCompletesAResumedCampaignWhoseLastSendsWereRecordedWhilePaused) {
  AddContact("p@x.io", std::nullopt);
  AddContact("q@x.io", std::nullopt);
  Campaign camp = NewCampaign(Account(Channel::kEmail).id);
  CampaignStore& cs = campaigns();
  ASSERT_OK(cs.Start(camp.id, kT0).status());
  ASSERT_OK_AND_ASSIGN(Campaign busy, cs.CompleteIfDone(camp.id, kT0));
  EXPECT_EQ(busy.state, CampaignState::kProcessing) << "two pending: unchanged";
  EXPECT_FALSE(busy.completed_at.has_value());

  const AccountId acct = camp.account;
  std::vector<Message> claimed = ClaimAll(acct, kT0);
  ASSERT_EQ(claimed.size(), 2u);
  ASSERT_OK_AND_ASSIGN(Campaign sending, cs.CompleteIfDone(camp.id, kT0));
  EXPECT_EQ(sending.state, CampaignState::kProcessing) << "two sending: unchanged";

  const Timestamp t1 = kT0 + std::chrono::seconds(1);
  ASSERT_OK(cs.SetState(camp.id, {CampaignState::kProcessing}, CampaignState::kPaused, t1).status());
  RecordSent(acct, claimed, t1);
  ASSERT_OK_AND_ASSIGN(Campaign recorded, cs.GetCampaign(camp.id));
  EXPECT_EQ(recorded.state, CampaignState::kPaused) << "a paused campaign does not complete";
  EXPECT_EQ(recorded.counts.pending, 0);
  ASSERT_OK_AND_ASSIGN(Campaign still_paused, cs.CompleteIfDone(camp.id, t1));
  EXPECT_EQ(still_paused.state, CampaignState::kPaused) << "only a processing campaign completes";

  const Timestamp t2 = kT0 + std::chrono::seconds(2);
  ASSERT_OK_AND_ASSIGN(Campaign resumed,
                       cs.SetState(camp.id, {CampaignState::kPaused}, CampaignState::kProcessing, t2));
  EXPECT_EQ(resumed.state, CampaignState::kProcessing);
  const Timestamp t3 = kT0 + std::chrono::seconds(3);
  ASSERT_OK_AND_ASSIGN(Campaign done, cs.CompleteIfDone(camp.id, t3));
  EXPECT_EQ(done.state, CampaignState::kCompleted);
  EXPECT_EQ(done.completed_at, t3);
  EXPECT_EQ(done.updated_at, t3);
  EXPECT_EQ(done.started_at, kT0) << "the first start is kept";
  EXPECT_EQ(done.counts.sent, 2);
  ASSERT_OK_AND_ASSIGN(Campaign twice, cs.CompleteIfDone(camp.id, t3 + std::chrono::seconds(1)));
  EXPECT_EQ(twice.state, CampaignState::kCompleted);
  EXPECT_EQ(twice.completed_at, t3) << "unchanged";

  EXPECT_EQ(cs.CompleteIfDone(CampaignId(999), t3).status().code(), Code::kNotFound);
}

TEST_P(CampaignStoreConformance, UnsubscribingSkipsQueuedMessagesOfActiveCampaignsAndLaterFanOuts) {
  ContactId a = AddContact("a@x.io", std::nullopt);
  ContactId b = AddContact("b@x.io", std::nullopt);
  AccountId acct = Account(Channel::kEmail).id;
  Campaign running = NewCampaign(acct);
  ASSERT_OK(campaigns().Start(running.id, kT0).status());
  Campaign later = NewCampaign(acct);  // scheduled, not started

  ASSERT_OK_AND_ASSIGN(std::optional<Timestamp> at, campaigns().SetUnsubscribed(b.value(), true, kT0));
  EXPECT_EQ(at, kT0);
  // The first time is kept.
  ASSERT_OK_AND_ASSIGN(at, campaigns().SetUnsubscribed(b.value(), true, kT0 + std::chrono::hours(1)));
  EXPECT_EQ(at, kT0);
  ASSERT_OK_AND_ASSIGN(at, campaigns().UnsubscribedAt(b.value()));
  EXPECT_EQ(at, kT0);

  ASSERT_OK_AND_ASSIGN(Campaign r, campaigns().GetCampaign(running.id));
  EXPECT_EQ(r.counts.pending, 1);
  EXPECT_EQ(r.counts.skipped, 1);
  ASSERT_OK_AND_ASSIGN(auto rs, campaigns().Recipients(running.id, {}));
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].contact_id, a.value());
  EXPECT_EQ(rs[0].state, RecipientState::kPending);
  EXPECT_EQ(rs[1].state, RecipientState::kSkipped);
  EXPECT_EQ(rs[1].error, "unsubscribed");
  std::vector<Message> claim = ClaimAll(acct, kT0);
  ASSERT_EQ(claim.size(), 1u);
  EXPECT_EQ(claim[0].contact, a);

  ASSERT_OK_AND_ASSIGN(Campaign l, campaigns().Start(later.id, kT0));
  EXPECT_EQ(l.counts.pending, 1);
  EXPECT_EQ(l.counts.skipped, 1);

  ASSERT_OK_AND_ASSIGN(at, campaigns().SetUnsubscribed(b.value(), false, kT0));
  EXPECT_EQ(at, std::nullopt);
  EXPECT_EQ(campaigns().SetUnsubscribed(999999, true, kT0).status().code(), Code::kNotFound);
  EXPECT_EQ(campaigns().UnsubscribedAt(999999).status().code(), Code::kNotFound);
}

TEST_P(CampaignStoreConformance, RetryFailedContinuesAFailedCampaignWithPendingEntries) {
  AddContact("a@x.io", std::nullopt);
  Campaign camp = NewCampaign(Account(Channel::kEmail).id);
  ASSERT_OK(campaigns().Start(camp.id, kT0).status());
  CampaignStore& store = campaigns();
  ASSERT_OK(
      store.SetState(camp.id, {CampaignState::kProcessing}, CampaignState::kFailed, kT0, "template broke").status());
  ASSERT_OK_AND_ASSIGN(int64_t n, store.RetryFailed(camp.id, kT0));
  EXPECT_EQ(n, 0);
  ASSERT_OK_AND_ASSIGN(Campaign c, store.GetCampaign(camp.id));
  EXPECT_EQ(c.state, CampaignState::kProcessing);
  EXPECT_EQ(c.counts.pending, 1);
}

// "10:00 in each contact's zone": each message is due at that wall time in its
// contact's zone (the campaign's for a contact without one), by the point rule:
// 02:30 on Berlin's spring-forward day does not exist and is 03:30 CEST.
TEST_P(CampaignStoreConformance, ALocalTimeCampaignIsDueAtThatWallTimeInEachContactsZone) {
  auto contact_in = [&](const std::string& email, std::optional<std::string> zone) {
    Contact c;
    c.email = email;
    c.time_zone = std::move(zone);
    Result<Contact> r = contacts().Create(c, kT0);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_OK(segments().AddMembers(segment_.id, std::vector<ContactId>{r->id}, kT0));
    return r->id;
  };
  ContactId berlin = contact_in("b@x.io", "Europe/Berlin");
  ContactId york = contact_in("n@x.io", "America/New_York");
  ContactId none = contact_in("z@x.io", std::nullopt);
  ContactId kiritimati = contact_in("k@x.io", "Pacific/Kiritimati");
  Campaign c;
  c.name = "local";
  c.account = Account(Channel::kEmail).id;
  c.template_id = template_.id;
  c.audience.segments = {segment_.id.value()};
  c.state = CampaignState::kScheduled;
  c.time_zone = "Asia/Tokyo";
  c.local_send_at = "2027-03-28T02:30";
  ASSERT_OK_AND_ASSIGN(LocalSendRange range, LocalSendRangeOf(*c.local_send_at, "send_at"));
  c.scheduled_at = range.earliest;
  ASSERT_OK_AND_ASSIGN(Campaign made, campaigns().CreateCampaign(c, kT0));
  EXPECT_EQ(made.local_send_at, c.local_send_at);
  // Started when Kiritimati (UTC+14) reaches the time: its message is due at once.
  const Timestamp start = ParseRfc3339("2027-03-27T12:30:00Z").value();
  EXPECT_EQ(range.earliest, start);
  ASSERT_OK(campaigns().Start(made.id, start).status());
  ASSERT_OK_AND_ASSIGN(auto messages, outbox().List({.source = SourceRef{SourceKind::kCampaign, made.id.value()}}));
  std::map<ContactId, std::string> due;
  for (const Message& m : messages) due[m.contact] = FormatRfc3339(m.send_at);
  EXPECT_EQ(due[berlin], "2027-03-28T01:30:00.000000Z") << "02:30 skipped by the gap: 03:30 CEST";
  EXPECT_EQ(due[york], "2027-03-28T06:30:00.000000Z") << "EDT since 14 March";
  EXPECT_EQ(due[none], "2027-03-27T17:30:00.000000Z") << "the campaign's zone";
  EXPECT_EQ(due[kiritimati], "2027-03-27T12:30:00.000000Z");
  ASSERT_OK_AND_ASSIGN(std::optional<Timestamp> next, outbox().NextDue(made.account));
  EXPECT_EQ(next, start);
  EXPECT_EQ(LocalSendRangeOf("2027-03-28T02:30+01:00", "send_at").status().code(), Code::kInvalidArgument);
}

// Scheduling stores the start job in the campaign's transaction: both or neither.
TEST_P(CampaignStoreConformance, ScheduleStoresTheStartJobWithTheCampaign) {
  AccountId acct = Account(Channel::kEmail).id;
  Campaign draft = NewCampaign(acct, CampaignState::kDraft);
  auto refuse = [](const Campaign&) -> Result<JobSpec> { return Status::Unavailable("no job today"); };
  EXPECT_EQ(campaigns().Schedule(draft.id, {CampaignState::kDraft}, refuse, kT0).status().code(), Code::kUnavailable);
  ASSERT_OK_AND_ASSIGN(Campaign still, campaigns().GetCampaign(draft.id));
  EXPECT_EQ(still.state, CampaignState::kDraft) << "no job, no schedule";
  const Timestamp t1 = kT0 + std::chrono::seconds(5);
  ASSERT_OK_AND_ASSIGN(Campaign scheduled, campaigns().Schedule(draft.id, {CampaignState::kDraft}, StartJob, t1));
  EXPECT_EQ(scheduled.state, CampaignState::kScheduled);
  EXPECT_EQ(scheduled.scheduled_state_at, t1) << "the job function sees the campaign as written";
  std::vector<Job> jobs = JobsWithKey("start-" + std::to_string(draft.id.value()));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].due_at, t1);
  EXPECT_EQ(jobs[0].state, JobState::kReady);
  // From a state not named: Conflict, and no second job.
  EXPECT_EQ(campaigns().Schedule(draft.id, {CampaignState::kDraft}, StartJob, t1).status().code(), Code::kConflict);
  EXPECT_EQ(JobsWithKey("start-" + std::to_string(draft.id.value())).size(), 1u);
}

TEST_P(CampaignStoreConformance, CreateScheduledStoresTheStartJobWithTheCampaign) {
  Campaign c;
  c.name = "at once";
  c.account = Account(Channel::kEmail).id;
  c.template_id = template_.id;
  c.audience.segments = {segment_.id.value()};
  c.state = CampaignState::kScheduled;
  auto refuse = [](const Campaign&) -> Result<JobSpec> { return Status::Unavailable("no job today"); };
  EXPECT_EQ(campaigns().CreateCampaign(c, refuse, kT0).status().code(), Code::kUnavailable);
  ASSERT_OK_AND_ASSIGN(auto none, campaigns().ListCampaigns(0, 10));
  EXPECT_TRUE(none.empty()) << "no job, no campaign";
  ASSERT_OK_AND_ASSIGN(Campaign made, campaigns().CreateCampaign(c, StartJob, kT0));
  EXPECT_EQ(made.scheduled_state_at, kT0);
  EXPECT_EQ(JobsWithKey("start-" + std::to_string(made.id.value())).size(), 1u);
}

// Each transition is one conditional change: racing transitions out of one state
// (a pause, a cancel and a start of each scheduled campaign), exactly one wins.
TEST_P(CampaignStoreConformance, RacingTransitionsFromOneStateExactlyOneWins) {
  AddContact("a@x.io", std::nullopt);
  AccountId acct = Account(Channel::kEmail).id;
  std::vector<Campaign> made;
  for (int i = 0; i < 20; ++i) made.push_back(NewCampaign(acct));
  std::atomic<int> won{0}, conflicts{0}, other{0};
  auto count = [&](const Status& st) {
    if (st.ok()) {
      ++won;
    } else {
      ++(st.code() == Code::kConflict ? conflicts : other);
    }
  };
  std::thread pauser([&] {
    for (const Campaign& c : made) {
      count(campaigns().SetState(c.id, {CampaignState::kScheduled}, CampaignState::kPaused, kT0).status());
    }
  });
  std::thread canceller([&] {
    for (const Campaign& c : made) {
      count(campaigns().SetState(c.id, {CampaignState::kScheduled}, CampaignState::kCancelled, kT0).status());
    }
  });
  for (auto it = made.rbegin(); it != made.rend(); ++it) count(campaigns().Start(it->id, kT0).status());
  pauser.join();
  canceller.join();
  EXPECT_EQ(won.load(), 20);
  EXPECT_EQ(conflicts.load(), 40);
  EXPECT_EQ(other.load(), 0);
  // A campaign started at most once: its one recipient has one message.
  for (const Campaign& c : made) {
    ASSERT_OK_AND_ASSIGN(Campaign after, campaigns().GetCampaign(c.id));
    EXPECT_LE(after.counts.total, 1) << c.id.value();
    EXPECT_EQ(after.counts.total == 1, after.started_at.has_value()) << c.id.value();
  }
}

TEST_P(CampaignStoreConformance, SetStateNamesTheStateThatBeatIt) {
  Campaign c = NewCampaign(Account(Channel::kEmail).id);
  ASSERT_OK(campaigns().SetState(c.id, {CampaignState::kScheduled}, CampaignState::kCancelled, kT0).status());
  Result<Campaign> r = campaigns().SetState(c.id, {CampaignState::kScheduled}, CampaignState::kPaused, kT0);
  EXPECT_EQ(r.status().code(), Code::kConflict);
  EXPECT_NE(r.status().message().find("is cancelled"), std::string::npos) << r.status().message();
  EXPECT_EQ(
      campaigns().SetState(CampaignId(4242), {CampaignState::kScheduled}, CampaignState::kPaused, kT0).status().code(),
      Code::kNotFound);
}

}  // namespace
}  // namespace outflow
