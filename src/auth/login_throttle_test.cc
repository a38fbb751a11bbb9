#include "auth/login_throttle.h"

#include <gtest/gtest.h>

namespace outflow::auth {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

const Timestamp kT0 = FromMicros(1'800'000'000'000'000);

// Runs `n` attempts, each let in as soon as it may be; returns the stored state.
LoginFailures Fail(int n, Timestamp& now, const LockoutPolicy& p, LoginFailures f = {}) {
  for (int i = 0; i < n; ++i) {
    AttemptVerdict v = JudgeAttempt(f, now, p);
    if (v.wait) {
      now += *v.wait;
      v = JudgeAttempt(f, now, p);
    }
    EXPECT_FALSE(v.wait);
    f = v.next;
  }
  return f;
}

TEST(LoginThrottle, FiveFreeAttemptsThenADoublingDelay) {
  LockoutPolicy p;
  Timestamp now = kT0;
  LoginFailures f = Fail(5, now, p);
  EXPECT_EQ(now, kT0) << "the first five go at once";
  EXPECT_EQ(f.count, 5);
  EXPECT_FALSE(f.locked_until);
  AttemptVerdict v = JudgeAttempt(f, now, p);
  ASSERT_TRUE(v.wait);
  EXPECT_EQ(*v.wait, seconds(1));
  f = Fail(1, now, p, f);
  EXPECT_EQ(*JudgeAttempt(f, now, p).wait, seconds(2));
  f = Fail(1, now, p, f);
  EXPECT_EQ(*JudgeAttempt(f, now, p).wait, seconds(4));
  EXPECT_EQ(*JudgeAttempt(f, now + seconds(3), p).wait, seconds(1)) << "the wait counts from the last attempt";
}

TEST(LoginThrottle, TheTenthAttemptLocksForFifteenMinutes) {
  LockoutPolicy p;
  Timestamp now = kT0;
  LoginFailures f = Fail(9, now, p);
  EXPECT_FALSE(f.locked_until);
  f = Fail(1, now, p, f);
  ASSERT_TRUE(f.locked_until);
  EXPECT_EQ(*f.locked_until, now + minutes(15));
  EXPECT_EQ(*JudgeAttempt(f, now + minutes(1), p).wait, minutes(14));
  AttemptVerdict after = JudgeAttempt(f, now + minutes(15), p);
  EXPECT_FALSE(after.wait) << "one attempt after the lock";
  ASSERT_TRUE(after.next.locked_until) << "and a failure locks again";
}

TEST(LoginThrottle, TheDelayNeverExceedsTheLock) {
  LockoutPolicy p{.free_attempts = 1, .first_delay = minutes(1), .lock_after = 1000, .lock_for = minutes(15)};
  LoginFailures f{.count = 500, .last_failed_at = kT0, .locked_until = std::nullopt};
  EXPECT_EQ(*JudgeAttempt(f, kT0, p).wait, minutes(15));
}

}  // namespace
}  // namespace outflow::auth
