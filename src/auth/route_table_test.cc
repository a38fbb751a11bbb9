#include "auth/route_table.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace outflow::auth {
namespace {

TEST(RouteTable, PatternsMatchWholeSegments) {
  EXPECT_EQ(RequiredAccess("GET", "/healthz"), Access::kPublic);
  EXPECT_EQ(RequiredAccess("HEAD", "/healthz"), Access::kPublic) << "HEAD is GET";
  EXPECT_EQ(RequiredAccess("GET", "/v1/contacts/12"), Access::kViewer);
  EXPECT_EQ(RequiredAccess("PATCH", "/v1/contacts/12"), Access::kEditor);
  EXPECT_EQ(RequiredAccess("POST", "/v1/contacts/upsert"), Access::kEditor);
  EXPECT_EQ(RequiredAccess("GET", "/t/o/5/abc.gif"), Access::kPublic);
  EXPECT_EQ(RequiredAccess("GET", "/v1/callbacks/whatsapp/3"), Access::kPublic);
  EXPECT_EQ(RequiredAccess("GET", "/v1/suppressions"), Access::kViewer);
  EXPECT_EQ(RequiredAccess("GET", "/metrics"), Access::kMetrics);
  EXPECT_EQ(RequiredAccess("POST", "/v1/accounts"), Access::kAdmin);
  EXPECT_EQ(RequiredAccess("DELETE", "/v1/keys/3"), Access::kAdmin);
  EXPECT_EQ(RequiredAccess("POST", "/v1/session"), Access::kPublic) << "login";
  EXPECT_EQ(RequiredAccess("DELETE", "/v1/session"), Access::kViewer) << "logout: any role";
  EXPECT_EQ(RequiredAccess("GET", "/setup"), Access::kPublic);
  EXPECT_EQ(RequiredAccess("POST", "/v1/setup"), Access::kPublic);
  EXPECT_EQ(RequiredAccess("GET", "/v1/users"), Access::kAdmin);
  EXPECT_EQ(RequiredAccess("POST", "/v1/users/3/setup-link"), Access::kAdmin);
}

TEST(RouteTable, AnythingElseNeedsAdmin) {
  EXPECT_EQ(FindRule("GET", "/v1/contacts/"), nullptr) << "an empty parameter matches nothing";
  EXPECT_EQ(FindRule("GET", "/v1/contacts/1/extra/x"), nullptr);
  EXPECT_EQ(FindRule("PUT", "/v1/contacts/1"), nullptr);
  EXPECT_EQ(FindRule("GET", "/healthz/x"), nullptr);
  EXPECT_EQ(FindRule("GET", "/t/o/x"), nullptr);
  EXPECT_EQ(FindRule("GET", "healthz"), nullptr);
  EXPECT_EQ(RequiredAccess("GET", "/nope"), Access::kAdmin);
}

TEST(RouteTable, NoRuleIsListedTwice) {
  std::set<std::string> seen;
  for (const RouteRule& r : RouteTable()) {
    EXPECT_TRUE(seen.insert(std::string(r.method) + " " + std::string(r.pattern)).second) << r.pattern;
  }
}

}  // namespace
}  // namespace outflow::auth
