// GroupCommit over a real SQLite file. A second connection holds the database's
// write lock (BEGIN IMMEDIATE) while callers arrive, so that a group forms
// deterministically: the first caller leads and waits for the lock, the others
// queue behind it.

#include "sending/group_commit.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <set>
#include <thread>

#include "base/clock.h"
#include "store/sqlite/db.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace outflow {
namespace {

using std::chrono::milliseconds;

bool Eventually(const std::function<bool()>& cond) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return cond();
}

class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(stores_, SqliteStores::Open(dir_.File("outflow.db"), {}, now_));
    SendingAccount a;
    a.name = "mail";
    a.channel = Channel::kEmail;
    a.provider = "log";
    a.rate_per_second = 100;
    ASSERT_OK_AND_ASSIGN(account_, stores_->campaigns().CreateAccount(a, nullptr, now_));
    MessageTemplateRecord t;
    t.name = "code";
    t.subject = "Your code";
    t.text = "{{vars.code}}";
    ASSERT_OK_AND_ASSIGN(template_, stores_->campaigns().CreateTemplate(t, now_));
    for (int i = 0; i < kCallers; ++i) {
      Contact c;
      c.email = "c" + std::to_string(i) + "@example.com";
      ASSERT_OK_AND_ASSIGN(Contact made, stores_->contacts().Create(c, now_));
      contacts_.push_back(made.id);
    }
  }

  NewMessage Make(ContactId contact, std::string key) const {
    NewMessage m;
    m.account = account_.id;
    m.contact = contact;
    m.template_id = template_.id;
    m.source = {SourceKind::kTransactional, account_.id.value()};
    m.send_at = now_;
    m.client_key = std::move(key);
    return m;
  }

  // Runs one caller per message, the first of them while another connection holds
  // the write lock, which it lets go once all the others queue behind the first.
  std::vector<Result<EnqueuedMessage>> RunTogether(GroupCommit& group, const std::vector<NewMessage>& messages) {
    sqlite::Connection::Options o;
    Result<std::unique_ptr<sqlite::Connection>> blocker = sqlite::Connection::Open(dir_.File("outflow.db"), o);
    EXPECT_TRUE(blocker.ok()) << blocker.status().ToString();
    EXPECT_OK((*blocker)->Exec("BEGIN IMMEDIATE"));
    std::vector<std::optional<Result<EnqueuedMessage>>> results(messages.size());
    std::vector<std::thread> callers;
    callers.emplace_back([&] { results[0] = group.Enqueue(messages[0], now_); });
    EXPECT_TRUE(Eventually([&] { return group.committing(); }));  // the first leads, waiting for the lock
    for (size_t i = 1; i < messages.size(); ++i) {
      callers.emplace_back([&, i] { results[i] = group.Enqueue(messages[i], now_); });
    }
    EXPECT_TRUE(Eventually([&] { return group.queued() == messages.size() - 1; }));
    EXPECT_OK((*blocker)->Exec("COMMIT"));
    for (auto& t : callers) t.join();
    std::vector<Result<EnqueuedMessage>> out;
    for (auto& r : results) out.push_back(std::move(*r));
    return out;
  }

  static constexpr int kCallers = 12;
  testing::TempDir dir_;
  Timestamp now_ = SystemClock::Instance().Now();
  std::unique_ptr<SqliteStores> stores_;
  SendingAccount account_;
  MessageTemplateRecord template_;
  std::vector<ContactId> contacts_;
};

TEST_F(GroupCommitTest, CallersThatArriveDuringACommitShareTheNextOne) {
  GroupCommit group(stores_->outbox());
  std::vector<NewMessage> messages;
  for (int i = 0; i < kCallers; ++i) messages.push_back(Make(contacts_[i], "k" + std::to_string(i)));
  std::vector<Result<EnqueuedMessage>> results = RunTogether(group, messages);
  std::set<int64_t> ids;
  for (int i = 0; i < kCallers; ++i) {
    ASSERT_TRUE(results[i].ok()) << i << results[i].status().ToString();
    EXPECT_FALSE(results[i]->existing);
    EXPECT_EQ(results[i]->message.contact, contacts_[i]) << "each caller gets its own message";
    ids.insert(results[i]->message.id.value());
  }
  EXPECT_EQ(ids.size(), size_t{kCallers});
  EXPECT_EQ(group.stats().groups, 2) << "the leader alone, then the 11 queued behind it in one transaction";
  EXPECT_EQ(group.stats().messages, kCallers);
  ASSERT_OK_AND_ASSIGN(MessageCounts counts,
                       stores_->outbox().Counts({SourceKind::kTransactional, account_.id.value()}));
  EXPECT_EQ(counts.total, kCallers);
  EXPECT_EQ(counts.pending, kCallers);
}

TEST_F(GroupCommitTest, AnItemThatFailsFailsAloneAndTheRestOfItsGroupIsStored) {
  GroupCommit group(stores_->outbox());
  std::vector<NewMessage> messages;
  for (int i = 0; i < kCallers; ++i) messages.push_back(Make(contacts_[i], "k" + std::to_string(i)));
  messages[5].contact = ContactId(999999);
  messages[8].template_id = TemplateId(888888);
  std::vector<Result<EnqueuedMessage>> results = RunTogether(group, messages);
  for (int i = 0; i < kCallers; ++i) {
    if (i == 5) {
      EXPECT_EQ(results[i].status().code(), Code::kNotFound);
      EXPECT_EQ(results[i].status().message(), "contact_id: contact 999999 does not exist");
    } else if (i == 8) {
      EXPECT_EQ(results[i].status().code(), Code::kNotFound);
      EXPECT_EQ(results[i].status().message(), "template_id: template 888888 does not exist");
    } else {
      EXPECT_TRUE(results[i].ok()) << i << results[i].status().ToString();
    }
  }
  ASSERT_OK_AND_ASSIGN(MessageCounts counts,
                       stores_->outbox().Counts({SourceKind::kTransactional, account_.id.value()}));
  EXPECT_EQ(counts.total, kCallers - 2) << "the failed group was stored again item by item, nothing twice";
}

TEST_F(GroupCommitTest, TheSameKeyTwiceInOneGroupIsOneMessage) {
  GroupCommit group(stores_->outbox());
  std::vector<NewMessage> messages;
  for (int i = 0; i < kCallers; ++i) messages.push_back(Make(contacts_[0], i % 2 == 0 ? "even" : "odd"));
  std::vector<Result<EnqueuedMessage>> results = RunTogether(group, messages);
  std::set<int64_t> ids;
  int fresh = 0;
  for (auto& r : results) {
    ASSERT_OK(r.status());
    ids.insert(r->message.id.value());
    fresh += r->existing ? 0 : 1;
  }
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_EQ(fresh, 2);
  EXPECT_EQ(results[0]->message.id, results[2]->message.id);
  EXPECT_EQ(results[1]->message.id, results[11]->message.id);
}

TEST_F(GroupCommitTest, ALoneCallerCommitsAtOnce) {
  GroupCommit group(stores_->outbox());
  ASSERT_OK_AND_ASSIGN(EnqueuedMessage m, group.Enqueue(Make(contacts_[0], "solo"), now_));
  EXPECT_FALSE(m.existing);
  EXPECT_EQ(group.stats().groups, 1);
  ASSERT_OK_AND_ASSIGN(outflow::Message stored, stores_->outbox().Get(m.message.id));
  EXPECT_EQ(stored.state, MessageState::kQueued);
}

}  // namespace
}  // namespace outflow
