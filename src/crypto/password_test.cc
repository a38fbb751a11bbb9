#include "crypto/password.h"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

namespace outflow::crypto {
namespace {

TEST(PasswordHasher, HashesWithArgon2idAndVerifies) {
  PasswordHasher h(PasswordCost::Minimum());
  Result<std::string> a = h.Hash("correct horse battery");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(a->starts_with("$argon2id$")) << *a;
  Result<std::string> b = h.Hash("correct horse battery");
  ASSERT_TRUE(b.ok());
  EXPECT_NE(*a, *b) << "salted";
  EXPECT_TRUE(*h.Verify(*a, "correct horse battery"));
  EXPECT_FALSE(*h.Verify(*a, "correct horse batterz"));
  EXPECT_FALSE(*h.Verify("", "x")) << "no hash matches nothing";
  EXPECT_FALSE(*h.Verify("not a hash", "x"));
}

TEST(PasswordHasher, TheInteractiveCostIsLibsodiumsAndVerifiesAcrossCosts) {
  PasswordHasher real;  // the daemon's cost
  Result<std::string> hash = real.Hash("a password of some length");
  ASSERT_TRUE(hash.ok());
  EXPECT_NE(hash->find("m=65536,t=2"), std::string::npos) << *hash;
  PasswordHasher cheap(PasswordCost::Minimum());
  EXPECT_TRUE(*cheap.Verify(*hash, "a password of some length")) << "the cost is read from the hash";
  EXPECT_NE(real.DummyHash().find("m=65536,t=2"), std::string::npos) << "the dummy costs as much as a real one";
}

TEST(PasswordHasher, ABusyHasherAnswersUnavailableInsteadOfQueueingForever) {
  PasswordHasher h(PasswordCost::Interactive(), std::chrono::milliseconds(0));
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::atomic<int> busy{0}, done{0};
  std::latch start(kThreads);  // all ask at once, not as each thread happens to start
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      Result<std::string> r = h.Hash("some password here");
      (r.ok() ? done : busy) += 1;
      if (!r.ok()) {
        EXPECT_EQ(r.status().code(), Code::kUnavailable);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GE(done.load(), 1);
  EXPECT_GE(busy.load(), 1) << "8 at once with 2 slots and no wait: some are turned away";
}

}  // namespace
}  // namespace outflow::crypto
