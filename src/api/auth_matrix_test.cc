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
      HttpResponse r = Call(op.method, target, credentials);
      const bool allowed = open || RoleAtLeast(role, auth::MinRole(need));
      if (allowed) {
        EXPECT_NE(r.status, 401) << what << " as " << RoleName(role) << ": " << r.body;
        EXPECT_NE(r.status, 403) << what << " as " << RoleName(role) << ": " << r.body;
      } else {
        EXPECT_EQ(r.status, 403) << what << " as " << RoleName(role);
        EXPECT_EQ(ErrorCode(r), "permission_denied") << what;
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

}  // namespace
}  // namespace outflow::api
