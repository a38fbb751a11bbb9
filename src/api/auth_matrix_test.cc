// Every operation of /openapi.json against the route table (auth/route_table.h)
// and the auth gate: with no credentials, a bad key, and each role. A route
// missing from the table fails here by name.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/api_handler.h"
#include "api/test_auth.h"
#include "auth/route_table.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/temp_dir.h"

namespace outflow::api {
namespace {

namespace json = boost::json;
const Timestamp kT0 = FromMicros(1'800'000'000'000'000);
const std::string kBadKey = "Bearer ofk_0123456789abcdef_" + std::string(64, 'a');

// "/v1/contacts/{id}/messages" -> "/v1/contacts/999/messages" (no real object).
std::string Concrete(const std::string& pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '{') {
      out += pattern[i];
      continue;
    }
    out += "999";
    i = pattern.find('}', i);
  }
  return out;
}

struct Operation {
  std::string method, pattern;
};

std::vector<Operation> OpenApiOperations() {
  std::vector<Operation> ops;
  json::value doc = json::parse(OpenApiJson());
  for (const auto& [path, item] : doc.at("paths").as_object()) {
    for (const auto& [method, op] : item.as_object()) {
      std::string m(method);
      if (m == "parameters") continue;
      for (char& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      ops.push_back({m, std::string(path)});
    }
  }
  return ops;
}

class AuthMatrixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteStores::Open(dir_.File("outflow.db"), {}, kT0);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    stores_ = std::move(s).value();
    jobs_ = std::make_unique<JobService>(stores_->jobs(), clock_, handlers_, metrics_, nullptr);
    api_ = std::make_unique<ApiHandler>(*jobs_, metrics_, [] { return true; });
    auth_ = TestAuth::Open(dir_.File("keys.db"), clock_);
    api_->SetAuth(auth_.auth.get());
    api_->SetUsers(auth_.users.get());
  }
  HttpResponse Call(const std::string& method, const std::string& target, const std::string& authorization,
                    const std::string& body = "") {
    HttpRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    if (!authorization.empty()) r.headers.emplace_back("Authorization", authorization);
    return api_->Handle(r);
  }
  // A call as a browser makes it: the session cookie, and the CSRF token unless empty.
  HttpResponse Browse(const std::string& method, const std::string& target, const TestAuth::Session& s,
                      const std::string& body = "", bool csrf = true) {
    HttpRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.headers.emplace_back("Cookie", "theme=dark; " + s.cookie);
    if (csrf) r.headers.emplace_back("X-CSRF-Token", s.csrf);
    return api_->Handle(r);
  }
  static std::string Header(const HttpResponse& r, std::string_view name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }
  static std::string ErrorCode(const HttpResponse& r) {
    return std::string(json::parse(r.body).at("error").at("code").as_string());
  }

  testing::TempDir dir_;
  FakeClock clock_{kT0};
  std::unique_ptr<SqliteStores> stores_;
  HandlerRegistry handlers_;
  EngineMetrics metrics_;
  std::unique_ptr<JobService> jobs_;
  std::unique_ptr<ApiHandler> api_;
  TestAuth auth_;
};

TEST_F(AuthMatrixTest, EveryDocumentedOperationIsInTheRouteTable) {
  std::vector<Operation> ops = OpenApiOperations();
  ASSERT_GT(ops.size(), 50u);
  for (const Operation& op : ops) {
    const auth::RouteRule* rule = auth::FindRule(op.method, Concrete(op.pattern));
    if (rule == nullptr) {
      ADD_FAILURE() << op.method << " " << op.pattern << " is missing from the route table (auth/route_table.cc)";
    } else {
      EXPECT_EQ(rule->pattern, op.pattern) << op.method << " " << op.pattern << " is shadowed by another rule";
    }
  }
}

TEST_F(AuthMatrixTest, NoKeyABadKeyAndEachRole) {
  const std::pair<Role, std::string> roles[] = {
      {Role::kViewer, auth_.viewer}, {Role::kEditor, auth_.editor}, {Role::kAdmin, auth_.admin}};
  for (const Operation& op : OpenApiOperations()) {
    const std::string target = Concrete(op.pattern);
    const std::string what = op.method + " " + op.pattern;
    const auth::Access need = auth::RequiredAccess(op.method, target);
    const bool open = need == auth::Access::kPublic;
    for (const std::string& credentials : {std::string(), kBadKey}) {
      HttpResponse r = Call(op.method, target, credentials);
      if (open) {
        EXPECT_NE(r.status, 401) << what;
        continue;
      }
      EXPECT_EQ(r.status, 401) << what << (credentials.empty() ? " without a key" : " with a bad key");
      EXPECT_EQ(ErrorCode(r), "unauthenticated") << what;
      EXPECT_TRUE(Header(r, "WWW-Authenticate").starts_with("Bearer")) << what;
    }
    for (const auto& [role, credentials] : roles) {
      const bool allowed = open || RoleAtLeast(role, auth::MinRole(need));
      // As a key, and as a logged-in user of the same role (a fresh session each
      // time: DELETE /v1/session ends it).
      for (bool user : {false, true}) {
        HttpResponse r = user ? Browse(op.method, target, auth_.LogIn(role)) : Call(op.method, target, credentials);
        const std::string as = std::string(" as ") + (user ? "user " : "key ") + std::string(RoleName(role));
        if (allowed) {
          EXPECT_NE(r.status, 401) << what << as << ": " << r.body;
          EXPECT_NE(r.status, 403) << what << as << ": " << r.body;
        } else {
          EXPECT_EQ(r.status, 403) << what << as;
          EXPECT_EQ(ErrorCode(r), "permission_denied") << what << as;
        }
      }
    }
  }
}

TEST_F(AuthMatrixTest, AnUndocumentedRouteNeedsAdminAndNoAuthMeansNoAccess) {
  EXPECT_EQ(Call("GET", "/v1/nothing", auth_.viewer).status, 403);
  EXPECT_EQ(Call("GET", "/v1/nothing", auth_.admin).status, 404);
  EXPECT_EQ(Call("PUT", "/v1/jobs", auth_.admin).status, 405);
  ApiHandler unset(*jobs_, metrics_, [] { return true; });
  HttpRequest r;
  r.method = "GET";
  r.target = "/v1/jobs";
  r.headers.emplace_back("Authorization", auth_.admin);
  EXPECT_EQ(unset.Handle(r).status, 401) << "no authenticator: closed, not open";
  r.target = "/healthz";
  EXPECT_EQ(unset.Handle(r).status, 200);
}

TEST_F(AuthMatrixTest, MetricsNeedAKeyUnlessMadePublic) {
  EXPECT_EQ(Call("GET", "/metrics", "").status, 401);
  EXPECT_EQ(Call("GET", "/metrics", auth_.viewer).status, 200);
  api_->SetAuth(auth_.auth.get(), /*metrics_public=*/true);
  EXPECT_EQ(Call("GET", "/metrics", "").status, 200);
  EXPECT_EQ(Call("GET", "/v1/jobs", "").status, 401);
}

TEST_F(AuthMatrixTest, OverTheKeyRateIs429WithRetryAfter) {
  TestAuth slow = TestAuth::Open(dir_.File("slow.db"), clock_, /*key_rate=*/2);
  api_->SetAuth(slow.auth.get());
  EXPECT_EQ(Call("GET", "/v1/jobs", slow.viewer).status, 200);
  EXPECT_EQ(Call("GET", "/v1/jobs", slow.viewer).status, 200);
  HttpResponse r = Call("GET", "/v1/jobs", slow.viewer);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(Header(r, "Retry-After"), "1");
  EXPECT_EQ(ErrorCode(r), "rate_limited");
  EXPECT_EQ(Call("GET", "/v1/jobs", slow.editor).status, 200) << "each key has its own budget";
  clock_.Advance(std::chrono::milliseconds(500));
  EXPECT_EQ(Call("GET", "/v1/jobs", slow.viewer).status, 200);
}

TEST_F(AuthMatrixTest, KeysRoutesCreateOnceListWithoutSecretsAndRevokeAtOnce) {
  EXPECT_EQ(Call("POST", "/v1/keys", auth_.editor, R"({"name":"ci","role":"viewer"})").status, 403);
  HttpResponse made = Call("POST", "/v1/keys", auth_.admin, R"({"name":"ci","role":"viewer","expires_in_days":30})");
  ASSERT_EQ(made.status, 201) << made.body;
  json::value k = json::parse(made.body);
  const std::string key(k.at("key").as_string());
  EXPECT_TRUE(key.starts_with(std::string(k.at("prefix").as_string()) + "_"));
  EXPECT_FALSE(k.at("expires_at").is_null());
  EXPECT_EQ(Call("GET", "/v1/jobs", "Bearer " + key).status, 200);
  HttpResponse list = Call("GET", "/v1/keys", auth_.admin);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.find(key.substr(25)), std::string::npos) << "never the key";
  EXPECT_EQ(list.body.find("hash"), std::string::npos);
  EXPECT_EQ(json::parse(list.body).at("keys").as_array().size(), 4u);
  const std::string id = std::to_string(k.at("id").as_int64());
  HttpResponse revoked = Call("DELETE", "/v1/keys/" + id, auth_.admin);
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_FALSE(json::parse(revoked.body).at("active").as_bool());
  EXPECT_EQ(Call("GET", "/v1/jobs", "Bearer " + key).status, 401) << "refused on the next request";
  EXPECT_EQ(Call("POST", "/v1/keys", auth_.admin, R"({"name":"x","role":"root"})").status, 400);
  EXPECT_EQ(Call("POST", "/v1/keys", auth_.admin, R"({"name":"x"})").status, 400);
  EXPECT_EQ(Call("DELETE", "/v1/keys/999", auth_.admin).status, 404);
}

TEST_F(AuthMatrixTest, CookieChangesNeedTheCsrfTokenAndABearerHeaderWins) {
  const std::string job = R"({"kind":"noop"})";
  TestAuth::Session s = auth_.LogIn(Role::kEditor);
  EXPECT_EQ(Browse("GET", "/v1/jobs", s, "", /*csrf=*/false).status, 200) << "reads need no token";
  HttpResponse refused = Browse("POST", "/v1/jobs", s, job, /*csrf=*/false);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(ErrorCode(refused), "csrf_failed");
  TestAuth::Session forged = s;
  forged.csrf = std::string(64, '0');
  EXPECT_EQ(ErrorCode(Browse("POST", "/v1/jobs", forged, job)), "csrf_failed");
  TestAuth::Session other = auth_.LogIn(Role::kEditor);
  forged.csrf = other.csrf;
  EXPECT_EQ(ErrorCode(Browse("POST", "/v1/jobs", forged, job)), "csrf_failed") << "another session's token";
  HttpResponse sent = Browse("POST", "/v1/jobs", s, job);
  EXPECT_EQ(sent.status, 400) << "let in (the kind is unknown here): " << sent.body;
  EXPECT_EQ(Call("POST", "/v1/jobs", auth_.editor, job).status, 400) << "a key needs no CSRF token";
  HttpRequest both;
  both.method = "POST";
  both.target = "/v1/jobs";
  both.body = job;
  both.headers = {{"Authorization", auth_.viewer}, {"Cookie", s.cookie}, {"X-CSRF-Token", s.csrf}};
  HttpResponse r = api_->Handle(both);
  EXPECT_EQ(r.status, 403) << "the viewer key wins over the editor's cookie";
  EXPECT_EQ(ErrorCode(r), "permission_denied");
}

TEST_F(AuthMatrixTest, LoginWhoAmIAndLogout) {
  HttpResponse login =
      Call("POST", "/v1/session", "", R"({"email":" Viewer@Example.com","password":"test password 123"})");
  ASSERT_EQ(login.status, 200) << login.body;
  const std::string set = Header(login, "Set-Cookie");
  EXPECT_TRUE(set.starts_with("outflow_session=")) << set;
  for (const char* attr : {"; HttpOnly", "; SameSite=Strict", "; Path=/", "; Max-Age=43200"}) {
    EXPECT_NE(set.find(attr), std::string::npos) << attr << " in " << set;
  }
  EXPECT_EQ(set.find("Secure"), std::string::npos) << "not over plain HTTP";
  json::value body = json::parse(login.body);
  TestAuth::Session s{set.substr(0, set.find(';')), std::string(body.at("csrf_token").as_string())};
  EXPECT_EQ(body.at("user").at("email").as_string(), "viewer@example.com");
  EXPECT_EQ(login.body.find("argon2"), std::string::npos) << "never the hash";
  HttpResponse me = Browse("GET", "/v1/session", s, "", false);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(json::parse(me.body).at("csrf_token").as_string(), s.csrf);
  EXPECT_EQ(ErrorCode(Browse("DELETE", "/v1/session", s, "", false)), "csrf_failed");
  HttpResponse out = Browse("DELETE", "/v1/session", s);
  ASSERT_EQ(out.status, 200) << out.body;
  EXPECT_NE(Header(out, "Set-Cookie").find("Max-Age=0"), std::string::npos);
  HttpResponse gone = Browse("GET", "/v1/session", s);
  EXPECT_EQ(gone.status, 401) << "ended server-side: the old cookie is refused";
  EXPECT_NE(Header(gone, "Set-Cookie").find("Max-Age=0"), std::string::npos) << "and cleared";
  HttpRequest tls;
  tls.method = "POST";
  tls.target = "/v1/session";
  tls.body = R"({"email":"viewer@example.com","password":"test password 123"})";
  tls.secure = true;
  EXPECT_NE(Header(api_->Handle(tls), "Set-Cookie").find("; Secure"), std::string::npos);
}

TEST_F(AuthMatrixTest, WrongLoginsLookAlikeAndBadInputNamesTheField) {
  HttpResponse wrong = Call("POST", "/v1/session", "", R"({"email":"viewer@example.com","password":"nope nope nope"})");
  HttpResponse unknown =
      Call("POST", "/v1/session", "", R"({"email":"ghost@example.com","password":"nope nope nope"})");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.body, unknown.body);
  EXPECT_EQ(Header(wrong, "Set-Cookie"), "");
  HttpResponse missing = Call("POST", "/v1/session", "", R"({"email":"viewer@example.com"})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(json::parse(missing.body).at("error").at("field").as_string(), "password");
  HttpResponse huge =
      Call("POST", "/v1/session", "", R"({"email":"a@example.com","password":")" + std::string(1025, 'x') + R"("})");
  EXPECT_EQ(json::parse(huge.body).at("error").at("field").as_string(), "password");
  for (const char* email : {"viewer@example.com", "ghost@example.com"}) {
    for (int i = 0; i < 4; ++i)
      Call("POST", "/v1/session", "", R"({"email":")" + std::string(email) + R"(","password":"x"})");
  }
  HttpResponse slowed = Call("POST", "/v1/session", "", R"({"email":"viewer@example.com","password":"x"})");
  HttpResponse slowed2 = Call("POST", "/v1/session", "", R"({"email":"ghost@example.com","password":"x"})");
  EXPECT_EQ(slowed.status, 429);
  EXPECT_EQ(Header(slowed, "Retry-After"), "1");
  EXPECT_EQ(slowed.body, slowed2.body);
}

TEST_F(AuthMatrixTest, AdminsManageUsersWithOneTimeSetupLinks) {
  api_->SetPublicUrl("https://outflow.example.com");
  EXPECT_EQ(Call("POST", "/v1/users", auth_.editor, R"({"email":"new@example.com","role":"viewer"})").status, 403);
  HttpResponse made = Call("POST", "/v1/users", auth_.admin, R"({"email":"New@example.com","role":"viewer"})");
  ASSERT_EQ(made.status, 201) << made.body;
  json::value u = json::parse(made.body);
  const std::string link(u.at("setup_link").as_string());
  const std::string prefix = "https://outflow.example.com/setup?token=";
  ASSERT_TRUE(link.starts_with(prefix)) << link;
  const std::string token = link.substr(prefix.size());
  EXPECT_FALSE(u.at("password_set").as_bool());
  HttpResponse page = Call("GET", "/setup?token=" + token, "");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<form"), std::string::npos);
  EXPECT_EQ(Header(page, "Referrer-Policy"), "no-referrer");
  HttpResponse shortpw = Call("POST", "/v1/setup", "", R"({"token":")" + token + R"(","password":"short"})");
  EXPECT_EQ(json::parse(shortpw.body).at("error").at("field").as_string(), "password");
  ASSERT_EQ(Call("POST", "/v1/setup", "", R"({"token":")" + token + R"(","password":"a long password"})").status, 200);
  EXPECT_EQ(Call("POST", "/v1/setup", "", R"({"token":")" + token + R"(","password":"a long password"})").status, 400)
      << "once";
  EXPECT_EQ(Call("GET", "/setup?token=" + token, "").status, 410);
  EXPECT_EQ(Call("POST", "/v1/session", "", R"({"email":"new@example.com","password":"a long password"})").status, 200);
  const std::string id = std::to_string(u.at("id").as_int64());
  EXPECT_EQ(Call("PATCH", "/v1/users/" + id, auth_.admin, R"({"role":"root"})").status, 400);
  HttpResponse off = Call("PATCH", "/v1/users/" + id, auth_.admin, R"({"disabled":true})");
  ASSERT_EQ(off.status, 200) << off.body;
  EXPECT_EQ(Call("POST", "/v1/session", "", R"({"email":"new@example.com","password":"a long password"})").status, 401);
  HttpResponse list = Call("GET", "/v1/users", auth_.admin);
  EXPECT_EQ(list.body.find("argon2"), std::string::npos);
  EXPECT_EQ(json::parse(list.body).at("users").as_array().size(), 4u);
  EXPECT_EQ(Call("POST", "/v1/users/" + id + "/setup-link", auth_.admin).status, 201);
  EXPECT_EQ(Call("DELETE", "/v1/users/" + id, auth_.admin).status, 200);
  EXPECT_EQ(Call("GET", "/v1/users/" + id, auth_.admin).status, 404);
  HttpResponse last = Call("PATCH", "/v1/users/1", auth_.admin, R"({"role":"viewer"})");
  EXPECT_EQ(last.status, 409) << "the last admin stays: " << last.body;
}

TEST_F(AuthMatrixTest, ASessionCannotChangeItsPasswordWithoutTheCurrentOne) {
  TestAuth::Session s = auth_.LogIn(Role::kViewer);
  HttpResponse wrong = Browse("POST", "/v1/session/password", s,
                              R"({"current_password":"not it at all","new_password":"another password"})");
  EXPECT_EQ(json::parse(wrong.body).at("error").at("field").as_string(), "current_password");
  HttpResponse ok = Browse("POST", "/v1/session/password", s,
                           R"({"current_password":"test password 123","new_password":"another password"})");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(Call("POST", "/v1/session/password", auth_.viewer,
                 R"({"current_password":"x","new_password":"another password"})")
                .status,
            409)
      << "a key has no password";
}

}  // namespace
}  // namespace outflow::api
