// The OutboxStore conformance suite: the contract of store/outbox_store.h, as tests
// that every store implementation passes (see sqlite_outbox_store_test.cc).
#include "store/outbox_store_conformance.h"

#include <atomic>
#include <set>
#include <thread>

#include "testing/status_matchers.h"

namespace outflow {

namespace {

using std::chrono::seconds;
const Timestamp kT0 = FromMicros(1'800'000'000'000'000);
const SourceRef kCampaign1{SourceKind::kCampaign, 1};
const SourceRef kCampaign2{SourceKind::kCampaign, 2};

MessageOutcome Outcome(const Message& m, MessageState state, std::string reason = {}) {
  MessageOutcome o;
  o.id = m.id;
  o.attempt = m.attempts;
  o.state = state;
  o.reason = std::move(reason);
  return o;
}

std::vector<Message> Messages(const OutboxClaim& c) {
  std::vector<Message> out;
  for (const ClaimedMessage& m : c.messages) out.push_back(m.message);
  return out;
}

}  // namespace

void OutboxStoreConformance::SetUp() {
  auto s = GetParam().open(dir_.path().string(), kT0);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  stores_ = std::move(s).value();
  outbox_ = stores_.outbox;
  MessageTemplateRecord t;
  t.name = "hello";
  t.subject = "Hi";
  t.text = "Hello";
  ASSERT_OK_AND_ASSIGN(MessageTemplateRecord made, stores_.campaigns->CreateTemplate(t, kT0));
  template_ = made.id;
}

AccountId OutboxStoreConformance::Account(Channel channel, std::optional<int64_t> cap) {
  SendingAccount a;
  a.name = "acct-" + std::to_string(next_++);
  a.channel = channel;
  a.provider = "log";
  a.rate_per_second = 100;
  a.burst = 100;
  a.daily_cap = cap;
  Result<SendingAccount> r = stores_.campaigns->CreateAccount(a, {}, kT0);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r->id : AccountId();
}

ContactId OutboxStoreConformance::Contact(std::optional<std::string> email, std::optional<std::string> phone) {
  outflow::Contact c;
  c.email = std::move(email);
  c.phone = std::move(phone);
  if (!c.email && !c.phone) c.external_id = "x" + std::to_string(next_++);
  Result<outflow::Contact> r = stores_.contacts->Create(c, kT0);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r->id : ContactId();
}

NewMessage OutboxStoreConformance::Msg(AccountId account, ContactId contact, SourceRef source, int64_t step) {
  NewMessage m;
  m.account = account;
  m.contact = contact;
  m.template_id = template_;
  m.source = source;
  m.step = step;
  m.send_at = kT0;
  return m;
}

std::vector<Message> OutboxStoreConformance::Put(std::vector<NewMessage> messages) {
  Result<std::vector<EnqueuedMessage>> r = outbox_->Enqueue(messages, kT0);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  std::vector<Message> out;
  if (r.ok()) {
    for (auto& e : *r) out.push_back(e.message);
  }
  return out;
}

MessageCounts OutboxStoreConformance::CountsOf(SourceRef s) {
  Result<MessageCounts> c = outbox_->Counts(s);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : MessageCounts{};
}

TEST_P(OutboxStoreConformance, AProducerCannotMakeAMessageTwiceNorACallerKeyRepeat) {
  AccountId acct = Account();
  ContactId ann = Contact("ann@x.io");
  std::vector<Message> first = Put({Msg(acct, ann, kCampaign1), Msg(acct, ann, kCampaign1, /*step=*/2)});
  ASSERT_EQ(first.size(), 2u);
  EXPECT_NE(first[0].id, first[1].id) << "another step is another message";
  ASSERT_OK_AND_ASSIGN(auto again, outbox_->Enqueue(std::vector{Msg(acct, ann, kCampaign1)}, kT0));
  EXPECT_TRUE(again[0].existing);
  EXPECT_EQ(again[0].message.id, first[0].id);
  EXPECT_EQ(CountsOf(kCampaign1).total, 2) << "the repeat is not counted";

  NewMessage t = Msg(acct, ann, {SourceKind::kTransactional, acct.value()});
  t.client_key = "order-17";
  std::vector<Message> tx = Put({t});
  ASSERT_OK_AND_ASSIGN(auto repeat, outbox_->Enqueue(std::vector{t}, kT0));
  EXPECT_TRUE(repeat[0].existing);
  EXPECT_EQ(repeat[0].message.id, tx[0].id);
  NewMessage other = t;
  other.client_key.clear();
  std::vector<Message> two = Put({other, other});
  ASSERT_EQ(two.size(), 2u);
  EXPECT_NE(two[0].id, two[1].id) << "transactional sends without a key are each their own";
  EXPECT_EQ(MessageKey(first[0]), "outflow-c1-r" + std::to_string(ann.value())) << "the ledger's key, unchanged";
  EXPECT_NE(MessageKey(two[0]), MessageKey(two[1]));
}

TEST_P(OutboxStoreConformance, EnqueueNamesUnknownReferencesAndAppliesNothingOfABadBatch) {
  AccountId acct = Account();
  ContactId ann = Contact("ann@x.io");
  NewMessage bad_contact = Msg(acct, ContactId(999999), kCampaign1);
  Status st = outbox_->Enqueue(std::vector{Msg(acct, ann, kCampaign1), bad_contact}, kT0).status();
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_NE(st.message().find("messages[1].contact_id"), std::string::npos) << st.message();
  EXPECT_EQ(CountsOf(kCampaign1).total, 0) << "all or nothing";
  ASSERT_OK_AND_ASSIGN(auto none, outbox_->List({}));
  EXPECT_TRUE(none.empty());
  NewMessage bad_account = Msg(AccountId(424242), ann, kCampaign1);
  st = outbox_->Enqueue(std::vector{bad_account}, kT0).status();
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_NE(st.message().find("messages[0].account_id: account 424242"), std::string::npos) << st.message();
  NewMessage bad_template = Msg(acct, ann, kCampaign1);
  bad_template.template_id = TemplateId(777);
  st = outbox_->Enqueue(std::vector{bad_template}, kT0).status();
  EXPECT_NE(st.message().find("messages[0].template_id: template 777"), std::string::npos) << st.message();
}

TEST_P(OutboxStoreConformance, AMissingAddressFailsAndAnUnsubscribedContactIsSkipped) {
  AccountId sms = Account(Channel::kSms);
  ContactId no_phone = Contact("np@x.io");
  ContactId gone = Contact("gone@x.io", "+14155550100");
  ASSERT_OK(stores_.campaigns->SetUnsubscribed(gone.value(), true, kT0).status());
  std::vector<Message> m = Put({Msg(sms, no_phone, kCampaign1), Msg(sms, gone, kCampaign1)});
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].state, MessageState::kFailed);
  EXPECT_EQ(m[0].reason, "no phone number");
  EXPECT_EQ(m[1].state, MessageState::kSkipped);
  EXPECT_EQ(m[1].reason, "unsubscribed");
  MessageCounts c = CountsOf(kCampaign1);
  EXPECT_EQ(c.total, 2);
  EXPECT_EQ(c.failed, 1);
  EXPECT_EQ(c.skipped, 1);
  EXPECT_EQ(c.pending, 0);
}

TEST_P(OutboxStoreConformance, ClaimTakesPriorityFirstThenSourcesInTurn) {
  AccountId acct = Account();
  std::vector<NewMessage> batch;
  for (int i = 0; i < 6; ++i) {
    ContactId c = Contact("c" + std::to_string(i) + "@x.io");
    batch.push_back(Msg(acct, c, kCampaign1));
    batch.push_back(Msg(acct, c, kCampaign2));
  }
  ContactId vip = Contact("vip@x.io");
  batch.push_back(Msg(acct, vip, {SourceKind::kTransactional, acct.value()}));
  Put(batch);
  ASSERT_OK_AND_ASSIGN(OutboxClaim first, outbox_->Claim(acct, kT0, 5, "2027-01-15", std::nullopt));
  ASSERT_EQ(first.messages.size(), 5u);
  EXPECT_EQ(first.messages[0].message.source.kind, SourceKind::kTransactional) << "transactional before campaigns";
  EXPECT_EQ(first.messages[0].contact.email, "vip@x.io") << "with its contact";
  int from1 = 0, from2 = 0;
  for (const Message& m : Messages(first)) {
    from1 += m.source == kCampaign1;
    from2 += m.source == kCampaign2;
    EXPECT_EQ(m.state, MessageState::kSending);
    EXPECT_EQ(m.attempts, 1);
  }
  EXPECT_EQ(from1, 2);
  EXPECT_EQ(from2, 2) << "two campaigns of one priority share the claim";
  // Claims of one message each alternate between the two campaigns.
  std::vector<SourceRef> order;
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK_AND_ASSIGN(OutboxClaim one, outbox_->Claim(acct, kT0 + seconds(i + 1), 1, "2027-01-15", std::nullopt));
    ASSERT_EQ(one.messages.size(), 1u);
    order.push_back(one.messages[0].message.source);
  }
  EXPECT_NE(order[0], order[1]);
  EXPECT_NE(order[1], order[2]);
  EXPECT_NE(order[2], order[3]);
}

TEST_P(OutboxStoreConformance, ClaimTakesOnlyDueMessagesOfActiveSourcesOldestFirst) {
  AccountId acct = Account();
  ContactId a = Contact("a@x.io"), b = Contact("b@x.io"), c = Contact("c@x.io");
  NewMessage later = Msg(acct, a, kCampaign1);
  later.send_at = kT0 + seconds(60);
  NewMessage early = Msg(acct, b, kCampaign1);
  early.send_at = kT0 - seconds(5);
  Put({later, early, Msg(acct, c, kCampaign2)});
  ASSERT_OK(outbox_->SetSourceState(kCampaign2, SourceState::kPaused, kT0));
  ASSERT_OK_AND_ASSIGN(std::optional<Timestamp> next, outbox_->NextDue(acct));
  EXPECT_EQ(next, kT0 - seconds(5)) << "the paused campaign's message does not count";
  ASSERT_OK_AND_ASSIGN(OutboxClaim claim, outbox_->Claim(acct, kT0, 10, "d", std::nullopt));
  ASSERT_EQ(claim.messages.size(), 1u);
  EXPECT_EQ(claim.messages[0].message.contact, b);
  ASSERT_OK_AND_ASSIGN(next, outbox_->NextDue(acct));
  EXPECT_EQ(next, kT0 + seconds(60));
  ASSERT_OK(outbox_->SetSourceState(kCampaign2, SourceState::kActive, kT0));
  ASSERT_OK_AND_ASSIGN(OutboxClaim resumed, outbox_->Claim(acct, kT0, 10, "d", std::nullopt));
  ASSERT_EQ(resumed.messages.size(), 1u);
  EXPECT_EQ(resumed.messages[0].message.contact, c);
  ASSERT_OK_AND_ASSIGN(auto accounts, outbox_->AccountsWithWork());
  EXPECT_EQ(accounts, std::vector<AccountId>{acct});
}

TEST_P(OutboxStoreConformance, TheDailyCapIsReservedAtClaimAndGivenBackWhenUnused) {
  AccountId acct = Account(Channel::kEmail, /*cap=*/3);
  std::vector<NewMessage> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(Msg(acct, Contact("p" + std::to_string(i) + "@x.io"), kCampaign1));
  Put(batch);
  ASSERT_OK_AND_ASSIGN(OutboxClaim first, outbox_->Claim(acct, kT0, 10, "2027-01-15", 3));
  EXPECT_EQ(first.messages.size(), 3u);
  EXPECT_TRUE(first.cap_reached);
  ASSERT_OK_AND_ASSIGN(OutboxClaim none, outbox_->Claim(acct, kT0, 10, "2027-01-15", 3));
  EXPECT_TRUE(none.messages.empty());
  EXPECT_TRUE(none.cap_reached);
  EXPECT_EQ(*outbox_->DayCount(acct, "2027-01-15"), 3);
  // One was claimed and never handed to the channel (an outage, a stop): its
  // reservation comes back, and it can go the same day.
  std::vector<Message> m = Messages(first);
  MessageOutcome back = Outcome(m[2], MessageState::kQueued);
  back.attempted = false;
  ASSERT_OK(outbox_->Record(acct, std::vector{Outcome(m[0], MessageState::kSent), back}, kT0).status());
  EXPECT_EQ(*outbox_->DayCount(acct, "2027-01-15"), 2);
  ASSERT_OK_AND_ASSIGN(OutboxClaim again, outbox_->Claim(acct, kT0, 10, "2027-01-15", 3));
  EXPECT_EQ(again.messages.size(), 1u);
  EXPECT_EQ(again.messages[0].message.attempts, 1) << "the give-back did not count an attempt";
  // Nothing due leaves the reservation untouched.
  ASSERT_OK_AND_ASSIGN(OutboxClaim next_day, outbox_->Claim(acct, kT0, 10, "2027-01-16", 3));
  EXPECT_EQ(next_day.messages.size(), 2u);
  EXPECT_EQ(*outbox_->DayCount(acct, "2027-01-16"), 2) << "only what was claimed is counted";
}

TEST_P(OutboxStoreConformance, ConcurrentClaimsNeverPassTheCapNorClaimAMessageTwice) {
  AccountId acct = Account(Channel::kEmail, /*cap=*/50);
  std::vector<NewMessage> batch;
  for (int i = 0; i < 120; ++i) batch.push_back(Msg(acct, Contact("k" + std::to_string(i) + "@x.io"), kCampaign1));
  Put(batch);
  std::mutex mu;
  std::vector<MessageId> seen;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        Result<OutboxClaim> c = outbox_->Claim(acct, kT0, 7, "2027-01-15", 50);
        if (!c.ok()) continue;
        std::lock_guard lock(mu);
        for (const ClaimedMessage& m : c->messages) seen.push_back(m.message.id);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<MessageId> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "no message claimed twice";
  EXPECT_EQ(seen.size(), 50u) << "exactly the cap";
  EXPECT_EQ(*outbox_->DayCount(acct, "2027-01-15"), 50);
}

TEST_P(OutboxStoreConformance, RecordCountsOnceIgnoresStaleOutcomesAndNamesDrainedSources) {
  AccountId acct = Account();
  ContactId p = Contact("p@x.io"), q = Contact("q@x.io");
  Put({Msg(acct, p, kCampaign1), Msg(acct, q, kCampaign1)});
  ASSERT_OK_AND_ASSIGN(OutboxClaim first, outbox_->Claim(acct, kT0, 10, "d", std::nullopt));
  ASSERT_EQ(first.messages.size(), 2u);
  // A crash, a requeue, a second claim: the first claim's late outcomes are stale.
  ASSERT_OK_AND_ASSIGN(int64_t requeued, outbox_->RequeueSending(acct, kT0));
  EXPECT_EQ(requeued, 2);
  ASSERT_OK_AND_ASSIGN(OutboxClaim second, outbox_->Claim(acct, kT0, 10, "d", std::nullopt));
  ASSERT_EQ(second.messages.size(), 2u);
  EXPECT_EQ(second.messages[0].message.attempts, 2);
  std::vector<Message> stale = Messages(first);
  ASSERT_OK_AND_ASSIGN(auto drained, outbox_->Record(acct, std::vector{Outcome(stale[0], MessageState::kFailed)}, kT0));
  EXPECT_TRUE(drained.empty());
  EXPECT_EQ(CountsOf(kCampaign1).failed, 0);

  std::vector<Message> cur = Messages(second);
  MessageOutcome retry = Outcome(cur[1], MessageState::kQueued, "451 try later");
  retry.retry_at = kT0 + seconds(30);
  ASSERT_OK_AND_ASSIGN(drained, outbox_->Record(acct, std::vector{Outcome(cur[0], MessageState::kSent), retry}, kT0));
  EXPECT_TRUE(drained.empty()) << "one is still pending";
  ASSERT_OK(outbox_->Record(acct, std::vector{Outcome(cur[0], MessageState::kSent)}, kT0).status());
  MessageCounts c = CountsOf(kCampaign1);
  EXPECT_EQ(c.sent, 1) << "a repeated record counts nothing";
  EXPECT_EQ(c.pending, 1);
  ASSERT_OK_AND_ASSIGN(Message waiting, outbox_->Get(cur[1].id));
  EXPECT_EQ(waiting.state, MessageState::kQueued);
  EXPECT_EQ(waiting.send_at, kT0 + seconds(30));
  EXPECT_EQ(waiting.reason, "451 try later");
  ASSERT_OK_AND_ASSIGN(OutboxClaim early, outbox_->Claim(acct, kT0 + seconds(29), 10, "d", std::nullopt));
  EXPECT_TRUE(early.messages.empty()) << "not due before its retry time";
  ASSERT_OK_AND_ASSIGN(OutboxClaim late, outbox_->Claim(acct, kT0 + seconds(30), 10, "d", std::nullopt));
  ASSERT_EQ(late.messages.size(), 1u);
  ASSERT_OK_AND_ASSIGN(
      drained,
      outbox_->Record(acct, std::vector{Outcome(late.messages[0].message, MessageState::kSent)}, kT0 + seconds(30)));
  EXPECT_EQ(drained, std::vector<SourceRef>{kCampaign1});
  ASSERT_OK_AND_ASSIGN(Message sent, outbox_->Get(cur[0].id));
  EXPECT_EQ(sent.state, MessageState::kSent);
  EXPECT_TRUE(sent.sent_at.has_value());
}

TEST_P(OutboxStoreConformance, UnsubscribingSkipsQueuedMessagesOfEverySourceAndClaimedOnesWhenTheyComeBack) {
  AccountId acct = Account();
  ContactId a = Contact("a@x.io"), b = Contact("b@x.io"), c = Contact("c@x.io");
  Put({Msg(acct, a, kCampaign1), Msg(acct, b, kCampaign1), Msg(acct, c, kCampaign1),
       Msg(acct, a, {SourceKind::kTransactional, acct.value()})});
  ASSERT_OK_AND_ASSIGN(OutboxClaim claim, outbox_->Claim(acct, kT0, 2, "d", std::nullopt));
  ASSERT_EQ(claim.messages.size(), 2u);  // the transactional one and one campaign message
  ASSERT_OK(stores_.campaigns->SetUnsubscribed(a.value(), true, kT0).status());
  ASSERT_OK(stores_.campaigns->SetUnsubscribed(b.value(), true, kT0).status());
  ASSERT_OK(stores_.campaigns->SetUnsubscribed(c.value(), true, kT0).status());
  // Claimed ones come back (a retry, a give-back): skipped, not queued.
  std::vector<MessageOutcome> back;
  for (const Message& m : Messages(claim)) {
    MessageOutcome o = Outcome(m, MessageState::kQueued, "HTTP 503");
    o.retry_at = kT0;
    o.attempted = m.source.kind == SourceKind::kTransactional;
    back.push_back(o);
  }
  ASSERT_OK_AND_ASSIGN(auto drained, outbox_->Record(acct, back, kT0));
  MessageCounts camp = CountsOf(kCampaign1);
  EXPECT_EQ(camp.skipped, 3);
  EXPECT_EQ(camp.pending, 0);
  EXPECT_EQ(drained.size(), 2u) << "both sources settled";
  ASSERT_OK_AND_ASSIGN(auto left, outbox_->NextDue(acct));
  EXPECT_FALSE(left.has_value());
  ASSERT_OK_AND_ASSIGN(auto all, outbox_->List({.contact = a}));
  ASSERT_EQ(all.size(), 2u);
  for (const Message& m : all) EXPECT_EQ(m.reason, "unsubscribed");
}

TEST_P(OutboxStoreConformance, CancellingASourceCancelsItsQueuedMessagesAndRetryFailedRequeues) {
  AccountId acct = Account();
  ContactId a = Contact("a@x.io"), b = Contact("b@x.io"), c = Contact("c@x.io");
  Put({Msg(acct, a, kCampaign1), Msg(acct, b, kCampaign1), Msg(acct, c, kCampaign2)});
  ASSERT_OK_AND_ASSIGN(OutboxClaim claim, outbox_->Claim(acct, kT0, 1, "d", std::nullopt));
  ASSERT_EQ(claim.messages.size(), 1u);
  ASSERT_OK(outbox_->SetSourceState(kCampaign1, SourceState::kCancelled, kT0));
  MessageCounts c1 = CountsOf(kCampaign1);
  EXPECT_EQ(c1.cancelled, 1);
  EXPECT_EQ(c1.pending, 1) << "the one being sent finishes";
  ASSERT_OK(outbox_->SetSourceState(kCampaign1, SourceState::kActive, kT0));
  ASSERT_OK_AND_ASSIGN(OutboxClaim next, outbox_->Claim(acct, kT0, 10, "d", std::nullopt));
  ASSERT_EQ(next.messages.size(), 1u);
  EXPECT_EQ(next.messages[0].message.source, kCampaign2) << "a cancelled source stays cancelled";

  ASSERT_OK(outbox_->Record(acct, std::vector{Outcome(next.messages[0].message, MessageState::kFailed, "550")}, kT0)
                .status());
  ASSERT_OK_AND_ASSIGN(int64_t retried, outbox_->RetryFailed(kCampaign2, kT0 + seconds(1)));
  EXPECT_EQ(retried, 1);
  MessageCounts c2 = CountsOf(kCampaign2);
  EXPECT_EQ(c2.failed, 0);
  EXPECT_EQ(c2.pending, 1);
  ASSERT_OK_AND_ASSIGN(OutboxClaim again, outbox_->Claim(acct, kT0 + seconds(1), 10, "d", std::nullopt));
  ASSERT_EQ(again.messages.size(), 1u);
  EXPECT_EQ(again.messages[0].message.attempts, 1) << "attempts start again";
}

TEST_P(OutboxStoreConformance, ListFiltersAndPagesById) {
  AccountId acct = Account();
  ContactId a = Contact("a@x.io"), b = Contact("b@x.io");
  Put({Msg(acct, a, kCampaign1), Msg(acct, b, kCampaign1), Msg(acct, a, kCampaign2)});
  ASSERT_OK_AND_ASSIGN(auto of_a, outbox_->List({.contact = a}));
  EXPECT_EQ(of_a.size(), 2u);
  ASSERT_OK_AND_ASSIGN(auto page1, outbox_->List({.limit = 2}));
  ASSERT_EQ(page1.size(), 2u);
  ASSERT_OK_AND_ASSIGN(auto page2, outbox_->List({.after_id = page1.back().id.value(), .limit = 2}));
  ASSERT_EQ(page2.size(), 1u);
  EXPECT_GT(page2[0].id, page1[1].id);
  ASSERT_OK_AND_ASSIGN(auto c2, outbox_->List({.source = kCampaign2}));
  ASSERT_EQ(c2.size(), 1u);
  ASSERT_OK_AND_ASSIGN(auto queued, outbox_->List({.state = MessageState::kQueued, .account = acct}));
  EXPECT_EQ(queued.size(), 3u);
  EXPECT_EQ(outbox_->Get(MessageId(987654)).status().code(), Code::kNotFound);
}

TEST_P(OutboxStoreConformance, WhatNeverReachedTheChannelGivesItsCapBackAndADeferralMovesItsTime) {
  AccountId acct = Account(Channel::kEmail, /*cap=*/10);
  std::vector<NewMessage> batch;
  for (int i = 0; i < 3; ++i) batch.push_back(Msg(acct, Contact("g" + std::to_string(i) + "@x.io"), kCampaign1));
  Put(batch);
  ASSERT_OK_AND_ASSIGN(OutboxClaim claim, outbox_->Claim(acct, kT0, 10, "2027-01-15", 10));
  ASSERT_EQ(claim.messages.size(), 3u);
  EXPECT_EQ(*outbox_->DayCount(acct, "2027-01-15"), 3);
  std::vector<Message> m = Messages(claim);
  MessageOutcome render_failed = Outcome(m[0], MessageState::kFailed, "template: no value");
  render_failed.attempted = false;
  MessageOutcome rule_skipped = Outcome(m[1], MessageState::kSkipped, "frequency cap: 1 a day");
  rule_skipped.attempted = false;
  MessageOutcome deferred = Outcome(m[2], MessageState::kQueued, "deferred: quiet hours in UTC");
  deferred.attempted = false;
  deferred.retry_at = kT0 + std::chrono::hours(8);
  ASSERT_OK(outbox_->Record(acct, std::vector{render_failed, rule_skipped, deferred}, kT0).status());
  EXPECT_EQ(*outbox_->DayCount(acct, "2027-01-15"), 0) << "none of them was sent";
  ASSERT_OK_AND_ASSIGN(Message failed, outbox_->Get(m[0].id));
  EXPECT_EQ(failed.state, MessageState::kFailed);
  EXPECT_EQ(failed.attempts, 0);
  ASSERT_OK_AND_ASSIGN(Message waits, outbox_->Get(m[2].id));
  EXPECT_EQ(waits.state, MessageState::kQueued);
  EXPECT_EQ(waits.send_at, kT0 + std::chrono::hours(8));
  EXPECT_EQ(waits.reason, "deferred: quiet hours in UTC");
  EXPECT_EQ(waits.attempts, 0);
  MessageCounts counts = CountsOf(kCampaign1);
  EXPECT_EQ(counts.failed, 1);
  EXPECT_EQ(counts.skipped, 1);
  EXPECT_EQ(counts.pending, 1);
}

TEST_P(OutboxStoreConformance, SendsCountedForFrequencyCapsAreReadBackPerContactAndChannel) {
  AccountId acct = Account(Channel::kEmail);
  ContactId a = Contact("fa@x.io");
  Put({Msg(acct, a, kCampaign1), Msg(acct, a, kCampaign2)});
  ASSERT_OK_AND_ASSIGN(OutboxClaim claim, outbox_->Claim(acct, kT0, 10, "d", std::nullopt));
  ASSERT_EQ(claim.messages.size(), 2u);
  std::vector<Message> m = Messages(claim);
  MessageOutcome counted = Outcome(m[0], MessageState::kSent);
  counted.count_send = true;
  ASSERT_OK(outbox_->Record(acct, std::vector{counted, Outcome(m[1], MessageState::kSent)}, kT0).status());
  ASSERT_OK_AND_ASSIGN(auto sends, outbox_->RecentSends(a, Channel::kEmail, kT0 - std::chrono::hours(24)));
  EXPECT_EQ(sends, std::vector<Timestamp>{kT0}) << "only the send counted for the caps";
  ASSERT_OK_AND_ASSIGN(auto sms, outbox_->RecentSends(a, Channel::kSms, kT0 - std::chrono::hours(24)));
  EXPECT_TRUE(sms.empty()) << "per channel";
  ASSERT_OK_AND_ASSIGN(auto later, outbox_->RecentSends(a, Channel::kEmail, kT0 + std::chrono::seconds(1)));
  EXPECT_TRUE(later.empty());
}

TEST_P(OutboxStoreConformance, AnEmailNeedsATemplateWithASubject) {
  MessageTemplateRecord t;
  t.name = "no-subject";
  t.text = "Hello";
  ASSERT_OK_AND_ASSIGN(MessageTemplateRecord bare, stores_.campaigns->CreateTemplate(t, kT0));
  ContactId ann = Contact("ann@x.io", "+15550001");
  NewMessage email = Msg(Account(Channel::kEmail), ann, kCampaign1);
  email.template_id = bare.id;
  EXPECT_ERROR(outbox_->Enqueue(std::vector{email}, kT0), Code::kInvalidArgument,
               "messages[0].template_id: template " + std::to_string(bare.id.value()) + " has no subject");
  NewMessage sms = Msg(Account(Channel::kSms), ann, kCampaign2);
  sms.template_id = bare.id;
  EXPECT_EQ(Put({sms}).size(), 1u) << "an SMS needs none";
}

// ---- tracking (RecordEvent, Events, FindByProviderId, suppression)

namespace {

// Sends `m` (claimed by the caller) with a provider id.
MessageOutcome SentAs(const Message& m, std::string provider_id) {
  MessageOutcome o = Outcome(m, MessageState::kSent);
  o.provider_id = std::move(provider_id);
  return o;
}

}  // namespace

TEST_P(OutboxStoreConformance, EventsAreKeptInOrderAndEachKindCountsOncePerMessage) {
  AccountId acct = Account();
  std::vector<Message> ms = Put({Msg(acct, Contact("a@x.io"), kCampaign1), Msg(acct, Contact("b@x.io"), kCampaign1)});
  ASSERT_OK_AND_ASSIGN(OutboxClaim claim, outbox_->Claim(acct, kT0, 10, "", std::nullopt));
  ASSERT_EQ(claim.messages.size(), 2u);
  std::vector<Message> claimed = Messages(claim);
  ASSERT_OK(outbox_->Record(acct, std::vector{SentAs(claimed[0], "p-1"), SentAs(claimed[1], "p-2")}, kT0));

  const MessageId a = claimed[0].id;
  ASSERT_OK_AND_ASSIGN(bool first, outbox_->RecordEvent({a, MessageEventKind::kDelivered, kT0 + seconds(1), {}}));
  EXPECT_TRUE(first);
  ASSERT_OK_AND_ASSIGN(first, outbox_->RecordEvent({a, MessageEventKind::kOpened, kT0 + seconds(2), {}}));
  EXPECT_TRUE(first);
  ASSERT_OK_AND_ASSIGN(first, outbox_->RecordEvent({a, MessageEventKind::kOpened, kT0 + seconds(3), {}}));
  EXPECT_FALSE(first) << "a second open is kept in the timeline, not counted";
  // A click with no open before it counts the open too (images were off).
  const MessageId b = claimed[1].id;
  ASSERT_OK(outbox_->RecordEvent({b, MessageEventKind::kClicked, kT0 + seconds(4), "https://x.io/"}));

  ASSERT_OK_AND_ASSIGN(std::vector<MessageEvent> ea, outbox_->Events(a));
  ASSERT_EQ(ea.size(), 3u);
  EXPECT_EQ(ea[0].kind, MessageEventKind::kDelivered);
  EXPECT_EQ(ea[2].at, kT0 + seconds(3));
  ASSERT_OK_AND_ASSIGN(std::vector<MessageEvent> eb, outbox_->Events(b));
  ASSERT_EQ(eb.size(), 2u);
  EXPECT_EQ(eb[0].kind, MessageEventKind::kClicked);
  EXPECT_EQ(eb[0].detail, "https://x.io/");
  EXPECT_EQ(eb[1].kind, MessageEventKind::kOpened);

  const EngagementCounts e = CountsOf(kCampaign1).engagement;
  EXPECT_EQ(e.delivered, 1);
  EXPECT_EQ(e.opened, 2);
  EXPECT_EQ(e.clicked, 1);
  EXPECT_EQ(e.bounced, 0);

  EXPECT_ERROR(outbox_->RecordEvent({MessageId(999999), MessageEventKind::kOpened, kT0, {}}), Code::kNotFound,
               "message 999999");
  EXPECT_ERROR(outbox_->RecordEvent({a, MessageEventKind::kSent, kT0, {}}), Code::kInvalidArgument, "not recorded");
}

TEST_P(OutboxStoreConformance, ConcurrentCallbacksForOneMessageCountItOnce) {
  AccountId acct = Account();
  std::vector<Message> ms = Put({Msg(acct, Contact("a@x.io"), kCampaign1)});
  std::vector<std::thread> threads;
  std::atomic<int> firsts{0}, errors{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 10; ++k) {
        Result<bool> r = outbox_->RecordEvent({ms[0].id, MessageEventKind::kDelivered, kT0, {}});
        if (!r.ok()) {
          ++errors;
        } else if (*r) {
          ++firsts;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(firsts.load(), 1);
  EXPECT_EQ(CountsOf(kCampaign1).engagement.delivered, 1);
  ASSERT_OK_AND_ASSIGN(std::vector<MessageEvent> events, outbox_->Events(ms[0].id));
  EXPECT_EQ(events.size(), 40u);
}

TEST_P(OutboxStoreConformance, AProviderIdFindsItsMessageWithinItsAccountOnly) {
  AccountId acct = Account();
  AccountId other = Account();
  Put({Msg(acct, Contact("a@x.io"), kCampaign1)});
  ASSERT_OK_AND_ASSIGN(OutboxClaim claim, outbox_->Claim(acct, kT0, 10, "", std::nullopt));
  ASSERT_OK(outbox_->Record(acct, std::vector{SentAs(claim.messages[0].message, "SM123")}, kT0));
  ASSERT_OK_AND_ASSIGN(std::optional<Message> found, outbox_->FindByProviderId(acct, "SM123"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, claim.messages[0].message.id);
  ASSERT_OK_AND_ASSIGN(found, outbox_->FindByProviderId(other, "SM123"));
  EXPECT_FALSE(found.has_value());
  ASSERT_OK_AND_ASSIGN(found, outbox_->FindByProviderId(acct, "SM124"));
  EXPECT_FALSE(found.has_value());
}

TEST_P(OutboxStoreConformance, APermanentBounceSuppressesTheAddressForEverySourceASoftOneDoesNot) {
  AccountId acct = Account();
  ContactId ann = Contact("ann@x.io");
  ContactId bob = Contact("bob@x.io");
  std::vector<Message> first = Put({Msg(acct, ann, kCampaign1), Msg(acct, bob, kCampaign1)});
  // Queued for later: another campaign's message to each.
  NewMessage later_ann = Msg(acct, ann, kCampaign2);
  later_ann.send_at = kT0 + seconds(3600);
  NewMessage later_bob = Msg(acct, bob, kCampaign2);
  later_bob.send_at = kT0 + seconds(3600);
  std::vector<Message> later = Put({later_ann, later_bob});

  ASSERT_OK(outbox_->RecordEvent({first[1].id, MessageEventKind::kBounced, kT0, "mailbox full", false}));
  ASSERT_OK(outbox_->RecordEvent({first[0].id, MessageEventKind::kBounced, kT0, "550 5.1.1 no such user", true}));

  ASSERT_OK_AND_ASSIGN(Message ann_later, outbox_->Get(later[0].id));
  EXPECT_EQ(ann_later.state, MessageState::kSkipped);
  EXPECT_EQ(ann_later.reason, "suppressed: bounced: 550 5.1.1 no such user");
  ASSERT_OK_AND_ASSIGN(Message bob_later, outbox_->Get(later[1].id));
  EXPECT_EQ(bob_later.state, MessageState::kQueued) << "a soft bounce does not suppress";
  EXPECT_EQ(CountsOf(kCampaign1).engagement.bounced, 2);
  EXPECT_EQ(CountsOf(kCampaign2).skipped, 1);

  // A new message to the address is stored skipped; a claimed one is not returned.
  NewMessage t = Msg(acct, ann, {SourceKind::kTransactional, acct.value()});
  std::vector<Message> tx = Put({t});
  EXPECT_EQ(tx[0].state, MessageState::kSkipped);
  EXPECT_EQ(tx[0].reason, "suppressed: bounced: 550 5.1.1 no such user");
  ASSERT_OK_AND_ASSIGN(OutboxClaim claim, outbox_->Claim(acct, kT0, 10, "", std::nullopt));
  for (const ClaimedMessage& m : claim.messages) EXPECT_NE(m.message.address, "ann@x.io");

  ASSERT_OK_AND_ASSIGN(std::vector<Suppression> list, outbox_->Suppressions("", 10));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].address, "ann@x.io");
  EXPECT_EQ(list[0].message, first[0].id);
  ASSERT_OK(outbox_->RemoveSuppression("ann@x.io"));
  EXPECT_ERROR(outbox_->RemoveSuppression("ann@x.io"), Code::kNotFound, "ann@x.io");
  std::vector<Message> again = Put({Msg(acct, ann, {SourceKind::kTransactional, acct.value()})});
  EXPECT_EQ(again[0].state, MessageState::kQueued) << "lifted";
}

TEST_P(OutboxStoreConformance, AQueuedMessageToAnAddressSuppressedThroughAnotherContactIsSkippedAtItsClaim) {
  AccountId acct = Account();
  ContactId ann = Contact("ann@x.io");
  std::vector<Message> first = Put({Msg(acct, ann, kCampaign1)});
  ASSERT_OK(outbox_->RecordEvent({first[0].id, MessageEventKind::kComplained, kT0, {}}));
  // The same address under another contact (a duplicate record): skipped when claimed.
  ASSERT_OK(stores_.contacts->Delete(ann, kT0));
  ContactId ann2 = Contact("ann@x.io");
  NewMessage m = Msg(acct, ann2, kCampaign2);
  ASSERT_OK_AND_ASSIGN(auto made, outbox_->Enqueue(std::vector{m}, kT0));
  EXPECT_EQ(made[0].message.state, MessageState::kSkipped);
  EXPECT_EQ(made[0].message.reason, "suppressed: complained");
  EXPECT_EQ(CountsOf(kCampaign1).engagement.complained, 1);
}

TEST_P(OutboxStoreConformance, AnUnsubscribeEventUnsubscribesTheContact) {
  AccountId acct = Account(Channel::kSms);
  ContactId ann = Contact(std::nullopt, "+15550001");
  std::vector<Message> ms = Put({Msg(acct, ann, kCampaign1)});
  NewMessage later = Msg(acct, ann, kCampaign2);
  later.send_at = kT0 + seconds(60);
  std::vector<Message> queued = Put({later});
  ASSERT_OK(outbox_->RecordEvent({ms[0].id, MessageEventKind::kUnsubscribed, kT0, "STOP"}));
  ASSERT_OK_AND_ASSIGN(Message m, outbox_->Get(queued[0].id));
  EXPECT_EQ(m.state, MessageState::kSkipped);
  EXPECT_EQ(m.reason, "unsubscribed");
  EXPECT_EQ(CountsOf(kCampaign1).engagement.unsubscribed, 1);
  std::vector<Message> next = Put({Msg(acct, ann, {SourceKind::kTransactional, acct.value()})});
  EXPECT_EQ(next[0].state, MessageState::kSkipped);
}

}  // namespace outflow
