// The UserStore conformance suite: the contract of store/user_store.h.
#include "store/user_store_conformance.h"

#include <atomic>
#include <thread>

#include "testing/status_matchers.h"

namespace outflow {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

void UserStoreConformance::SetUp() {
  users_ = Open();
  ASSERT_NE(users_, nullptr);
}

std::shared_ptr<UserStore> UserStoreConformance::Open() {
  auto s = GetParam().open(dir_.path().string(), kT0);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : nullptr;
}

User UserStoreConformance::Make(const std::string& email, Role role) {
  Result<User> made = users_->CreateUser(email, role, kT0);
  EXPECT_TRUE(made.ok()) << made.status().ToString();
  return made.ok() ? *made : User{};
}

Session UserStoreConformance::MakeSession(const std::string& hash, UserId user) {
  Session s{hash, user, kT0, kT0, kT0 + hours(12)};
  EXPECT_OK(users_->CreateSession(s));
  return s;
}

namespace {

TEST_P(UserStoreConformance, CreateFindListAndUniqueEmails) {
  EXPECT_EQ(*users_->CountUsers(), 0);
  ASSERT_OK_AND_ASSIGN(User a, users_->CreateUser("ann@example.com", Role::kAdmin, kT0));
  EXPECT_TRUE(a.id.valid());
  EXPECT_EQ(a.created_at, kT0);
  EXPECT_FALSE(a.has_password());
  EXPECT_FALSE(a.disabled());
  EXPECT_EQ(users_->CreateUser("ann@example.com", Role::kViewer, kT0).status().code(), Code::kConflict);
  EXPECT_EQ(users_->CreateUser("ANN@example.com", Role::kViewer, kT0).status().code(), Code::kConflict)
      << "unique whatever the case, even if a caller forgot to normalise";
  User b = Make("bob@example.com", Role::kViewer);
  ASSERT_OK_AND_ASSIGN(User found, users_->FindUserByEmail("bob@example.com"));
  EXPECT_EQ(found.id, b.id);
  EXPECT_EQ(found.role, Role::kViewer);
  EXPECT_EQ(users_->FindUserByEmail("nobody@example.com").status().code(), Code::kNotFound);
  EXPECT_EQ(users_->GetUser(UserId(999)).status().code(), Code::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto all, users_->ListUsers());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, a.id);
  EXPECT_EQ(*users_->CountUsers(), 2);
}

TEST_P(UserStoreConformance, TheLastEnabledAdminStays) {
  User a = Make("a@example.com", Role::kAdmin);
  User v = Make("v@example.com", Role::kViewer);
  EXPECT_EQ(users_->UpdateUser(a.id, {.role = Role::kEditor}, kT0).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(users_->UpdateUser(a.id, {.disabled = true}, kT0).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(users_->DeleteUser(a.id).code(), Code::kFailedPrecondition);
  ASSERT_OK_AND_ASSIGN(User still, users_->GetUser(a.id));
  EXPECT_EQ(still.role, Role::kAdmin);
  ASSERT_OK(users_->UpdateUser(v.id, {.role = Role::kAdmin}, kT0 + seconds(1)).status());
  ASSERT_OK_AND_ASSIGN(User demoted, users_->UpdateUser(a.id, {.role = Role::kViewer}, kT0 + seconds(2)));
  EXPECT_EQ(demoted.role, Role::kViewer);
  EXPECT_EQ(demoted.updated_at, kT0 + seconds(2));
  EXPECT_OK(users_->DeleteUser(a.id));
  EXPECT_EQ(users_->GetUser(a.id).status().code(), Code::kNotFound);
  EXPECT_EQ(users_->DeleteUser(a.id).code(), Code::kNotFound);
}

TEST_P(UserStoreConformance, DisablingEndsSessionsAndAnotherHandleSeesIt) {
  Make("admin@example.com", Role::kAdmin);
  User u = Make("u@example.com");
  MakeSession("s1", u.id);
  std::shared_ptr<UserStore> other = Open();  // another process on the same database
  ASSERT_NE(other, nullptr);
  ASSERT_OK(other->FindSession("s1").status());
  ASSERT_OK_AND_ASSIGN(User off, users_->UpdateUser(u.id, {.disabled = true}, kT0 + seconds(3)));
  EXPECT_EQ(off.disabled_at, kT0 + seconds(3));
  EXPECT_EQ(other->FindSession("s1").status().code(), Code::kNotFound) << "no cache: the next read sees it";
  ASSERT_OK_AND_ASSIGN(User seen, other->GetUser(u.id));
  EXPECT_TRUE(seen.disabled());
  ASSERT_OK_AND_ASSIGN(User again, users_->UpdateUser(u.id, {.disabled = true}, kT0 + seconds(9)));
  EXPECT_EQ(again.disabled_at, kT0 + seconds(3)) << "the first time stays";
  ASSERT_OK_AND_ASSIGN(User on, users_->UpdateUser(u.id, {.disabled = false}, kT0 + seconds(10)));
  EXPECT_FALSE(on.disabled());
}

TEST_P(UserStoreConformance, SessionsTouchForwardEndAndPrune) {
  User u = Make("u@example.com");
  MakeSession("s1", u.id);
  ASSERT_OK_AND_ASSIGN(Session s, users_->FindSession("s1"));
  EXPECT_EQ(s.user_id, u.id);
  EXPECT_EQ(s.expires_at, kT0 + hours(12));
  ASSERT_OK(users_->TouchSession("s1", kT0 + minutes(5)));
  ASSERT_OK(users_->TouchSession("s1", kT0 + minutes(2)));
  ASSERT_OK_AND_ASSIGN(s, users_->FindSession("s1"));
  EXPECT_EQ(s.last_seen_at, kT0 + minutes(5)) << "only forward";
  EXPECT_EQ(users_->CreateSession(Session{"s1", u.id, kT0, kT0, kT0}).code(), Code::kConflict);
  ASSERT_OK(users_->DeleteSession("s1"));
  EXPECT_EQ(users_->FindSession("s1").status().code(), Code::kNotFound);
  EXPECT_OK(users_->DeleteSession("s1"));  // ending an ended session is fine
  MakeSession("old", u.id);
  ASSERT_OK(users_->CreateSession(Session{"fresh", u.id, kT0, kT0 + minutes(50), kT0 + hours(12)}));
  ASSERT_OK(users_->CreateSession(Session{"over", u.id, kT0, kT0 + minutes(50), kT0 + minutes(55)}));
  ASSERT_OK_AND_ASSIGN(int64_t pruned, users_->PruneSessions(kT0 + hours(1), kT0 + minutes(30)));
  EXPECT_EQ(pruned, 2);
  EXPECT_OK(users_->FindSession("fresh").status());
}

TEST_P(UserStoreConformance, SetPasswordEndsTheOtherSessions) {
  User u = Make("u@example.com");
  MakeSession("mine", u.id);
  MakeSession("theirs", u.id);
  ASSERT_OK(users_->SetPassword(u.id, "$argon2id$x", kT0 + seconds(1), std::string_view("mine")));
  EXPECT_OK(users_->FindSession("mine").status());
  EXPECT_EQ(users_->FindSession("theirs").status().code(), Code::kNotFound);
  ASSERT_OK_AND_ASSIGN(User after, users_->GetUser(u.id));
  EXPECT_EQ(after.password_hash, "$argon2id$x");
  EXPECT_EQ(after.password_set_at, kT0 + seconds(1));
  EXPECT_EQ(users_->SetPassword(UserId(999), "h", kT0, std::nullopt).code(), Code::kNotFound);
}

TEST_P(UserStoreConformance, ASetupTokenIsUsedOnceAndNotAfterItExpires) {
  User u = Make("u@example.com");
  MakeSession("s1", u.id);
  ASSERT_OK(users_->CreateSetupToken(SetupToken{"t1", u.id, kT0, kT0 + hours(1), std::nullopt}));
  ASSERT_OK_AND_ASSIGN(SetupToken t, users_->FindSetupToken("t1"));
  EXPECT_EQ(t.user_id, u.id);
  EXPECT_FALSE(t.used_at);
  ASSERT_OK_AND_ASSIGN(User set, users_->CompleteSetup("t1", "$argon2id$p", "", kT0 + minutes(1)));
  EXPECT_EQ(set.id, u.id);
  EXPECT_EQ(set.password_hash, "$argon2id$p");
  EXPECT_EQ(users_->FindSession("s1").status().code(), Code::kNotFound) << "a reset ends the sessions";
  EXPECT_EQ(users_->CompleteSetup("t1", "h2", "", kT0 + minutes(2)).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(users_->CompleteSetup("nope", "h2", "", kT0).status().code(), Code::kNotFound);
  ASSERT_OK(users_->CreateSetupToken(SetupToken{"t2", u.id, kT0, kT0 + hours(1), std::nullopt}));
  EXPECT_EQ(users_->CompleteSetup("t2", "h3", "", kT0 + hours(1)).status().code(), Code::kFailedPrecondition)
      << "expired at expires_at exactly";
  ASSERT_OK_AND_ASSIGN(User kept, users_->GetUser(u.id));
  EXPECT_EQ(kept.password_hash, "$argon2id$p");
}

TEST_P(UserStoreConformance, ANewLinkVoidsTheOldOne) {
  User u = Make("u@example.com");
  ASSERT_OK(users_->CreateSetupToken(SetupToken{"old", u.id, kT0, kT0 + hours(1), std::nullopt}));
  ASSERT_OK(users_->CreateSetupToken(SetupToken{"new", u.id, kT0 + seconds(1), kT0 + hours(1), std::nullopt}));
  EXPECT_EQ(users_->CompleteSetup("old", "h", "", kT0 + seconds(2)).status().code(), Code::kFailedPrecondition);
  EXPECT_OK(users_->CompleteSetup("new", "h", "", kT0 + seconds(2)).status());
  EXPECT_EQ(users_->CreateSetupToken(SetupToken{"x", UserId(999), kT0, kT0 + hours(1), std::nullopt}).code(),
            Code::kNotFound);
}

TEST_P(UserStoreConformance, AFirstRunTokenCreatesTheFirstAdmin) {
  ASSERT_OK(users_->CreateSetupToken(SetupToken{"first", std::nullopt, kT0, kT0 + hours(1), std::nullopt}));
  ASSERT_OK_AND_ASSIGN(User admin, users_->CompleteSetup("first", "h", "root@example.com", kT0 + seconds(1)));
  EXPECT_EQ(admin.role, Role::kAdmin);
  EXPECT_EQ(admin.email, "root@example.com");
  EXPECT_TRUE(admin.has_password());
  ASSERT_OK(users_->CreateSetupToken(SetupToken{"second", std::nullopt, kT0, kT0 + hours(1), std::nullopt}));
  EXPECT_EQ(users_->CompleteSetup("second", "h", "other@example.com", kT0 + seconds(2)).status().code(),
            Code::kFailedPrecondition)
      << "a first-run link makes the first admin only";
  EXPECT_FALSE(users_->FindSetupToken("second")->used_at) << "a refused setup spends nothing";
}

TEST_P(UserStoreConformance, RacingSetupsUseATokenOnce) {
  User u = Make("u@example.com");
  ASSERT_OK(users_->CreateSetupToken(SetupToken{"t", u.id, kT0, kT0 + hours(1), std::nullopt}));
  std::shared_ptr<UserStore> other = Open();
  ASSERT_NE(other, nullptr);
  std::atomic<int> won{0};
  std::thread a([&] { won += users_->CompleteSetup("t", "ha", "", kT0 + seconds(1)).ok(); });
  std::thread b([&] { won += other->CompleteSetup("t", "hb", "", kT0 + seconds(1)).ok(); });
  a.join();
  b.join();
  EXPECT_EQ(won.load(), 1);
}

TEST_P(UserStoreConformance, FailedLoginsAreComparedAndSet) {
  ASSERT_OK_AND_ASSIGN(LoginFailures none, users_->GetLoginFailures("x@example.com"));
  EXPECT_EQ(none.count, 0);
  LoginFailures one{1, kT0, std::nullopt};
  ASSERT_OK_AND_ASSIGN(bool wrote, users_->AdvanceLoginFailures("x@example.com", 0, one));
  EXPECT_TRUE(wrote);
  ASSERT_OK_AND_ASSIGN(wrote, users_->AdvanceLoginFailures("x@example.com", 0, one));
  EXPECT_FALSE(wrote) << "the count is no longer 0";
  LoginFailures two{2, kT0 + seconds(1), kT0 + minutes(15)};
  ASSERT_OK_AND_ASSIGN(wrote, users_->AdvanceLoginFailures("x@example.com", 1, two));
  EXPECT_TRUE(wrote);
  ASSERT_OK_AND_ASSIGN(LoginFailures got, users_->GetLoginFailures("x@example.com"));
  EXPECT_EQ(got.count, 2);
  EXPECT_EQ(got.last_failed_at, kT0 + seconds(1));
  EXPECT_EQ(got.locked_until, kT0 + minutes(15));
  ASSERT_OK(users_->ClearLoginFailures("x@example.com"));
  EXPECT_EQ(users_->GetLoginFailures("x@example.com")->count, 0);
}

TEST_P(UserStoreConformance, OldFailedLoginsArePrunedButNotLiveLocks) {
  ASSERT_OK(users_->AdvanceLoginFailures("old@example.com", 0, {1, kT0, std::nullopt}).status());
  ASSERT_OK(users_->AdvanceLoginFailures("locked@example.com", 0, {10, kT0, kT0 + hours(48)}).status());
  ASSERT_OK(users_->AdvanceLoginFailures("new@example.com", 0, {1, kT0 + hours(30), std::nullopt}).status());
  ASSERT_OK_AND_ASSIGN(int64_t pruned, users_->PruneLoginFailures(kT0 + hours(24)));
  EXPECT_EQ(pruned, 1);
  EXPECT_EQ(users_->GetLoginFailures("old@example.com")->count, 0);
  EXPECT_EQ(users_->GetLoginFailures("locked@example.com")->count, 10) << "still locked";
  EXPECT_EQ(users_->GetLoginFailures("new@example.com")->count, 1);
}

TEST_P(UserStoreConformance, RacingFailuresCountEachOnce) {
  std::shared_ptr<UserStore> other = Open();
  ASSERT_NE(other, nullptr);
  auto bump = [](UserStore& s, int times) {
    for (int i = 0; i < times;) {
      Result<LoginFailures> f = s.GetLoginFailures("race@example.com");
      ASSERT_TRUE(f.ok());
      Result<bool> w = s.AdvanceLoginFailures("race@example.com", f->count, {f->count + 1, kT0, std::nullopt});
      ASSERT_TRUE(w.ok());
      if (*w) ++i;
    }
  };
  std::thread a([&] { bump(*users_, 30); });
  std::thread b([&] { bump(*other, 30); });
  a.join();
  b.join();
  EXPECT_EQ(users_->GetLoginFailures("race@example.com")->count, 60);
}

}  // namespace
}  // namespace outflow
