// The slowdown and lock after failed logins, per normalised email (docs/security.md
// "Lockout"). Pure: what an attempt at `now` may do, given the failures stored for
// its email (UserStore::GetLoginFailures).
//
// Every attempt is counted when it is let in, before its password is checked (so
// that racing attempts cannot slip in together); a successful login clears the
// count. With the defaults: the first 5 attempts go at once; from then on each
// attempt waits first_delay x 2^(count - 5) after the last one (1 s, 2 s, 4 s, ...,
// at most lock_for); the attempt that makes the count 10 locks the email for
// lock_for (15 min) unless it succeeds, and so does each further one after a lock.
// Unknown emails are counted exactly like known ones, so the answers (and their
// timing) never tell which emails have a user.
#pragma once

#include <optional>

#include "base/time.h"
#include "domain/user.h"

namespace outflow::auth {

struct LockoutPolicy {
  int free_attempts = 5;
  Duration first_delay = std::chrono::seconds(1);
  int lock_after = 10;
  Duration lock_for = std::chrono::minutes(15);
};

struct AttemptVerdict {
  std::optional<Duration> wait;  // refused: retry after this long
  LoginFailures next;            // let in: what to store (the attempt counted)
};

// REQUIRES: policy.free_attempts >= 0, lock_after >= 1, first_delay and lock_for > 0.
AttemptVerdict JudgeAttempt(const LoginFailures& stored, Timestamp now, const LockoutPolicy& policy);

}  // namespace outflow::auth
