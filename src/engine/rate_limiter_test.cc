#include "engine/rate_limiter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <memory>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "testing/status_matchers.h"

namespace outflow {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const Timestamp kT0 = ParseRfc3339("2026-11-24T09:00:00Z").value();
constexpr Duration kUs(1);

// The largest number of grants in any half-open interval [s, s + span). The count
// can only rise when s reaches a grant, so checking every interval that starts at a
// grant time covers them all. REQUIRES: `grants` sorted.
int MaxInAnyInterval(const std::vector<Timestamp>& grants, Duration span) {
  int most = 0;
  size_t end = 0;
  for (size_t begin = 0; begin < grants.size(); ++begin) {
    end = std::max(end, begin);
    while (end < grants.size() && grants[end] < grants[begin] + span) ++end;
    most = std::max(most, static_cast<int>(end - begin));
  }
  return most;
}

// Calls TryAcquire and appends one time per grant.
int Acquire(RateLimiter& limiter, int want, Timestamp now, std::vector<Timestamp>& grants) {
  int granted = limiter.TryAcquire(want, now);
  grants.insert(grants.end(), static_cast<size_t>(granted), now);
  return granted;
}

TEST(RateLimiter, WindowBoundaryIsHalfOpen) {
  RateLimiter limiter(3, 3);
  EXPECT_EQ(limiter.TryAcquire(5, kT0), 3);
  EXPECT_EQ(limiter.TryAcquire(1, kT0 + milliseconds(500)), 0);
  EXPECT_EQ(limiter.NextAvailable(kT0 + milliseconds(500)), kT0 + seconds(1));
  // [kT0, kT0 + 1s) holds three; a grant at kT0 + 1s - 1us would make four.
  EXPECT_EQ(limiter.TryAcquire(1, kT0 + seconds(1) - kUs), 0);
  EXPECT_EQ(limiter.TryAcquire(5, kT0 + seconds(1)), 3);
  EXPECT_EQ(limiter.NextAvailable(kT0 + seconds(1)), kT0 + seconds(2));
  EXPECT_EQ(limiter.NextAvailable(kT0 + seconds(3)), kT0 + seconds(3));  // possible now: returns now
}

TEST(RateLimiter, ATokenBucketsDoubleBurstCannotHappen) {
  // BullMQ's limiter let 58 jobs start within one second with a 29/s limit.
  RateLimiter limiter(29, 29);
  std::vector<Timestamp> grants;
  Acquire(limiter, 58, kT0 + milliseconds(999), grants);
  for (int ms = 1000; ms < 1999; ms += 10) Acquire(limiter, 58, kT0 + milliseconds(ms), grants);
  Acquire(limiter, 58, kT0 + milliseconds(1998), grants);
  EXPECT_EQ(grants.size(), 29u);
  Acquire(limiter, 58, kT0 + milliseconds(1999), grants);
  EXPECT_EQ(grants.size(), 58u);
  EXPECT_EQ(MaxInAnyInterval(grants, seconds(1)), 29);
}

TEST(RateLimiter, BurstSpreadsGrants) {
  // limit 10/s, burst 2: at most 2 within 200 ms.
  RateLimiter limiter(10, 2);
  EXPECT_EQ(limiter.burst_span(), milliseconds(200));
  EXPECT_EQ(limiter.TryAcquire(10, kT0), 2);
  EXPECT_EQ(limiter.TryAcquire(1, kT0 + milliseconds(200) - kUs), 0);
  EXPECT_EQ(limiter.NextAvailable(kT0 + milliseconds(100)), kT0 + milliseconds(200));
  EXPECT_EQ(limiter.TryAcquire(10, kT0 + milliseconds(200)), 2);
  EXPECT_EQ(limiter.TryAcquire(10, kT0 + milliseconds(400)), 2);
  EXPECT_EQ(limiter.TryAcquire(10, kT0 + milliseconds(600)), 2);
  EXPECT_EQ(limiter.TryAcquire(10, kT0 + milliseconds(800)), 2);
  EXPECT_EQ(limiter.TryAcquire(10, kT0 + milliseconds(1000)), 2);  // the grants at kT0 left the window

  // burst 1 spaces grants window/limit apart, rounded up to a whole microsecond.
  RateLimiter even(29, 1);
  EXPECT_EQ(even.burst_span(), Duration(34483));  // 1e6 / 29 = 34482.76
  EXPECT_EQ(even.TryAcquire(29, kT0), 1);
  EXPECT_EQ(even.NextAvailable(kT0), kT0 + Duration(34483));
  EXPECT_EQ(even.TryAcquire(1, kT0 + Duration(34482)), 0);
  EXPECT_EQ(even.TryAcquire(29, kT0 + Duration(34483)), 1);

  EXPECT_EQ(RateLimiter(29, 3).burst_span(), Duration(103449));  // 3e6 / 29 = 103448.28
  EXPECT_EQ(RateLimiter(29, 29).burst_span(), seconds(1));
  EXPECT_EQ(RateLimiter(7, 3, milliseconds(250)).burst_span(), Duration(107143));  // 750000 / 7 = 107142.86
}

TEST(RateLimiter, InvalidConfigurationThrows) {
  EXPECT_THROW(RateLimiter(0, 1), std::invalid_argument);
  EXPECT_THROW(RateLimiter(5, 0), std::invalid_argument);
  EXPECT_THROW(RateLimiter(5, 6), std::invalid_argument);
  EXPECT_THROW(RateLimiter(5, 5, Duration::zero()), std::invalid_argument);
  RateLimiter ok(5, 5);
  EXPECT_EQ(ok.TryAcquire(0, kT0), 0);
  EXPECT_EQ(ok.TryAcquire(-3, kT0), 0);
}

TEST(RateLimiter, SeedRestoresHistoryAfterARestart) {
  const Timestamp t = kT0 + milliseconds(300);
  std::vector<Timestamp> sent(5, t);
  RateLimiter limiter(5, 5);
  limiter.Seed(sent);
  EXPECT_EQ(limiter.TryAcquire(1, t), 0);
  EXPECT_EQ(limiter.TryAcquire(1, t + seconds(1) - kUs), 0);
  EXPECT_EQ(limiter.NextAvailable(t), t + seconds(1));
  EXPECT_EQ(limiter.TryAcquire(9, t + seconds(1)), 5);

  // Any order; only the latest `limit` matter.
  RateLimiter unordered(3, 3);
  std::vector<Timestamp> mixed = {t, t - seconds(10), t - milliseconds(400), t - seconds(5), t - milliseconds(100)};
  unordered.Seed(mixed);  // the latest three: t - 400ms, t - 100ms, t
  EXPECT_EQ(unordered.NextAvailable(t), t + milliseconds(600));
  EXPECT_EQ(unordered.TryAcquire(3, t + milliseconds(600)), 1);
  EXPECT_EQ(unordered.TryAcquire(3, t + milliseconds(900)), 1);

  // Fewer than `limit`: the rest of the window is still available.
  RateLimiter partial(5, 5);
  std::vector<Timestamp> three(3, t);
  partial.Seed(three);
  EXPECT_EQ(partial.TryAcquire(9, t), 2);

  // Seeding merges with what is already recorded.
  RateLimiter merged(5, 5);
  EXPECT_EQ(merged.TryAcquire(2, t), 2);
  std::vector<Timestamp> earlier(3, t - milliseconds(500));
  merged.Seed(earlier);
  EXPECT_EQ(merged.TryAcquire(1, t), 0);
  EXPECT_EQ(merged.NextAvailable(t), t + milliseconds(500));

  // The burst rule sees seeded sends too.
  RateLimiter spaced(29, 1);
  std::vector<Timestamp> one(1, t);
  spaced.Seed(one);
  EXPECT_EQ(spaced.NextAvailable(t), t + Duration(34483));
}

TEST(RateLimiter, TimeNeverGoesBackwards) {
  // A caller whose `now` is older than the latest grant (it read the clock before
  // another campaign's call) is treated as calling at that grant's time.
  RateLimiter limiter(2, 2);
  EXPECT_EQ(limiter.TryAcquire(2, kT0 + seconds(10)), 2);
  EXPECT_EQ(limiter.TryAcquire(1, kT0 + milliseconds(9500)), 0);  // [8.5 s, 9.5 s] is empty, but time is 10 s
  EXPECT_EQ(limiter.NextAvailable(kT0 + milliseconds(9500)), kT0 + seconds(11));
  EXPECT_EQ(limiter.TryAcquire(1, kT0 + seconds(11)), 1);
  // A stale caller granted at 11 s, not at 10.5 s: the window [11 s, 12 s) stays at two.
  EXPECT_EQ(limiter.NextAvailable(kT0 + milliseconds(10500)), kT0 + milliseconds(10500));
  EXPECT_EQ(limiter.TryAcquire(1, kT0 + milliseconds(10500)), 1);
  EXPECT_EQ(limiter.TryAcquire(1, kT0 + seconds(12) - kUs), 0);
  EXPECT_EQ(limiter.NextAvailable(kT0 + seconds(11)), kT0 + seconds(12));
}

struct Config {
  int limit;
  int burst;
  Duration window;
};

const Config kConfigs[] = {
    {1, 1, seconds(1)},    {29, 29, seconds(1)},      {29, 1, seconds(1)},     {29, 5, seconds(1)},
    {100, 10, seconds(1)}, {7, 3, milliseconds(250)}, {3, 2, milliseconds(7)}, {1000, 1000, seconds(1)},
};

TEST(RateLimiter, PropertyNeverOverTheLimitInAnyWindow) {
  // Random calls over simulated time, with "restarts" that move the history into a
  // new limiter through Seed, as the engine does from the send log.
  for (const Config& c : kConfigs) {
    for (uint64_t seed = 1; seed <= 5; ++seed) {
      std::mt19937_64 rng(seed * 1000 + static_cast<uint64_t>(c.limit));
      auto limiter = std::make_unique<RateLimiter>(c.limit, c.burst, c.window);
      std::vector<Timestamp> grants;
      Timestamp now = kT0;
      std::uniform_int_distribution<int> want(0, c.limit + 3);
      std::uniform_int_distribution<int> kind(0, 99);
      for (int step = 0; step < 20000; ++step) {
        int k = kind(rng);
        if (k < 60) {
          now += Duration(std::uniform_int_distribution<int64_t>(0, c.window.count() / 50)(rng));
        } else if (k < 85) {
          now += Duration(std::uniform_int_distribution<int64_t>(0, c.window.count() / 3)(rng));
        } else if (k < 95) {
          now = std::max(now, limiter->NextAvailable(now));  // a dispatcher that waits exactly
        } else if (k < 99) {
          now += Duration(std::uniform_int_distribution<int64_t>(0, 2 * c.window.count())(rng));
        } else {
          limiter = std::make_unique<RateLimiter>(c.limit, c.burst, c.window);  // restart
          // The latest sends and some older ones, in any order.
          size_t keep = std::min(grants.size(), static_cast<size_t>(3 * c.limit));
          std::vector<Timestamp> history(grants.end() - static_cast<std::ptrdiff_t>(keep), grants.end());
          std::shuffle(history.begin(), history.end(), rng);
          limiter->Seed(history);
        }
        Timestamp next = limiter->NextAvailable(now);
        int w = want(rng);
        int granted = Acquire(*limiter, w, now, grants);
        if (w > 0) {
          ASSERT_EQ(next <= now, granted > 0) << "NextAvailable and TryAcquire disagree at step " << step;
        }
      }
      ASSERT_TRUE(std::is_sorted(grants.begin(), grants.end()));
      ASSERT_GT(grants.size(), static_cast<size_t>(c.limit)) << "the pattern must reach the limit to test it";
      EXPECT_LE(MaxInAnyInterval(grants, c.window), c.limit)
          << "limit " << c.limit << " burst " << c.burst << " seed " << seed;
      EXPECT_LE(MaxInAnyInterval(grants, limiter->burst_span()), c.burst)
          << "limit " << c.limit << " burst " << c.burst << " seed " << seed;
    }
  }
}

TEST(RateLimiter, PropertyUsesTheLimitUnderABacklog) {
  // 600 simulated seconds at 29/s with a constant backlog: at least 98% of 29 * 600,
  // and never more than the ceiling.
  const Duration run = seconds(600);
  const int ceiling = 29 * 600;
  for (int burst : {29, 5, 1}) {
    // A dispatcher that sleeps until NextAvailable.
    RateLimiter exact(29, burst);
    std::vector<Timestamp> grants;
    for (Timestamp now = kT0; now < kT0 + run; now = exact.NextAvailable(now)) {
      ASSERT_GT(Acquire(exact, 1000, now, grants), 0);
    }
    EXPECT_GE(grants.size(), static_cast<size_t>(0.98 * ceiling)) << "burst " << burst;
    EXPECT_LE(grants.size(), static_cast<size_t>(ceiling)) << "burst " << burst;
    EXPECT_LE(MaxInAnyInterval(grants, seconds(1)), 29);

    // A dispatcher that polls every 7 ms, and two campaigns that share the account.
    RateLimiter polled(29, burst);
    std::vector<Timestamp> polled_grants;
    for (Timestamp now = kT0; now < kT0 + run; now += milliseconds(7)) {
      Acquire(polled, 1000, now, polled_grants);
      Acquire(polled, 1000, now + milliseconds(3), polled_grants);
    }
    EXPECT_GE(polled_grants.size(), static_cast<size_t>(0.98 * ceiling)) << "burst " << burst;
    EXPECT_LE(polled_grants.size(), static_cast<size_t>(ceiling)) << "burst " << burst;
    EXPECT_LE(MaxInAnyInterval(polled_grants, seconds(1)), 29);
  }
}

TEST(RateLimiter, ThreadsSharingOneLimiterGetTheLimitExactly) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 2000;
  RateLimiter limiter(29, 29);
  std::vector<std::atomic<int>> per_round(kRounds);
  std::barrier sync(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      for (int round = 0; round < kRounds; ++round) {
        sync.arrive_and_wait();  // everyone calls at the same simulated second
        Timestamp now = kT0 + seconds(round);
        for (int call = 0; call < 20; ++call) per_round[static_cast<size_t>(round)] += limiter.TryAcquire(1, now);
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int round = 0; round < kRounds; ++round) EXPECT_EQ(per_round[static_cast<size_t>(round)].load(), 29) << round;
}

}  // namespace
}  // namespace outflow
