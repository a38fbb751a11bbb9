#include "auth/login_throttle.h"

#include <algorithm>

namespace outflow::auth {

namespace {

// first_delay x 2^n, at most `cap`.
Duration Doubling(Duration first, int n, Duration cap) {
  Duration d = first;
  for (int i = 0; i < n && d < cap; ++i) d *= 2;
  return std::min(d, cap);
}

}  // namespace

AttemptVerdict JudgeAttempt(const LoginFailures& stored, Timestamp now, const LockoutPolicy& policy) {
  AttemptVerdict v;
  if (stored.locked_until && now < *stored.locked_until) {
    v.wait = *stored.locked_until - now;
    return v;
  }
  if (stored.count >= policy.free_attempts && stored.last_failed_at) {
    const Timestamp free_at =
        *stored.last_failed_at + Doubling(policy.first_delay, stored.count - policy.free_attempts, policy.lock_for);
    if (now < free_at) {
      v.wait = free_at - now;
      return v;
    }
  }
  v.next.count = stored.count + 1;
  v.next.last_failed_at = now;
  if (v.next.count >= policy.lock_after) v.next.locked_until = now + policy.lock_for;
  return v;
}

}  // namespace outflow::auth
