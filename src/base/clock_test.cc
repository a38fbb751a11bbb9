#include "base/clock.h"

#include <gtest/gtest.h>

#include <future>
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

// A deadline thousands of years away (or Timestamp::max()) must not overflow the
// wait into "already due": the waiter stays blocked until it is notified.
TEST(SystemClock, FarFutureDeadlineBlocksUntilNotified) {
  for (Timestamp deadline : {kLatestTimestamp, Timestamp::max()}) {
    std::mutex mu;
    std::condition_variable cv;
    bool notified = false;
    int returns = 0;
    auto waiter = std::async(std::launch::async, [&] {
      std::unique_lock lk(mu);
      // Bounded: a spinning wait would otherwise hold `mu` and starve the notifier.
      while (!notified && returns < 1000) {
        SystemClock::Instance().WaitUntil(cv, lk, deadline);
        ++returns;
      }
    });
    // Observed for a bounded time: an overflowing wait returns at once, over and over.
    EXPECT_EQ(waiter.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
    {
      std::lock_guard g(mu);
      notified = true;
    }
    cv.notify_all();
    waiter.get();
    EXPECT_LE(returns, 2) << FormatRfc3339(deadline);
  }
}

}  // namespace
}  // namespace outflow
