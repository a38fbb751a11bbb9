// API keys and the Authenticator over a real SQLite key store.
#include "auth/api_keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "auth/authenticator.h"
#include "auth/cli_key_file.h"
#include "store/sqlite/sqlite_key_store.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace outflow::auth {
namespace {

const Timestamp kT0 = FromMicros(1'800'000'000'000'000);

class ApiKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteKeyStore::Open(dir_.File("outflow.db"), kT0);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  CreatedKey Create(Role role, std::optional<int> days = std::nullopt) {
    Result<CreatedKey> k = CreateKey(*store_, NewKeySpec{.name = "k", .role = role, .expires_in_days = days}, kT0);
    EXPECT_TRUE(k.ok()) << k.status().ToString();
    return k.ok() ? *k : CreatedKey{};
  }
  testing::TempDir dir_;
  FakeClock clock_{kT0};
  std::unique_ptr<SqliteKeyStore> store_;
};

TEST_F(ApiKeysTest, AKeyIsLongRandomPrefixedAndStoredOnlyAsItsHash) {
  CreatedKey a = Create(Role::kEditor);
  CreatedKey b = Create(Role::kEditor);
  EXPECT_TRUE(a.secret.starts_with("ofk_"));
  EXPECT_EQ(a.secret.size(), 4u + 16 + 1 + 64);
  EXPECT_NE(a.secret, b.secret);
  ASSERT_TRUE(ParseKey(a.secret));
  EXPECT_EQ(ParseKey(a.secret)->lookup, a.key.lookup);
  EXPECT_EQ(a.key.hash, HashKey(a.secret));
  EXPECT_EQ(a.key.hash.find(ParseKey(a.secret)->secret), std::string::npos);
  EXPECT_EQ(DisplayPrefix(a.key), "ofk_" + a.key.lookup);
}

TEST_F(ApiKeysTest, VerifyRefusesMalformedUnknownAndAlteredKeys) {
  CreatedKey a = Create(Role::kViewer);
  ASSERT_OK_AND_ASSIGN(ApiKey k, VerifyKey(*store_, a.secret));
  EXPECT_EQ(k.id, a.key.id);
  std::string altered = a.secret;
  altered.back() = altered.back() == '0' ? '1' : '0';
  EXPECT_EQ(VerifyKey(*store_, altered).status().code(), Code::kUnauthenticated);
  EXPECT_EQ(VerifyKey(*store_, "ofk_nothex").status().code(), Code::kUnauthenticated);
  EXPECT_EQ(VerifyKey(*store_, "ofk_" + std::string(16, '0') + "_" + std::string(64, '0')).status().code(),
            Code::kUnauthenticated);
  EXPECT_EQ(VerifyKey(*store_, "").status().code(), Code::kUnauthenticated);
  EXPECT_FALSE(ValidateSpec({.name = ""}).ok());
  EXPECT_FALSE(ValidateSpec({.name = "x", .expires_in_days = 0}).ok());
}

TEST_F(ApiKeysTest, AuthenticateHonoursRevocationAndExpiryAtOnce) {
  Authenticator auth(*store_, clock_);
  CreatedKey a = Create(Role::kAdmin, 1);
  ASSERT_OK_AND_ASSIGN(Principal p, auth.Authenticate("Bearer " + a.secret));
  EXPECT_EQ(p.role, Role::kAdmin);
  EXPECT_OK(auth.Authenticate("bearer  " + a.secret).status());
  EXPECT_EQ(auth.Authenticate("").status().code(), Code::kUnauthenticated);
  EXPECT_EQ(auth.Authenticate("Basic " + a.secret).status().code(), Code::kUnauthenticated);
  clock_.Advance(std::chrono::hours(24));
  EXPECT_EQ(auth.Authenticate("Bearer " + a.secret).status().message(), "the API key has expired");
  CreatedKey b = Create(Role::kViewer);
  EXPECT_OK(auth.Authenticate("Bearer " + b.secret).status());
  ASSERT_OK(store_->Revoke(b.key.id, clock_.Now()).status());
  EXPECT_EQ(auth.Authenticate("Bearer " + b.secret).status().message(), "the API key was revoked");
}

TEST_F(ApiKeysTest, LastUseIsWrittenAtMostOnceAMinute) {
  Authenticator auth(*store_, clock_);
  CreatedKey a = Create(Role::kViewer);
  ASSERT_OK(auth.Authenticate("Bearer " + a.secret).status());
  EXPECT_EQ(store_->Get(a.key.id)->last_used_at, kT0);
  clock_.Advance(std::chrono::seconds(59));
  ASSERT_OK(auth.Authenticate("Bearer " + a.secret).status());
  EXPECT_EQ(store_->Get(a.key.id)->last_used_at, kT0) << "not written again within the minute";
  clock_.Advance(std::chrono::seconds(1));
  ASSERT_OK(auth.Authenticate("Bearer " + a.secret).status());
  EXPECT_EQ(store_->Get(a.key.id)->last_used_at, kT0 + std::chrono::seconds(60));
}

TEST_F(ApiKeysTest, ThrottleIsPerKey) {
  Authenticator auth(*store_, clock_, AuthOptions{.key_rate = 2});
  EXPECT_FALSE(auth.Throttle(ApiKeyId(1)));
  EXPECT_FALSE(auth.Throttle(ApiKeyId(1)));
  EXPECT_TRUE(auth.Throttle(ApiKeyId(1)));
  EXPECT_FALSE(auth.Throttle(ApiKeyId(2))) << "another key has its own budget";
  clock_.Advance(std::chrono::milliseconds(500));
  EXPECT_FALSE(auth.Throttle(ApiKeyId(1)));
}

TEST_F(ApiKeysTest, TheCliKeyFileIsPrivateAndReplacedOnlyWhenItStopsWorking) {
  const std::string path = dir_.File("cli.key");
  ASSERT_OK(EnsureCliKey(*store_, path, kT0));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_OK_AND_ASSIGN(std::string first, ReadKeyFile(path));
  ASSERT_OK_AND_ASSIGN(ApiKey k, VerifyKey(*store_, first));
  EXPECT_EQ(k.role, Role::kAdmin);
  ASSERT_OK(EnsureCliKey(*store_, path, kT0));
  EXPECT_EQ(*ReadKeyFile(path), first) << "a working key is kept";
  ASSERT_OK(store_->Revoke(k.id, kT0).status());
  ASSERT_OK(EnsureCliKey(*store_, path, kT0));
  EXPECT_NE(*ReadKeyFile(path), first) << "a revoked one is replaced";
  EXPECT_EQ(ReadKeyFile(dir_.File("none")).status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace outflow::auth
