#include "base/clock.h"

#include <gtest/gtest.h>

#include <thread>

namespace outflow {
namespace {

TEST(FakeClock, WaitUntilReturnsWhenTimeReachesDeadline) {
  FakeClock clock(FromMicros(1'000'000));
  std::mutex mu;
  std::condition_variable cv;
  bool woke = false;
  std::thread waiter([&] {
    std::unique_lock lk(mu);
    Timestamp deadline = FromMicros(5'000'000);
    while (clock.Now() < deadline) clock.WaitUntil(cv, lk, deadline);
    woke = true;
  });
  clock.Advance(std::chrono::seconds(1));
  {
    std::lock_guard g(mu);
    EXPECT_FALSE(woke);
  }
  clock.Advance(std::chrono::seconds(3));
  waiter.join();
  EXPECT_TRUE(woke);
  EXPECT_EQ(clock.Now(), FromMicros(5'000'000));
}

TEST(SystemClock, WaitUntilPastDeadlineReturnsAtOnce) {
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock lk(mu);
  SystemClock::Instance().WaitUntil(cv, lk, SystemClock::Instance().Now() - std::chrono::seconds(1));
  SUCCEED();
}

}  // namespace
}  // namespace outflow
