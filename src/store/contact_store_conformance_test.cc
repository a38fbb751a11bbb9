// The ContactStore conformance suite: the contract of store/contact_store.h, as
// tests that every store implementation passes (see sqlite_contact_store_test.cc).
#include "store/contact_store_conformance.h"

#include <atomic>
#include <thread>

#include "testing/status_matchers.h"

namespace outflow {
namespace {

Contact Person(std::string email, std::string first = "Ann") {
  Contact c;
  c.email = std::move(email);
  c.first_name = std::move(first);
  return c;
}

TEST_P(ContactStoreConformance, CreateGetUpdateDelete) {
  Contact in = Person("Ann@Example.com");
  in.custom["seats"] = 3.0;
  in.custom["vip"] = true;
  in.custom["plan"] = std::string("pro");
  in.engagement_score = 42.5;
  ASSERT_OK_AND_ASSIGN(Contact c, contacts().Create(in, kT0));
  EXPECT_TRUE(c.id.valid());
  ASSERT_OK_AND_ASSIGN(Contact got, contacts().Get(c.id));
  EXPECT_EQ(got.email, "Ann@Example.com");
  EXPECT_EQ(std::get<double>(got.custom.at("seats")), 3.0);
  EXPECT_EQ(std::get<bool>(got.custom.at("vip")), true);
  EXPECT_EQ(std::get<std::string>(got.custom.at("plan")), "pro");
  EXPECT_EQ(got.engagement_score, 42.5);
  EXPECT_EQ(got.created_at, kT0);
  ASSERT_OK_AND_ASSIGN(Contact upd, contacts().Update(
                                        c.id,
                                        [](Contact& x) {
                                          x.tier = "enterprise";
                                          return Status::Ok();
                                        },
                                        kT0 + std::chrono::seconds(5)));
  EXPECT_EQ(upd.tier, "enterprise");
  EXPECT_EQ(contacts().Get(c.id)->updated_at, kT0 + std::chrono::seconds(5));
  // A failing mutation changes nothing.
  EXPECT_FALSE(contacts()
                   .Update(
                       c.id,
                       [](Contact& x) {
                         x.tier = "gold";
                         return Status::InvalidArgument("tier: no");
                       },
                       kT0)
                   .ok());
  EXPECT_EQ(contacts().Get(c.id)->tier, "enterprise");
  ASSERT_OK(contacts().Delete(c.id, kT0));
  EXPECT_EQ(contacts().Get(c.id).status().code(), Code::kNotFound);
  EXPECT_EQ(contacts().Delete(c.id, kT0).code(), Code::kNotFound);
}

TEST_P(ContactStoreConformance, UniqueByNormalisedEmailAndExternalId) {
  ASSERT_OK_AND_ASSIGN(Contact a, contacts().Create(Person("ann@example.com"), kT0));
  Result<Contact> dup = contacts().Create(Person("ANN@example.com"), kT0);
  EXPECT_EQ(dup.status().code(), Code::kConflict);
  EXPECT_NE(dup.status().message().find("already used by contact " + std::to_string(a.id.value())), std::string::npos);
  Contact x = Person("bob@example.com");
  x.external_id = "crm-1";
  ASSERT_OK(contacts().Create(x, kT0));
  Contact y = Person("carl@example.com");
  y.external_id = "crm-1";
  EXPECT_EQ(contacts().Create(y, kT0).status().code(), Code::kConflict);
  // Changing an email to one that is taken is a conflict too.
  EXPECT_EQ(contacts()
                .Update(
                    a.id,
                    [](Contact& c) {
                      c.email = "Bob@Example.com";
                      return Status::Ok();
                    },
                    kT0)
                .status()
                .code(),
            Code::kConflict);
}

TEST_P(ContactStoreConformance, UpsertBatchHonoursThePolicyAndFailsRowsAlone) {
  Contact existing = Person("ann@example.com", "Ann");
  existing.external_id = "e-1";
  existing.custom["plan"] = std::string("free");
  ASSERT_OK_AND_ASSIGN(Contact ann, contacts().Create(existing, kT0));
  ASSERT_OK_AND_ASSIGN(Contact bob, contacts().Create(Person("bob@example.com", "Bob"), kT0));

  Contact ann2 = Person("ANN@example.com", "Annie");  // matches by email
  ann2.custom["seats"] = 5.0;
  Contact newbie = Person("new@example.com", "New");
  Contact clash;  // matches by external id, but wants Bob's email
  clash.external_id = "e-1";
  clash.email = "bob@example.com";
  std::vector<Contact> batch = {ann2, newbie, clash};

  ASSERT_OK_AND_ASSIGN(auto skip, contacts().UpsertBatch(std::vector<Contact>{ann2}, ExistingPolicy::kSkip, kT0));
  EXPECT_EQ(skip[0].kind, UpsertOutcome::Kind::kSkipped);
  ASSERT_OK_AND_ASSIGN(auto fail, contacts().UpsertBatch(std::vector<Contact>{ann2}, ExistingPolicy::kFail, kT0));
  EXPECT_EQ(fail[0].kind, UpsertOutcome::Kind::kFailed);

  ASSERT_OK_AND_ASSIGN(auto r, contacts().UpsertBatch(batch, ExistingPolicy::kUpdate, kT0));
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].kind, UpsertOutcome::Kind::kUpdated);
  EXPECT_EQ(r[0].id, ann.id);
  EXPECT_EQ(r[1].kind, UpsertOutcome::Kind::kCreated);
  EXPECT_EQ(r[2].kind, UpsertOutcome::Kind::kFailed);
  EXPECT_NE(r[2].error.find("already used by contact " + std::to_string(bob.id.value())), std::string::npos);
  ASSERT_OK_AND_ASSIGN(Contact merged, contacts().Get(ann.id));
  EXPECT_EQ(merged.first_name, "Annie");
  EXPECT_EQ(std::get<std::string>(merged.custom.at("plan")), "free");  // custom fields merge by name
  EXPECT_EQ(std::get<double>(merged.custom.at("seats")), 5.0);
  EXPECT_EQ(merged.email, "ANN@example.com") << "row 0 set it; the failed row 2 did not change it";
  ASSERT_OK_AND_ASSIGN(int64_t n, contacts().Count({}));
  EXPECT_EQ(n, 3);
}

TEST_P(ContactStoreConformance, ListFiltersAndPages) {
  for (int i = 0; i < 25; ++i) {
    Contact c = Person("p" + std::to_string(i) + "@example.com");
    c.owner = i % 2 ? "olga" : "omar";
    c.status = i < 5 ? ContactStatus::kStaged : ContactStatus::kLive;
    ASSERT_OK(contacts().Create(c, kT0));
  }
  ContactFilter f;
  f.owner = "olga";
  f.limit = 5;
  int seen = 0;
  for (int page = 0; page < 10; ++page) {
    ASSERT_OK_AND_ASSIGN(ContactPage p, contacts().List(f));
    seen += static_cast<int>(p.contacts.size());
    for (auto& c : p.contacts) EXPECT_EQ(c.owner, "olga");
    if (!p.next_after) break;
    f.after = *p.next_after;
  }
  EXPECT_EQ(seen, 12);
  ContactFilter staged;
  staged.status = ContactStatus::kStaged;
  EXPECT_EQ(contacts().Count(staged).value(), 5);
  ContactFilter by_email;
  by_email.email = "P7@EXAMPLE.COM";
  EXPECT_EQ(contacts().List(by_email)->contacts.size(), 1u);
}

TEST_P(ContactStoreConformance, FieldDefinitionsAreIdempotentByType) {
  ASSERT_OK_AND_ASSIGN(auto f, contacts().DefineField({"plan", FieldType::kText, "", {}}, kT0));
  EXPECT_EQ(f.label, "plan");
  ASSERT_OK(contacts().DefineField({"plan", FieldType::kText, "Plan", {}}, kT0));
  EXPECT_EQ(contacts().DefineField({"plan", FieldType::kNumber, "", {}}, kT0).status().code(), Code::kConflict);
  ASSERT_OK(contacts().DefineField({"seats", FieldType::kNumber, "Seats", {}}, kT0));
  ASSERT_OK_AND_ASSIGN(auto all, contacts().ListFields());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "plan");
  EXPECT_EQ(all[1].type, FieldType::kNumber);
}

// Update holds the contact from its read to its write (a row lock where writers
// run concurrently): concurrent increments of one field lose none.
TEST_P(ContactStoreConformance, ConcurrentUpdatesOfOneContactLoseNothing) {
  ASSERT_OK_AND_ASSIGN(Contact c, contacts().Create(Person("count@example.com"), kT0));
  constexpr int kThreads = 4;
  constexpr int kEach = 25;
  auto bump = [&] {
    for (int i = 0; i < kEach; ++i) {
      Result<Contact> r = contacts().Update(
          c.id,
          [](Contact& x) {
            x.engagement_score = x.engagement_score.value_or(0) + 1;
            return Status::Ok();
          },
          kT0);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(bump);
  for (auto& t : threads) t.join();
  EXPECT_EQ(contacts().Get(c.id)->engagement_score, kThreads * kEach);
}

// Uniqueness holds under racing writers: of concurrent creates of one address,
// exactly one wins and the others are Conflict.
TEST_P(ContactStoreConformance, RacingCreatesOfOneEmailExactlyOneWins) {
  std::atomic<int> won{0}, conflicts{0};
  auto create = [&](int i) {
    for (int k = 0; k < 20; ++k) {
      Result<Contact> r =
          contacts().Create(Person("Same" + std::to_string(k) + "@Example.com", std::to_string(i)), kT0);
      ++(r.ok() ? won : conflicts);
    }
  };
  std::thread a(create, 1), b(create, 2), c(create, 3);
  a.join();
  b.join();
  c.join();
  EXPECT_EQ(won.load(), 20);
  EXPECT_EQ(conflicts.load(), 40);
  EXPECT_EQ(contacts().Count({}).value(), 20);
}

}  // namespace
}  // namespace outflow
