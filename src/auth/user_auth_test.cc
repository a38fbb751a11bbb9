// UserAuth over a real SQLite file with an injected clock: logins, sessions and
// their expiry, CSRF tokens, the lockout and setup links.
#include "auth/user_auth.h"

#include <gtest/gtest.h>

#include "crypto/digest.h"
#include "crypto/hmac.h"
#include "store/sqlite/sqlite_user_store.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace outflow::auth {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using Outcome = LoginResult::Outcome;

const Timestamp kT0 = FromMicros(1'800'000'000'000'000);
constexpr std::string_view kPassword = "correct horse battery";

class UserAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(SqliteUserStore::Open(dir_.File("outflow.db"), kT0)).value();
    users_ = std::make_unique<UserAuth>(*store_, clock_, hasher_);
  }
  // A user with kPassword, set through its setup link.
  User Make(const std::string& email, Role role = Role::kEditor) {
    Result<CreatedUser> made = users_->CreateUser(email, role);
    EXPECT_TRUE(made.ok()) << made.status().ToString();
    Result<User> set = users_->CompleteSetup(made->link.token, "", kPassword);
    EXPECT_TRUE(set.ok()) << set.status().ToString();
    return *set;
  }
  LoginResult LogIn(const std::string& email, std::string_view password = kPassword) {
    Result<LoginResult> r = users_->Login(email, password);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : LoginResult{};
  }

  testing::TempDir dir_;
  FakeClock clock_{kT0};
  crypto::PasswordHasher hasher_{crypto::PasswordCost::Minimum()};
  std::unique_ptr<SqliteUserStore> store_;
  std::unique_ptr<UserAuth> users_;
};

TEST_F(UserAuthTest, LoginMakesASessionStoredOnlyAsAHash) {
  User u = Make("ann@example.com");
  LoginResult r = LogIn("  Ann@Example.COM ");
  ASSERT_EQ(r.outcome, Outcome::kOk);
  EXPECT_EQ(r.session.user.id, u.id);
  EXPECT_EQ(r.session_id.size(), 64u);
  EXPECT_NE(r.session.session.id_hash, r.session_id);
  EXPECT_EQ(store_->FindSession(r.session_id).status().code(), Code::kNotFound) << "the id itself is not stored";
  EXPECT_EQ(r.session.csrf_token, UserAuth::CsrfToken(r.session_id));
  EXPECT_NE(r.session.csrf_token, r.session.session.id_hash);
  ASSERT_OK_AND_ASSIGN(SessionUser s, users_->Authenticate(r.session_id));
  EXPECT_EQ(s.user.email, "ann@example.com");
  EXPECT_EQ(s.csrf_token, r.session.csrf_token);
  EXPECT_EQ(users_->Authenticate(std::string(64, 'a')).status().code(), Code::kUnauthenticated);
  EXPECT_EQ(users_->Authenticate("short").status().code(), Code::kUnauthenticated);
}

TEST_F(UserAuthTest, WrongPasswordsUnknownEmailsAndUsersWithoutPasswordsLookAlike) {
  Make("ann@example.com");
  ASSERT_OK(users_->CreateUser("new@example.com", Role::kViewer).status());  // no password yet
  EXPECT_EQ(LogIn("ann@example.com", "wrong password!").outcome, Outcome::kWrong);
  EXPECT_EQ(LogIn("nobody@example.com").outcome, Outcome::kWrong);
  EXPECT_EQ(LogIn("new@example.com", "").outcome, Outcome::kWrong);
  EXPECT_EQ(store_->GetLoginFailures("nobody@example.com")->count, 1) << "unknown emails are counted too";
}

TEST_F(UserAuthTest, IdleAndAbsoluteExpiryWithTheInjectedClock) {
  Make("ann@example.com");
  std::string id = LogIn("ann@example.com").session_id;
  clock_.Advance(minutes(29));
  ASSERT_OK(users_->Authenticate(id).status());  // seen: the idle timer starts again
  clock_.Advance(minutes(29));
  ASSERT_OK(users_->Authenticate(id).status());
  clock_.Advance(minutes(30));
  Result<SessionUser> idle = users_->Authenticate(id);
  EXPECT_EQ(idle.status().code(), Code::kUnauthenticated);
  EXPECT_NE(idle.status().message().find("idle"), std::string::npos) << idle.status().message();
  EXPECT_EQ(store_->FindSession(crypto::Hex(crypto::Sha256(id))).status().code(), Code::kNotFound)
      << "deleted when found expired";

  id = LogIn("ann@example.com").session_id;
  for (int i = 0; i < 24; ++i) {
    clock_.Advance(minutes(29));
    ASSERT_TRUE(users_->Authenticate(id).ok()) << i;
  }
  clock_.Advance(minutes(29));  // 12 h 29 min after login, never idle
  Result<SessionUser> over = users_->Authenticate(id);
  EXPECT_EQ(over.status().code(), Code::kUnauthenticated);
  EXPECT_NE(over.status().message().find("time limit"), std::string::npos) << over.status().message();
}

TEST_F(UserAuthTest, LastSeenIsWrittenAtMostOnceAMinute) {
  Make("ann@example.com");
  LoginResult r = LogIn("ann@example.com");
  clock_.Advance(seconds(30));
  ASSERT_OK(users_->Authenticate(r.session_id).status());
  EXPECT_EQ(store_->FindSession(r.session.session.id_hash)->last_seen_at, kT0);
  clock_.Advance(seconds(31));
  ASSERT_OK(users_->Authenticate(r.session_id).status());
  EXPECT_EQ(store_->FindSession(r.session.session.id_hash)->last_seen_at, kT0 + seconds(61));
}

TEST_F(UserAuthTest, LogoutDisableAndDeleteEndSessionsAtOnce) {
  Make("admin@example.com", Role::kAdmin);
  User u = Make("ann@example.com");
  LoginResult a = LogIn("ann@example.com");
  ASSERT_OK(users_->Logout(a.session.session));
  EXPECT_EQ(users_->Authenticate(a.session_id).status().code(), Code::kUnauthenticated);
  LoginResult b = LogIn("ann@example.com");
  ASSERT_OK(store_->UpdateUser(u.id, {.disabled = true}, clock_.Now()).status());
  EXPECT_EQ(users_->Authenticate(b.session_id).status().code(), Code::kUnauthenticated);
  EXPECT_EQ(LogIn("ann@example.com").outcome, Outcome::kWrong) << "a disabled user cannot log in";
}

TEST_F(UserAuthTest, LockoutAfterFailedLoginsTheSameForUnknownEmails) {
  Make("ann@example.com");
  for (const std::string email : {"ann@example.com", "ghost@example.com"}) {
    for (int i = 0; i < 5; ++i) EXPECT_EQ(LogIn(email, "wrong password!").outcome, Outcome::kWrong) << email << i;
    LoginResult slowed = LogIn(email, "wrong password!");
    EXPECT_EQ(slowed.outcome, Outcome::kThrottled) << email;
    EXPECT_EQ(slowed.retry_after, seconds(1)) << email;
    for (int i = 0; i < 5; ++i) {
      clock_.Advance(minutes(1));
      EXPECT_EQ(LogIn(email, "wrong password!").outcome, Outcome::kWrong) << email << i;
    }
    LoginResult locked = LogIn(email, kPassword);
    EXPECT_EQ(locked.outcome, Outcome::kThrottled) << "even the right password, while locked";
    EXPECT_EQ(locked.retry_after, minutes(15)) << email;
    clock_.Advance(minutes(15));
  }
  EXPECT_EQ(LogIn("ann@example.com").outcome, Outcome::kOk) << "after the lock";
  EXPECT_EQ(store_->GetLoginFailures("ann@example.com")->count, 0) << "a success clears the count";
}

TEST_F(UserAuthTest, LoginsSweepEndedSessionsAndOldFailuresHourly) {
  Make("ann@example.com");
  LoginResult old = LogIn("ann@example.com");
  LogIn("ghost@example.com");
  clock_.Advance(hours(25));
  LogIn("ann@example.com");
  EXPECT_EQ(store_->FindSession(old.session.session.id_hash).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetLoginFailures("ghost@example.com")->count, 0);
  LogIn("ghost@example.com");
  clock_.Advance(hours(25));
  LogIn("ann@example.com");
  EXPECT_EQ(store_->GetLoginFailures("ghost@example.com")->count, 0) << "and again an hour later or more";
}

TEST_F(UserAuthTest, AnAdminUnlocks) {
  User u = Make("ann@example.com");
  for (int i = 0; i < 5; ++i) LogIn("ann@example.com", "wrong password!");
  EXPECT_EQ(LogIn("ann@example.com").outcome, Outcome::kThrottled);
  ASSERT_OK(users_->Unlock(u.id));
  EXPECT_EQ(LogIn("ann@example.com").outcome, Outcome::kOk);
}

TEST_F(UserAuthTest, ChangePasswordNeedsTheCurrentOneAndEndsOtherSessions) {
  Make("ann@example.com");
  LoginResult mine = LogIn("ann@example.com");
  LoginResult other = LogIn("ann@example.com");
  ASSERT_OK_AND_ASSIGN(SessionUser me, users_->Authenticate(mine.session_id));
  Status wrong = users_->ChangePassword(me, "not my password", "a brand new password");
  EXPECT_EQ(wrong.code(), Code::kInvalidArgument);
  EXPECT_TRUE(wrong.message().starts_with("current_password:")) << wrong.message();
  Status shortpw = users_->ChangePassword(me, kPassword, "short");
  EXPECT_TRUE(shortpw.message().starts_with("new_password:")) << shortpw.message();
  ASSERT_OK(users_->ChangePassword(me, kPassword, "a brand new password"));
  EXPECT_OK(users_->Authenticate(mine.session_id).status());
  EXPECT_EQ(users_->Authenticate(other.session_id).status().code(), Code::kUnauthenticated);
  EXPECT_EQ(LogIn("ann@example.com").outcome, Outcome::kWrong);
  EXPECT_EQ(LogIn("ann@example.com", "a brand new password").outcome, Outcome::kOk);
}

TEST_F(UserAuthTest, SetupLinksAreOneTimeAnHourLongAndNameTheirFields) {
  ASSERT_OK_AND_ASSIGN(SetupLink first, users_->NewSetupLink(std::nullopt));
  EXPECT_TRUE(users_->CompleteSetup(first.token, "", kPassword).status().message().starts_with("email:"));
  EXPECT_TRUE(
      users_->CompleteSetup(first.token, "root@example.com", "short").status().message().starts_with("password:"));
  ASSERT_OK_AND_ASSIGN(User admin, users_->CompleteSetup(first.token, "Root@Example.com", kPassword));
  EXPECT_EQ(admin.role, Role::kAdmin);
  EXPECT_EQ(admin.email, "root@example.com");
  Status again = users_->CompleteSetup(first.token, "x@example.com", kPassword).status();
  EXPECT_EQ(again.code(), Code::kInvalidArgument);
  EXPECT_TRUE(again.message().starts_with("token:")) << again.message();
  ASSERT_OK_AND_ASSIGN(CreatedUser made, users_->CreateUser("ann@example.com", Role::kViewer));
  clock_.Advance(hours(1));
  EXPECT_EQ(users_->CheckSetupToken(made.link.token).status().code(), Code::kInvalidArgument) << "an hour at most";
  EXPECT_EQ(users_->CreateUser("ANN@example.com", Role::kViewer).status().code(), Code::kConflict);
  EXPECT_TRUE(users_->CreateUser("not an email", Role::kViewer).status().message().starts_with("email:"));
  EXPECT_OK(ValidatePassword(std::string(1024, 'x'), "password"));
  EXPECT_FALSE(ValidatePassword(std::string(1025, 'x'), "password").ok());
  EXPECT_FALSE(ValidatePassword(std::string(9, 'x'), "password").ok());
}

}  // namespace
}  // namespace outflow::auth
