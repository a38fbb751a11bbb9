// The KeyStore conformance suite: the contract of store/key_store.h.
#include "store/key_store_conformance.h"

#include <atomic>
#include <thread>

#include "testing/status_matchers.h"

namespace outflow {

using std::chrono::seconds;

void KeyStoreConformance::SetUp() {
  keys_ = Open();
  ASSERT_NE(keys_, nullptr);
}

std::shared_ptr<KeyStore> KeyStoreConformance::Open() {
  auto s = GetParam().open(dir_.path().string(), kT0);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : nullptr;
}

ApiKey KeyStoreConformance::Make(const std::string& lookup, Role role) {
  ApiKey k;
  k.lookup = lookup;
  k.name = "key " + lookup;
  k.role = role;
  k.hash = "hash-" + lookup;
  Result<ApiKey> made = keys_->Create(k, kT0);
  EXPECT_TRUE(made.ok()) << made.status().ToString();
  return made.ok() ? *made : k;
}

namespace {

TEST_P(KeyStoreConformance, CreateStoresEveryFieldAndFindsByLookup) {
  ApiKey k;
  k.lookup = "00aa";
  k.name = "ci";
  k.role = Role::kAdmin;
  k.hash = "h1";
  k.expires_at = kT0 + seconds(3600);
  ASSERT_OK_AND_ASSIGN(ApiKey made, keys_->Create(k, kT0));
  EXPECT_TRUE(made.id.valid());
  EXPECT_EQ(made.created_at, kT0);
  EXPECT_EQ(made.expires_at, kT0 + seconds(3600));
  EXPECT_FALSE(made.revoked_at);
  EXPECT_FALSE(made.last_used_at);
  ASSERT_OK_AND_ASSIGN(ApiKey found, keys_->FindByLookup("00aa"));
  EXPECT_EQ(found.id, made.id);
  EXPECT_EQ(found.role, Role::kAdmin);
  EXPECT_EQ(found.hash, "h1");
  EXPECT_EQ(found.name, "ci");
  EXPECT_EQ(keys_->FindByLookup("00ab").status().code(), Code::kNotFound);
  EXPECT_EQ(keys_->Get(ApiKeyId(999)).status().code(), Code::kNotFound);
  EXPECT_EQ(keys_->Create(k, kT0).status().code(), Code::kConflict) << "lookups are unique";
}

TEST_P(KeyStoreConformance, ListIsOldestFirstWithRevokedKeys) {
  ApiKey a = Make("a1");
  ApiKey b = Make("b2", Role::kViewer);
  ASSERT_OK(keys_->Revoke(a.id, kT0).status());
  ASSERT_OK_AND_ASSIGN(auto all, keys_->List());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, a.id);
  EXPECT_TRUE(all[0].revoked_at);
  EXPECT_EQ(all[1].id, b.id);
  EXPECT_EQ(all[1].role, Role::kViewer);
}

TEST_P(KeyStoreConformance, RevokeKeepsTheFirstTimeAndIsSeenByAnotherHandle) {
  ApiKey k = Make("c3");
  std::shared_ptr<KeyStore> other = Open();  // another process on the same database
  ASSERT_NE(other, nullptr);
  ASSERT_OK_AND_ASSIGN(ApiKey seen, other->FindByLookup("c3"));
  EXPECT_TRUE(seen.ActiveAt(kT0));
  ASSERT_OK_AND_ASSIGN(ApiKey revoked, keys_->Revoke(k.id, kT0 + seconds(5)));
  EXPECT_EQ(revoked.revoked_at, kT0 + seconds(5));
  ASSERT_OK_AND_ASSIGN(seen, other->FindByLookup("c3"));
  EXPECT_FALSE(seen.ActiveAt(kT0 + seconds(6))) << "no cache: the next read sees the revocation";
  ASSERT_OK_AND_ASSIGN(ApiKey again, other->Revoke(k.id, kT0 + seconds(9)));
  EXPECT_EQ(again.revoked_at, kT0 + seconds(5)) << "the first revocation stays";
  EXPECT_EQ(keys_->Revoke(ApiKeyId(999), kT0).status().code(), Code::kNotFound);
}

TEST_P(KeyStoreConformance, RacingRevocationsStoreOneTime) {
  ApiKey k = Make("d4");
  std::shared_ptr<KeyStore> other = Open();
  ASSERT_NE(other, nullptr);
  std::thread a([&] { EXPECT_OK(keys_->Revoke(k.id, kT0 + seconds(1)).status()); });
  std::thread b([&] { EXPECT_OK(other->Revoke(k.id, kT0 + seconds(2)).status()); });
  a.join();
  b.join();
  ASSERT_OK_AND_ASSIGN(ApiKey after, keys_->Get(k.id));
  ASSERT_TRUE(after.revoked_at);
  EXPECT_TRUE(*after.revoked_at == kT0 + seconds(1) || *after.revoked_at == kT0 + seconds(2));
}

TEST_P(KeyStoreConformance, RecordUseOnlyMovesForwardFromAnyWriter) {
  ApiKey k = Make("e5");
  std::shared_ptr<KeyStore> other = Open();
  ASSERT_NE(other, nullptr);
  std::thread a([&] {
    for (int i = 0; i < 50; ++i) EXPECT_OK(keys_->RecordUse(k.id, kT0 + seconds(2 * i)));
  });
  std::thread b([&] {
    for (int i = 49; i >= 0; --i) EXPECT_OK(other->RecordUse(k.id, kT0 + seconds(2 * i + 1)));
  });
  a.join();
  b.join();
  ASSERT_OK_AND_ASSIGN(ApiKey after, keys_->Get(k.id));
  EXPECT_EQ(after.last_used_at, kT0 + seconds(99)) << "the latest use, whatever the order of the writes";
}

TEST_P(KeyStoreConformance, ExpiryIsExact) {
  ApiKey k;
  k.lookup = "f6";
  k.name = "short";
  k.hash = "h";
  k.expires_at = kT0 + seconds(10);
  ASSERT_OK_AND_ASSIGN(ApiKey made, keys_->Create(k, kT0));
  EXPECT_TRUE(made.ActiveAt(kT0 + seconds(10) - std::chrono::microseconds(1)));
  EXPECT_FALSE(made.ActiveAt(kT0 + seconds(10)));
}

}  // namespace
}  // namespace outflow
