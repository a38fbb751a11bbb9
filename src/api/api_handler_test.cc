#include "api/api_handler.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/test_auth.h"
#include "store/sqlite/sqlite_job_store.h"
#include "testing/fault_injection_store.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace outflow::api {
namespace {

namespace json = boost::json;
using Op = testing::FaultInjectionStore::Op;

const Timestamp kT0 = FromMicros(1'800'000'000'000'000);

class ApiHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteJobStore::Open(dir_.File("outflow.db"), kT0);
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
    faults_ = std::make_unique<testing::FaultInjectionStore>(*store_);
    handlers_.Register("noop",
                       std::make_shared<FunctionHandler>("nothing", [](const Job&) { return RunResult::Done(); }));
    service_ = std::make_unique<JobService>(*faults_, clock_, handlers_, metrics_, nullptr);
    api_ = std::make_unique<ApiHandler>(*service_, metrics_, [this] { return ready_; });
    auth_ = TestAuth::Open(dir_.File("keys.db"), clock_);
    api_->SetAuth(auth_.auth.get());
  }
  HttpResponse Call(std::string method, std::string target, std::string body = "") {
    HttpRequest r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.body = std::move(body);
    r.headers.emplace_back("Authorization", auth_.admin);  // routing, not roles, is tested here
    return api_->Handle(r);
  }
  json::value Body(const HttpResponse& r) { return json::parse(r.body); }
  int64_t Count() {
    auto c = store_->CountByState();
    int64_t n = 0;
    for (auto v : *c) n += v;
    return n;
  }

  testing::TempDir dir_;
  FakeClock clock_{kT0};
  std::unique_ptr<SqliteJobStore> store_;
  std::unique_ptr<testing::FaultInjectionStore> faults_;
  HandlerRegistry handlers_;
  EngineMetrics metrics_;
  std::unique_ptr<JobService> service_;
  std::unique_ptr<ApiHandler> api_;
  TestAuth auth_;
  bool ready_ = true;
};

TEST_F(ApiHandlerTest, EnqueueGetCancel) {
  HttpResponse r = Call("POST", "/v1/jobs", R"({"kind":"noop","due_at":"2030-01-01T00:00:00Z","idempotency_key":"a"})");
  ASSERT_EQ(r.status, 201) << r.body;
  int64_t id = Body(r).at("id").as_int64();
  EXPECT_EQ(Body(r).at("state").as_string(), "ready");
  r = Call("POST", "/v1/jobs", R"({"kind":"noop","idempotency_key":"a"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Body(r).at("id").as_int64(), id);
  r = Call("GET", "/v1/jobs/" + std::to_string(id));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Body(r).at("due_at").as_string(), "2030-01-01T00:00:00.000000Z");
  r = Call("POST", "/v1/jobs/" + std::to_string(id) + "/cancel");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Body(r).at("state").as_string(), "cancelled");
  r = Call("POST", "/v1/jobs/" + std::to_string(id) + "/cancel");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Body(r).at("error").at("code").as_string(), "conflict");
  EXPECT_EQ(Call("GET", "/v1/jobs/999").status, 404);
  EXPECT_EQ(Call("GET", "/v1/jobs/abc").status, 400);
  EXPECT_EQ(Call("DELETE", "/v1/jobs/1").status, 405);
  EXPECT_EQ(Call("GET", "/v2/nothing").status, 404);
}

TEST_F(ApiHandlerTest, BadInputIs400NamingTheFieldAndAppliesNothing) {
  struct Case {
    std::string target, body, field_or_text;
  };
  std::string many = R"({"jobs":[)";
  for (int i = 0; i < 10001; ++i) many += std::string(i ? "," : "") + R"({"kind":"noop"})";
  many += "]}";
  for (const Case& c : std::vector<Case>{
           {"/v1/jobs", "{not json", "not valid JSON"},
           {"/v1/jobs", R"({"kind":"nope"})", "unknown kind 'nope'"},
           {"/v1/jobs", R"({"kind":"noop","when":"now"})", "when: unknown field"},
           {"/v1/jobs", R"({"kind":"noop","idempotency_key":")" + std::string(256, 'k') + R"("})", "idempotency_key"},
           {"/v1/jobs/batch", R"({"jobs":[]})", "the batch is empty"},
           {"/v1/jobs/batch", many, "over the limit of 10000"},
           {"/v1/jobs/batch", R"({"jobs":[{"kind":"noop"},{"kind":"noop","due_at":"2026-02-30T00:00:00Z"}]})",
            "jobs[1].due_at"},
           {"/v1/jobs/batch", R"({"jobs":[{"kind":"noop"},{"kind":"noop"},{"kind":"bad kind"}]})", "jobs[2].kind"},
       }) {
    HttpResponse r = Call("POST", c.target, c.body);
    EXPECT_EQ(r.status, 400) << c.body.substr(0, 80);
    json::value b = Body(r);
    EXPECT_EQ(b.at("error").at("code").as_string(), "invalid_argument");
    EXPECT_NE(std::string(b.at("error").at("message").as_string()).find(c.field_or_text), std::string::npos)
        << b.at("error").at("message").as_string();
  }
  EXPECT_EQ(Count(), 0);  // nothing of any rejected batch was applied
  HttpResponse r = Call("POST", "/v1/jobs/batch", R"({"jobs":[{"kind":"noop"},{"kind":"noop","due_at":"x"}]})");
  EXPECT_EQ(Body(r).at("error").at("field").as_string(), "jobs[1].due_at");
}

TEST_F(ApiHandlerTest, BatchEnqueueAndListWithPaging) {
  std::string body = R"({"jobs":[)";
  for (int i = 0; i < 25; ++i) {
    body += std::string(i ? "," : "") + R"({"kind":"noop","due_at":"2030-01-01T00:00:)" + (i < 10 ? "0" : "") +
            std::to_string(i) + R"(Z"})";
  }
  body += "]}";
  HttpResponse r = Call("POST", "/v1/jobs/batch", body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("created").as_int64(), 25);
  std::vector<int64_t> ids;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    r = Call("GET", "/v1/jobs?state=ready&kind=noop&limit=10" + after);
    ASSERT_EQ(r.status, 200) << r.body;
    json::value b = Body(r);
    for (auto& j : b.at("jobs").as_array()) ids.push_back(j.at("id").as_int64());
    if (b.at("next_after").is_null()) break;
    after = "&after=" + std::to_string(b.at("next_after").as_int64());
  }
  EXPECT_EQ(ids.size(), 25u);
  r = Call("GET", "/v1/jobs");  // no query string at all
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("jobs").as_array().size(), 25u);
  r = Call("GET", "/v1/jobs?due_from=2030-01-01T00:00:10Z&due_until=2030-01-01T00:00:20Z");
  EXPECT_EQ(Body(r).at("jobs").as_array().size(), 10u);
  EXPECT_EQ(Call("GET", "/v1/jobs?state=running").status, 400);
  EXPECT_EQ(Call("GET", "/v1/jobs?limit=0").status, 400);
  EXPECT_EQ(Call("GET", "/v1/jobs?limit=abc").status, 400);
  EXPECT_EQ(Call("GET", "/v1/jobs?colour=red").status, 400);
  EXPECT_EQ(Call("GET", "/v1/jobs?due_from=yesterday").status, 400);
}

TEST_F(ApiHandlerTest, UnavailableDatabaseIs503WithRetryAfter) {
  faults_->FailNext(Op::kEnqueue);
  HttpResponse r = Call("POST", "/v1/jobs", R"({"kind":"noop"})");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Body(r).at("error").at("code").as_string(), "unavailable");
  bool retry_after = false;
  for (auto& [k, v] : r.headers) retry_after |= k == "Retry-After";
  EXPECT_TRUE(retry_after);
  EXPECT_EQ(Call("POST", "/v1/jobs", R"({"kind":"noop"})").status, 201);  // and then it works
}

TEST_F(ApiHandlerTest, HealthReadinessMetricsOpenApi) {
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
  EXPECT_EQ(Call("GET", "/readyz").status, 200);
  ready_ = false;
  EXPECT_EQ(Call("GET", "/readyz").status, 503);
  ASSERT_EQ(Call("POST", "/v1/jobs", R"({"kind":"noop"})").status, 201);
  HttpResponse m = Call("GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("outflow_jobs{state=\"ready\"} 1\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("outflow_jobs_enqueued_total 1\n"), std::string::npos);
  EXPECT_NE(m.body.find("outflow_job_start_lateness_seconds_bucket{le=\"+Inf\"} 0\n"), std::string::npos);
  HttpResponse o = Call("GET", "/openapi.json");
  EXPECT_EQ(o.status, 200);
  EXPECT_EQ(json::parse(o.body).at("openapi").as_string(), "3.0.3");
  HttpResponse k = Call("GET", "/v1/kinds");
  EXPECT_EQ(Body(k).at("kinds").as_array().size(), 1u);
}

}  // namespace
}  // namespace outflow::api
