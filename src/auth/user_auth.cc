#include "auth/user_auth.h"

#include <algorithm>

#include "base/log.h"
#include "crypto/digest.h"
#include "crypto/hmac.h"

namespace outflow::auth {

namespace {

constexpr size_t kSecretBytes = 32;
constexpr int kMaxAttemptRaces = 16;
constexpr Duration kSweepEvery = std::chrono::hours(1);
constexpr Duration kKeepFailures = std::chrono::hours(24);

std::string NewSecret() {
  return crypto::Hex(crypto::RandomBytes(kSecretBytes));
}

std::string HashSecret(std::string_view secret) {
  return crypto::Hex(crypto::Sha256(secret));
}

// 64 lower-case hex characters: the form of session ids and setup tokens.
bool IsSecret(std::string_view s) {
  if (s.size() != 2 * kSecretBytes) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status Ended(std::string_view why) {
  return Status::Unauthenticated(std::string(why) + "; log in again");
}

}  // namespace

Status ValidatePassword(std::string_view password, std::string_view field) {
  if (password.size() < kMinPasswordBytes || password.size() > kMaxPasswordBytes) {
    return Status::InvalidArgument(std::string(field) + ": must be " + std::to_string(kMinPasswordBytes) + " to " +
                                   std::to_string(kMaxPasswordBytes) + " bytes long");
  }
  return Status::Ok();
}

Result<std::string> ValidateEmail(std::string_view email) {
  std::string e(email);
  OUTFLOW_RETURN_IF_ERROR(NormalizeAndValidateEmail(e, "email"));  // the rules contacts' emails follow
  return NormalizeEmail(e);
}

std::string SetupUrl(std::string_view public_url, std::string_view token) {
  return std::string(public_url) + "/setup?token=" + std::string(token);
}

UserAuth::UserAuth(UserStore& store, const Clock& clock, crypto::PasswordHasher& hasher, SessionOptions options)
    : store_(store), clock_(clock), hasher_(hasher), options_(options) {}

std::string UserAuth::CsrfToken(std::string_view session_id) {
  return crypto::Hex(crypto::Sha256("outflow-csrf:" + std::string(session_id)));
}

Duration UserAuth::TouchEvery() const {
  return std::min(options_.touch_every, options_.idle / 10);
}

Result<std::optional<Duration>> UserAuth::AdmitAttempt(const std::string& email, Timestamp now) {
  for (int i = 0; i < kMaxAttemptRaces; ++i) {
    OUTFLOW_ASSIGN_OR_RETURN(LoginFailures stored, store_.GetLoginFailures(email));
    AttemptVerdict v = JudgeAttempt(stored, now, options_.lockout);
    if (v.wait) return v.wait;
    OUTFLOW_ASSIGN_OR_RETURN(bool counted, store_.AdvanceLoginFailures(email, stored.count, v.next));
    if (counted) return std::optional<Duration>();
  }
  return Status::Unavailable("too many logins for this email at once; retry in a moment");
}

Result<LoginResult> UserAuth::Login(std::string_view email_text, std::string_view password) {
  const std::string email = NormalizeEmail(email_text);
  const Timestamp now = clock_.Now();
  MaybeSweep(now);
  OUTFLOW_ASSIGN_OR_RETURN(std::optional<Duration> wait, AdmitAttempt(email, now));
  if (wait) return LoginResult{.outcome = LoginResult::Outcome::kThrottled, .retry_after = *wait};
  Result<User> user = store_.FindUserByEmail(email);
  if (!user.ok() && user.status().code() != Code::kNotFound) return user.status();
  const bool usable = user.ok() && user->has_password() && !user->disabled();
  // The same work for every email: a real hash, or the dummy one.
  OUTFLOW_ASSIGN_OR_RETURN(bool match, hasher_.Verify(usable ? user->password_hash : hasher_.DummyHash(), password));
  if (!usable || !match) return LoginResult{};
  OUTFLOW_RETURN_IF_ERROR(store_.ClearLoginFailures(email));
  return StartSession(*user, now);
}

void UserAuth::MaybeSweep(Timestamp now) {
  int64_t due = next_sweep_us_.load();
  if (ToMicros(now) < due || !next_sweep_us_.compare_exchange_strong(due, ToMicros(now + kSweepEvery))) return;
  Result<int64_t> sessions = store_.PruneSessions(now, now - options_.idle);
  Result<int64_t> failures = store_.PruneLoginFailures(now - kKeepFailures);
  if (!sessions.ok() || !failures.ok()) {
    log::Warn("could not delete ended sessions or old failed logins",
              {{"error", (sessions.ok() ? failures.status() : sessions.status()).ToString()}});
  }
}

Result<LoginResult> UserAuth::StartSession(const User& user, Timestamp now) {
  LoginResult r;
  r.outcome = LoginResult::Outcome::kOk;
  r.session_id = NewSecret();
  r.session.user = user;
  r.session.session = Session{HashSecret(r.session_id), user.id, now, now, now + options_.max};
  r.session.csrf_token = CsrfToken(r.session_id);
  OUTFLOW_RETURN_IF_ERROR(store_.CreateSession(r.session.session));
  Status st = store_.RecordLogin(user.id, now);
  if (!st.ok()) log::Warn("could not record a login", {{"user_id", user.id.value()}, {"error", st.ToString()}});
  return r;
}

Result<SessionUser> UserAuth::Authenticate(std::string_view session_id) {
  if (!IsSecret(session_id)) return Ended("the session cookie is not valid");
  Result<Session> s = store_.FindSession(HashSecret(session_id));
  if (!s.ok()) return s.status().code() == Code::kNotFound ? Ended("the session has ended") : s.status();
  const Timestamp now = clock_.Now();
  const bool over = now >= s->expires_at;
  if (over || now - s->last_seen_at >= options_.idle) {
    Status st = store_.DeleteSession(s->id_hash);
    if (!st.ok()) log::Warn("could not delete an expired session", {{"error", st.ToString()}});
    return Ended(over ? "the session has reached its time limit" : "the session expired after being idle");
  }
  Result<User> user = store_.GetUser(s->user_id);
  if (!user.ok()) return user.status().code() == Code::kNotFound ? Ended("the user no longer exists") : user.status();
  if (user->disabled()) return Ended("the user is disabled");
  if (now - s->last_seen_at >= TouchEvery()) {
    Status st = store_.TouchSession(s->id_hash, now);
    if (!st.ok()) log::Warn("could not record a session's use", {{"error", st.ToString()}});
  }
  return SessionUser{std::move(*user), std::move(*s), CsrfToken(session_id)};
}

Status UserAuth::Logout(const Session& session) {
  return store_.DeleteSession(session.id_hash);
}

Status UserAuth::ChangePassword(const SessionUser& who, std::string_view current, std::string_view next) {
  OUTFLOW_RETURN_IF_ERROR(ValidatePassword(next, "new_password"));
  const Timestamp now = clock_.Now();
  OUTFLOW_ASSIGN_OR_RETURN(std::optional<Duration> wait, AdmitAttempt(who.user.email, now));
  if (wait) {
    return Status::Unavailable("current_password: too many wrong passwords; retry after " +
                               std::to_string(std::chrono::ceil<std::chrono::seconds>(*wait).count()) + " s");
  }
  OUTFLOW_ASSIGN_OR_RETURN(User user, store_.GetUser(who.user.id));
  OUTFLOW_ASSIGN_OR_RETURN(bool match, hasher_.Verify(user.password_hash, current));
  if (!match) return Status::InvalidArgument("current_password: is wrong");
  OUTFLOW_RETURN_IF_ERROR(store_.ClearLoginFailures(user.email));
  OUTFLOW_ASSIGN_OR_RETURN(std::string hash, hasher_.Hash(next));
  return store_.SetPassword(user.id, hash, now, std::string_view(who.session.id_hash));
}

Result<CreatedUser> UserAuth::CreateUser(std::string_view email_text, Role role) {
  OUTFLOW_ASSIGN_OR_RETURN(std::string email, ValidateEmail(email_text));
  OUTFLOW_ASSIGN_OR_RETURN(User user, store_.CreateUser(email, role, clock_.Now()));
  OUTFLOW_ASSIGN_OR_RETURN(SetupLink link, NewSetupLink(user.id));
  return CreatedUser{std::move(user), std::move(link)};
}

Result<SetupLink> UserAuth::NewSetupLink(std::optional<UserId> user) {
  const Timestamp now = clock_.Now();
  SetupLink link{NewSecret(), now + options_.setup_valid};
  OUTFLOW_RETURN_IF_ERROR(store_.CreateSetupToken(SetupToken{HashSecret(link.token), user, now, link.expires_at, {}}));
  return link;
}

Result<SetupToken> UserAuth::CheckSetupToken(std::string_view token) {
  const Status bad = Status::InvalidArgument(
      "token: this setup link is not valid, was used already or has expired; ask an admin for a new one");
  if (!IsSecret(token)) return bad;
  Result<SetupToken> t = store_.FindSetupToken(HashSecret(token));
  if (!t.ok()) return t.status().code() == Code::kNotFound ? bad : t.status();
  if (t->used_at || clock_.Now() >= t->expires_at) return bad;
  return t;
}

Result<User> UserAuth::CompleteSetup(std::string_view token, std::string_view email_text, std::string_view password) {
  OUTFLOW_ASSIGN_OR_RETURN(SetupToken t, CheckSetupToken(token));
  std::string email;
  if (!t.user_id) {
    OUTFLOW_ASSIGN_OR_RETURN(email, ValidateEmail(email_text));
  }
  OUTFLOW_RETURN_IF_ERROR(ValidatePassword(password, "password"));
  OUTFLOW_ASSIGN_OR_RETURN(std::string hash, hasher_.Hash(password));
  Result<User> user = store_.CompleteSetup(t.hash, hash, email, clock_.Now());
  if (user.status().code() == Code::kConflict) return Status::Conflict("email: a user with this email exists");
  return user;
}

Status UserAuth::Unlock(UserId id) {
  OUTFLOW_ASSIGN_OR_RETURN(User user, store_.GetUser(id));
  return store_.ClearLoginFailures(user.email);
}

}  // namespace outflow::auth
