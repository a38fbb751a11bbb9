#include "api/users_api.h"

#include <boost/url/params_view.hpp>
#include <boost/url/parse_query.hpp>

#include <algorithm>
#include <map>
#include <vector>

#include "api/http_util.h"
#include "api/job_json.h"

namespace outflow::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kUsers = "/v1/users";

// The string fields of a JSON object body: each of `known` may be given, each of
// `required` must be; anything else is a 400 naming it.
Result<std::map<std::string, std::string>> StringFields(const std::string& body,
                                                        const std::vector<std::string_view>& known,
                                                        const std::vector<std::string_view>& required) {
  OUTFLOW_ASSIGN_OR_RETURN(json::value v, ParseJsonBody(body));
  const json::object* o = v.if_object();
  if (o == nullptr) return Status::InvalidArgument("body: must be a JSON object");
  std::map<std::string, std::string> out;
  std::string names;
  for (std::string_view k : known) names += (names.empty() ? "" : ", ") + std::string(k);
  for (const auto& [k, val] : *o) {
    if (std::find(known.begin(), known.end(), std::string_view(k)) == known.end()) {
      return Status::InvalidArgument(std::string(k) + ": unknown field (known: " + names + ")");
    }
    if (!val.is_string()) return Status::InvalidArgument(std::string(k) + ": must be a string");
    out[std::string(k)] = std::string(val.as_string());
  }
  for (std::string_view k : required) {
    if (!out.contains(std::string(k))) return Status::InvalidArgument(std::string(k) + ": is required");
  }
  return out;
}

Result<Role> RoleField(const std::string& text) {
  std::optional<Role> role = ParseRole(text);
  if (!role) return Status::InvalidArgument("role: must be viewer, editor or admin");
  return *role;
}

HttpResponse TooManyFailures(Duration wait) {
  const int64_t seconds = std::max<int64_t>(1, std::chrono::ceil<std::chrono::seconds>(wait).count());
  json::object body{{"error", json::object{{"code", "rate_limited"},
                                           {"message", "too many failed logins for this email; retry after " +
                                                           std::to_string(seconds) + " s"}}}};
  HttpResponse r = JsonResponse(429, body);
  r.headers.emplace_back("Retry-After", std::to_string(seconds));
  return r;
}

HttpResponse WrongCredentials() {
  return JsonResponse(401, json::object{{"error", json::object{{"code", "unauthenticated"},
                                                               {"message", "the email or password is wrong"}}}});
}

json::object SessionJson(const auth::SessionUser& s) {
  return json::object{{"kind", "user"},
                      {"user", UserToJson(s.user)},
                      {"role", RoleName(s.user.role)},
                      {"csrf_token", s.csrf_token},
                      {"expires_at", FormatRfc3339(s.session.expires_at)}};
}

HttpResponse NoSession() {
  return ErrorResponse(Status::FailedPrecondition(
      "this request came with an API key, not a session: only a logged-in user has a session and a password"));
}

std::string SetupPageHtml(std::string_view token, bool first_run) {
  std::string email = first_run ? "<p><label>Your email<br><input name=\"email\" type=\"email\" required "
                                  "autocomplete=\"username\"></label></p>"
                                : "";
  return HtmlPage(
      "Outflow: set your password",
      std::string("<h1>Set your password</h1>") + (first_run ? "<p>You are the first admin of this Outflow.</p>" : "") +
          "<form id=\"f\">" + email +
          "<p><label>Password (10 to 1024 bytes)<br><input name=\"password\" type=\"password\" minlength=\"10\" "
          "maxlength=\"1024\" required autocomplete=\"new-password\"></label></p>"
          "<p><button>Set password</button></p></form><p id=\"msg\" role=\"status\"></p><script>"
          "document.getElementById('f').onsubmit=async function(e){e.preventDefault();"
          "var d=Object.fromEntries(new FormData(e.target));d.token='" +
          std::string(token) +
          "';var r=await fetch('/v1/setup',{method:'POST',headers:{'Content-Type':'application/json'},"
          "body:JSON.stringify(d)});var j=await r.json();document.getElementById('msg').textContent=r.ok?"
          "'Done: log in as '+j.user.email+'.':j.error.message;if(r.ok)e.target.remove();};</script>");
}

HttpResponse Page(int status, std::string html) {
  HttpResponse r{status, "text/html; charset=utf-8", std::move(html), {}};
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");  // the token is in the URL
  r.headers.emplace_back("X-Frame-Options", "DENY");
  return r;
}

}  // namespace

json::object UserToJson(const User& u) {
  return json::object{{"id", u.id.value()},
                      {"email", u.email},
                      {"role", RoleName(u.role)},
                      {"created_at", FormatRfc3339(u.created_at)},
                      {"updated_at", FormatRfc3339(u.updated_at)},
                      {"disabled", u.disabled()},
                      {"disabled_at", OptTime(u.disabled_at)},
                      {"password_set", u.has_password()},
                      {"password_set_at", OptTime(u.password_set_at)},
                      {"last_login_at", OptTime(u.last_login_at)}};
}

void UsersApi::SetPublicUrl(std::string url) {
  std::lock_guard lock(mu_);
  public_url_ = std::move(url);
}

std::string UsersApi::public_url() const {
  std::lock_guard lock(mu_);
  return public_url_;
}

std::optional<HttpResponse> UsersApi::Route(const HttpRequest& req, std::string_view path, std::string_view query,
                                            const Admission& who) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  if (path == "/v1/session") {
    if (req.method == "POST") return Login(req);
    if (get) return WhoAmI(who);
    if (req.method == "DELETE") return Logout(req, who);
    return MethodNotAllowed("GET, POST, DELETE");
  }
  if (path == "/v1/session/password") return req.method == "POST" ? ChangePassword(req, who) : MethodNotAllowed("POST");
  if (path == "/setup") return get ? SetupPage(query) : MethodNotAllowed("GET");
  if (path == "/v1/setup") return req.method == "POST" ? Setup(req) : MethodNotAllowed("POST");
  if (path == kUsers || path.starts_with(std::string(kUsers) + "/")) return UsersRoute(req, path.substr(kUsers.size()));
  return std::nullopt;
}

HttpResponse UsersApi::Login(const HttpRequest& req) {
  auto f = StringFields(req.body, {"email", "password"}, {"email", "password"});
  if (!f.ok()) return ErrorResponse(f.status());
  const std::string& password = f->at("password");
  if (password.size() > auth::kMaxPasswordBytes) {
    return ErrorResponse(Status::InvalidArgument("password: at most 1024 bytes"));
  }
  Result<auth::LoginResult> r = users_.Login(f->at("email"), password);
  if (!r.ok()) return ErrorResponse(r.status());
  if (r->outcome == auth::LoginResult::Outcome::kThrottled) return TooManyFailures(r->retry_after);
  if (r->outcome == auth::LoginResult::Outcome::kWrong) return WrongCredentials();
  HttpResponse resp = JsonResponse(200, SessionJson(r->session));
  resp.headers.emplace_back("Set-Cookie", SessionCookie(r->session_id, users_.options().max, req.secure));
  resp.headers.emplace_back("Cache-Control", "no-store");
  return resp;
}

HttpResponse UsersApi::WhoAmI(const Admission& who) {
  if (who.session) return JsonResponse(200, SessionJson(*who.session));
  if (!who.principal) return ErrorResponse(Status::Unauthenticated("no credentials"));
  return JsonResponse(200, json::object{{"kind", "api_key"},
                                        {"key_id", who.principal->id.value()},
                                        {"name", who.principal->name},
                                        {"role", RoleName(who.principal->role)}});
}

HttpResponse UsersApi::Logout(const HttpRequest& req, const Admission& who) {
  if (!who.session) return NoSession();
  Status st = users_.Logout(who.session->session);
  if (!st.ok()) return ErrorResponse(st);
  HttpResponse resp = JsonResponse(200, json::object{{"ended", true}});
  resp.headers.emplace_back("Set-Cookie", SessionCookie("", Duration::zero(), req.secure));
  return resp;
}

HttpResponse UsersApi::ChangePassword(const HttpRequest& req, const Admission& who) {
  if (!who.session) return NoSession();
  auto f = StringFields(req.body, {"current_password", "new_password"}, {"current_password", "new_password"});
  if (!f.ok()) return ErrorResponse(f.status());
  Status st = users_.ChangePassword(*who.session, f->at("current_password"), f->at("new_password"));
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, json::object{{"changed", true}});
}

HttpResponse UsersApi::UsersRoute(const HttpRequest& req, std::string_view rest) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  if (rest.empty()) {
    if (req.method == "POST") return Create(req);
    return get ? List() : MethodNotAllowed("GET, POST");
  }
  rest.remove_prefix(1);
  const size_t slash = rest.find('/');
  Result<int64_t> id = ParsePositiveId(rest.substr(0, slash), "user id");
  if (!id.ok()) return ErrorResponse(id.status());
  const UserId uid(*id);
  const std::string_view action = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  if (action.empty()) {
    if (get) {
      Result<User> u = users_.store().GetUser(uid);
      return u.ok() ? JsonResponse(200, UserToJson(*u)) : ErrorResponse(u.status());
    }
    if (req.method == "PATCH") return Change(req, uid);
    if (req.method == "DELETE") return Delete(uid);
    return MethodNotAllowed("GET, PATCH, DELETE");
  }
  if (action == "setup-link") return req.method == "POST" ? NewLink(uid) : MethodNotAllowed("POST");
  if (action == "unlock") return req.method == "POST" ? Unlock(uid) : MethodNotAllowed("POST");
  return ErrorResponse(Status::NotFound("no route for " + req.method + " " + req.target));
}

HttpResponse UsersApi::Create(const HttpRequest& req) {
  auto f = StringFields(req.body, {"email", "role"}, {"email", "role"});
  if (!f.ok()) return ErrorResponse(f.status());
  Result<Role> role = RoleField(f->at("role"));
  if (!role.ok()) return ErrorResponse(role.status());
  Result<auth::CreatedUser> made = users_.CreateUser(f->at("email"), *role);
  if (!made.ok()) return ErrorResponse(made.status());
  json::object out = UserToJson(made->user);
  out["setup_link"] = auth::SetupUrl(public_url(), made->link.token);
  out["setup_expires_at"] = FormatRfc3339(made->link.expires_at);
  return JsonResponse(201, out);
}

HttpResponse UsersApi::List() {
  Result<std::vector<User>> all = users_.store().ListUsers();
  if (!all.ok()) return ErrorResponse(all.status());
  json::array arr;
  for (const User& u : *all) arr.push_back(UserToJson(u));
  return JsonResponse(200, json::object{{"users", std::move(arr)}});
}

HttpResponse UsersApi::Change(const HttpRequest& req, UserId id) {
  Result<json::value> body = ParseJsonBody(req.body);
  if (!body.ok()) return ErrorResponse(body.status());
  const json::object* o = body->if_object();
  if (o == nullptr) return ErrorResponse(Status::InvalidArgument("body: must be a JSON object"));
  UserChange change;
  for (const auto& [k, v] : *o) {
    if (k == "role" && v.is_string()) {
      Result<Role> role = RoleField(std::string(v.as_string()));
      if (!role.ok()) return ErrorResponse(role.status());
      change.role = *role;
    } else if (k == "disabled" && v.is_bool()) {
      change.disabled = v.as_bool();
    } else if (k == "role" || k == "disabled") {
      return ErrorResponse(Status::InvalidArgument(std::string(k) + ": has the wrong type"));
    } else {
      return ErrorResponse(Status::InvalidArgument(std::string(k) + ": unknown field (known: role, disabled)"));
    }
  }
  Result<User> u = users_.store().UpdateUser(id, change, users_.clock().Now());
  return u.ok() ? JsonResponse(200, UserToJson(*u)) : ErrorResponse(u.status());
}

HttpResponse UsersApi::Delete(UserId id) {
  Status st = users_.store().DeleteUser(id);
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, json::object{{"id", id.value()}, {"deleted", true}});
}

HttpResponse UsersApi::NewLink(UserId id) {
  Result<auth::SetupLink> link = users_.NewSetupLink(id);
  if (!link.ok()) return ErrorResponse(link.status());
  return JsonResponse(201, json::object{{"setup_link", auth::SetupUrl(public_url(), link->token)},
                                        {"expires_at", FormatRfc3339(link->expires_at)}});
}

HttpResponse UsersApi::Unlock(UserId id) {
  Status st = users_.Unlock(id);
  if (!st.ok()) return ErrorResponse(st);
  Result<User> u = users_.store().GetUser(id);
  return u.ok() ? JsonResponse(200, UserToJson(*u)) : ErrorResponse(u.status());
}

HttpResponse UsersApi::SetupPage(std::string_view query) {
  std::string token;
  if (boost::urls::parse_query(query)) {
    for (const boost::urls::param& p : boost::urls::params_view(query)) {
      if (p.key == "token") token = p.value;
    }
  }
  Result<SetupToken> t = users_.CheckSetupToken(token);
  if (!t.ok()) {
    const int status = t.status().code() == Code::kInvalidArgument ? 410 : 503;
    return Page(status, HtmlPage("Outflow: setup link",
                                 "<h1>This link cannot be used</h1><p>It is not valid, was "
                                 "used already or has expired (links last one hour). Ask an "
                                 "admin for a new one.</p>"));
  }
  return Page(200, SetupPageHtml(token, !t->user_id.has_value()));
}

HttpResponse UsersApi::Setup(const HttpRequest& req) {
  auto f = StringFields(req.body, {"token", "password", "email"}, {"token", "password"});
  if (!f.ok()) return ErrorResponse(f.status());
  const std::string email = f->contains("email") ? f->at("email") : "";
  Result<User> u = users_.CompleteSetup(f->at("token"), email, f->at("password"));
  if (!u.ok()) return ErrorResponse(u.status());
  return JsonResponse(200, json::object{{"user", UserToJson(*u)}});
}

}  // namespace outflow::api
