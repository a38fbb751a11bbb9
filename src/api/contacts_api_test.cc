#include "api/api_handler.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/test_auth.h"
#include "store/sqlite/sqlite_store.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace outflow::api {
namespace {

namespace json = boost::json;
const Timestamp kT0 = FromMicros(1'800'000'000'000'000);

class ContactsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteStores::Open(dir_.File("outflow.db"), {}, kT0);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    stores_ = std::move(s).value();
    jobs_ = std::make_unique<JobService>(stores_->jobs(), clock_, handlers_, metrics_, nullptr);
    contacts_ = std::make_unique<ContactService>(stores_->contacts(), clock_);
    api_ = std::make_unique<ApiHandler>(
        *jobs_, metrics_, [] { return true; }, contacts_.get());
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
  static json::value Body(const HttpResponse& r) { return json::parse(r.body); }
  static std::string Message(const HttpResponse& r) {
    return std::string(json::parse(r.body).at("error").at("message").as_string());
  }

  testing::TempDir dir_;
  FakeClock clock_{kT0};
  std::unique_ptr<SqliteStores> stores_;
  HandlerRegistry handlers_;
  EngineMetrics metrics_;
  std::unique_ptr<JobService> jobs_;
  std::unique_ptr<ContactService> contacts_;
  std::unique_ptr<ApiHandler> api_;
  TestAuth auth_;
};

TEST_F(ContactsApiTest, CrudWithCustomFields) {
  ASSERT_EQ(Call("POST", "/v1/fields", R"({"name":"seats","type":"number"})").status, 201);
  ASSERT_EQ(Call("POST", "/v1/fields", R"({"name":"renewal","type":"date","label":"Renewal"})").status, 201);
  HttpResponse r =
      Call("POST", "/v1/contacts",
           R"({"email":"Ann@Example.com","phone":"+1 415 555 0100","custom":{"seats":"12","renewal":"2027-01-31"}})");
  ASSERT_EQ(r.status, 201) << r.body;
  int64_t id = Body(r).at("id").as_int64();
  EXPECT_EQ(Body(r).at("phone").as_string(), "+14155550100");
  EXPECT_EQ(Body(r).at("custom").at("seats").as_int64(), 12);  // text coerced to the field's type
  r = Call("PATCH", "/v1/contacts/" + std::to_string(id), R"({"tier":"pro","custom":{"renewal":null}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("tier").as_string(), "pro");
  EXPECT_FALSE(Body(r).at("custom").as_object().contains("renewal"));
  EXPECT_EQ(Body(r).at("custom").at("seats").as_int64(), 12);
  EXPECT_EQ(Call("GET", "/v1/contacts/" + std::to_string(id)).status, 200);
  EXPECT_EQ(Body(Call("GET", "/v1/contacts/count?tier=pro")).at("count").as_int64(), 1);
  EXPECT_EQ(Call("DELETE", "/v1/contacts/" + std::to_string(id)).status, 204);
  EXPECT_EQ(Call("GET", "/v1/contacts/" + std::to_string(id)).status, 404);
  EXPECT_EQ(Call("PUT", "/v1/contacts/1").status, 405);
}

TEST_F(ContactsApiTest, BadInputNamesTheFieldAndChangesNothing) {
  ASSERT_EQ(Call("POST", "/v1/fields", R"({"name":"seats","type":"number"})").status, 201);
  struct Case {
    std::string method, target, body, text;
    int status;
  };
  for (const Case& c : std::vector<Case>{
           {"POST", "/v1/contacts", R"({"email":"nope"})", "email: 'nope' is not a valid email", 400},
           {"POST", "/v1/contacts", R"({"phone":"12345"})", "phone: '12345' is not an E.164", 400},
           {"POST", "/v1/contacts", R"({"email":"a@b.co","time_zone":"Mars/Base"})", "time_zone", 400},
           {"POST", "/v1/contacts", R"({"email":"a@b.co","custom":{"seats":"many"}})", "custom.seats", 400},
           {"POST", "/v1/contacts", R"({"email":"a@b.co","custom":{"colour":"red"}})", "no custom field 'colour'", 400},
           {"POST", "/v1/contacts", R"({"email":"a@b.co","nickname":"x"})", "nickname: unknown field", 400},
           {"POST", "/v1/contacts", R"({"first_name":"Nobody"})", "needs an email, a phone or an external_id", 400},
           {"POST", "/v1/contacts", R"({"id":7,"email":"a@b.co"})", "id: is set by Outflow", 400},
           {"POST", "/v1/fields", R"({"name":"Bad Name","type":"text"})", "name:", 400},
           {"POST", "/v1/fields", R"({"name":"email","type":"text"})", "standard contact field", 400},
           {"POST", "/v1/fields", R"({"name":"seats","type":"text"})", "already exists with type number", 409},
           {"GET", "/v1/contacts?colour=red", "", "colour: unknown query parameter", 400},
           {"POST", "/v1/contacts/upsert?on_existing=maybe", R"({"email":"a@b.co"})", "on_existing", 400},
       }) {
    HttpResponse r = Call(c.method, c.target, c.body);
    EXPECT_EQ(r.status, c.status) << c.body << " -> " << r.body;
    EXPECT_NE(Message(r).find(c.text), std::string::npos) << Message(r);
  }
  EXPECT_EQ(Body(Call("GET", "/v1/contacts/count")).at("count").as_int64(), 0);
}

TEST_F(ContactsApiTest, UpsertOneAndABatch) {
  HttpResponse r = Call("POST", "/v1/contacts/upsert", R"({"email":"ann@example.com","first_name":"Ann"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r).at("outcome").as_string(), "created");
  r = Call("POST", "/v1/contacts/upsert", R"({"email":"ANN@example.com","last_name":"Lee"})");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Body(r).at("outcome").as_string(), "updated");
  EXPECT_EQ(Body(r).at("contact").at("first_name").as_string(), "Ann");
  r = Call("POST", "/v1/contacts/upsert?on_existing=fail", R"({"email":"ann@example.com"})");
  EXPECT_EQ(r.status, 409);
  r = Call("POST", "/v1/contacts/upsert?on_existing=skip",
           R"({"contacts":[{"email":"ann@example.com","tier":"x"},{"email":"bob@example.com"},{"email":"bad"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  json::value b = Body(r);
  EXPECT_EQ(b.at("counts").at("skipped").as_int64(), 1);
  EXPECT_EQ(b.at("counts").at("created").as_int64(), 1);
  EXPECT_EQ(b.at("counts").at("failed").as_int64(), 1);
  EXPECT_NE(std::string(b.at("results").at(2).at("error").as_string()).find("contacts[2].email"), std::string::npos);
  // A malformed batch (not a validation failure) applies nothing.
  r = Call("POST", "/v1/contacts/upsert", R"({"contacts":[{"email":"c@x.io"},{"email":5}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Body(Call("GET", "/v1/contacts/count")).at("count").as_int64(), 2);
}

}  // namespace
}  // namespace outflow::api
