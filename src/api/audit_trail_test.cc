// Which API requests are changes, and the audit entry each gets.
#include "api/audit_trail.h"

#include <gtest/gtest.h>

namespace outflow::api {
namespace {

const Timestamp kT0 = FromMicros(1'800'000'000'000'000);

struct Call {
  std::string method, target, body;
  int status = 200;
  std::string response = "{}";
};

std::optional<AuditEntry> Describe(const Call& call) {
  HttpRequest req;
  req.method = call.method;
  req.target = call.target;
  req.body = call.body;
  req.client_address = "10.1.2.3";
  if (!call.body.empty()) req.headers.emplace_back("Content-Length", std::to_string(call.body.size()));
  const std::string path = call.target.substr(0, call.target.find('?'));
  const auth::RouteRule* rule = auth::FindRule(req.method, path);
  EXPECT_NE(rule, nullptr) << call.method << " " << path;
  if (rule == nullptr) return std::nullopt;
  auth::Principal who{.id = ApiKeyId(12), .name = "deploy bot", .role = Role::kAdmin};
  HttpResponse resp{call.status, "application/json", call.response, {}};
  return DescribeChange(ChangeContext{req, path, *rule, who, "req-1", kT0}, resp);
}

TEST(AuditTrail, ACreationNamesTheNewObjectFromTheResponse) {
  auto e = Describe({"POST", "/v1/campaigns", R"({"name":"Spring","segment_id":4,"template_id":2})", 201,
                     R"({"id":41,"name":"Spring"})"});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->action, "campaign.create");
  EXPECT_EQ(e->object_type, "campaign");
  EXPECT_EQ(e->object_id, "41");
  EXPECT_EQ(e->actor, "key:12");
  EXPECT_EQ(e->actor_name, "deploy bot");
  EXPECT_EQ(e->address, "10.1.2.3");
  EXPECT_EQ(e->request_id, "req-1");
  EXPECT_EQ(e->at, kT0);
  EXPECT_EQ(e->summary, R"({"fields":["name","segment_id","template_id"]})");
}

TEST(AuditTrail, AChangeMadeWithASessionNamesTheUser) {
  HttpRequest req;
  req.method = "POST";
  req.target = "/v1/campaigns/7/pause";
  req.client_address = "203.0.113.7";
  const auth::RouteRule* rule = auth::FindRule("POST", "/v1/campaigns/7/pause");
  ASSERT_NE(rule, nullptr);
  auth::Principal who{
      .kind = auth::Principal::Kind::kUser, .user_id = UserId(3), .name = "ann@example.com", .role = Role::kEditor};
  auto e = DescribeChange(ChangeContext{req, "/v1/campaigns/7/pause", *rule, who, "r", kT0},
                          HttpResponse{200, "application/json", "{}", {}});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->actor, "user:3");
  EXPECT_EQ(e->actor_name, "ann@example.com");
  EXPECT_EQ(e->action, "campaign.pause");
}

TEST(AuditTrail, VerbsComeFromTheRoute) {
  EXPECT_EQ(Describe({"POST", "/v1/campaigns/7/cancel"})->action, "campaign.cancel");
  EXPECT_EQ(Describe({"POST", "/v1/campaigns/7/cancel"})->object_id, "7");
  EXPECT_EQ(Describe({"PATCH", "/v1/contacts/9", R"({"email":"a@example.com"})"})->action, "contact.update");
  EXPECT_EQ(Describe({"DELETE", "/v1/keys/3"})->action, "key.delete");
  EXPECT_EQ(Describe({"DELETE", "/v1/suppressions/a@example.com"})->object_id, "a@example.com");
  EXPECT_EQ(Describe({"POST", "/v1/segments/5/members/remove", R"({"contact_ids":[1,2,3]})"})->action,
            "segment.members.remove");
  EXPECT_EQ(Describe({"POST", "/v1/contacts/upsert", R"({"email":"a@example.com"})"})->action, "contact.upsert");
}

TEST(AuditTrail, ACreatedObjectMayBeWrappedInAMemberNamedAfterItsType) {
  auto e = Describe({"POST", "/v1/messages", R"({"account_id":1,"contact_id":2,"template_id":3})", 202,
                     R"({"message":{"id":77,"state":"queued"},"duplicate":false})"});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->action, "message.create");
  EXPECT_EQ(e->object_id, "77");
}

TEST(AuditTrail, ABatchCountsItsItemsAndHasNoSingleObject) {
  auto e = Describe({"POST", "/v1/messages/batch", R"({"messages":[{},{},{}]})", 200, R"({"results":[]})"});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->action, "message.batch");
  EXPECT_EQ(e->object_id, "");
  EXPECT_EQ(e->summary, R"({"fields":["messages"],"items":{"messages":3}})");
}

TEST(AuditTrail, TheSummaryNeverHoldsAValue) {
  auto e = Describe({"POST", "/v1/accounts",
                     R"({"name":"sms","provider":"twilio","credentials":{"auth_token":"s3cr3t-token"}})", 201,
                     R"({"id":2})"});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->summary.find("s3cr3t"), std::string::npos) << e->summary;
  EXPECT_EQ(e->summary.find("auth_token"), std::string::npos) << "nested names are not listed either";
  EXPECT_EQ(e->summary, R"({"fields":["credentials","name","provider"]})");
  auto key = Describe(
      {"POST", "/v1/keys", R"({"name":"ci","role":"editor"})", 201, R"({"id":5,"key":"ofk_abcd_0123456789"})"});
  ASSERT_TRUE(key);
  EXPECT_EQ(key->object_id, "5");
  EXPECT_EQ(key->summary.find("ofk_"), std::string::npos) << "the response is never copied";
}

TEST(AuditTrail, AnUploadIsSummarisedByItsSizeAndQueryNames) {
  HttpRequest req;
  req.method = "POST";
  req.target = "/v1/imports?mapping=email:Email&name=spring";
  req.headers.emplace_back("Content-Length", "1234");
  const auth::RouteRule* rule = auth::FindRule("POST", "/v1/imports");
  ASSERT_NE(rule, nullptr);
  auth::Principal who{.id = ApiKeyId(1), .name = "k", .role = Role::kEditor};
  auto e = DescribeChange(ChangeContext{req, "/v1/imports", *rule, who, "r", kT0},
                          HttpResponse{202, "application/json", R"({"id":8})", {}});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->object_id, "8");
  EXPECT_EQ(e->summary, R"({"query":["mapping","name"],"upload_bytes":"1234"})");
}

TEST(AuditTrail, ReadsFailuresPublicRoutesAndPreviewsAreNotChanges) {
  EXPECT_FALSE(Describe({"GET", "/v1/campaigns/7"}));
  EXPECT_FALSE(Describe({"POST", "/v1/campaigns/7/cancel", "", 409}));
  EXPECT_FALSE(Describe({"POST", "/v1/campaigns", "{}", 400}));
  EXPECT_FALSE(Describe({"POST", "/u/sometoken"}));
  EXPECT_FALSE(Describe({"POST", "/v1/callbacks/twilio/3"}));
  EXPECT_FALSE(Describe({"POST", "/v1/templates/4/preview", "{}"}));
}

TEST(AuditTrail, RequestIdsAreTheClientsWhenUsableElseNew) {
  HttpRequest req;
  req.headers.emplace_back("X-Request-Id", "abc-123_x.y");
  EXPECT_EQ(RequestIdOf(req), "abc-123_x.y");
  req.headers[0].second = "has space";
  std::string made = RequestIdOf(req);
  EXPECT_EQ(made.size(), 16u);
  EXPECT_NE(made, RequestIdOf(req)) << "a new id each time";
  req.headers[0].second = std::string(65, 'a');
  EXPECT_EQ(RequestIdOf(req).size(), 16u) << "too long";
}

}  // namespace
}  // namespace outflow::api
