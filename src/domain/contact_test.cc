#include "domain/contact.h"

#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace outflow {
namespace {

std::map<std::string, FieldDefinition, std::less<>> Defs() {
  std::map<std::string, FieldDefinition, std::less<>> d;
  d["plan"] = {"plan", FieldType::kText, "Plan", {}};
  d["seats"] = {"seats", FieldType::kNumber, "Seats", {}};
  d["vip"] = {"vip", FieldType::kBoolean, "VIP", {}};
  d["renewal"] = {"renewal", FieldType::kDate, "Renewal", {}};
  d["last_login"] = {"last_login", FieldType::kDatetime, "Last login", {}};
  return d;
}

TEST(Email, AcceptsAndTrims) {
  for (std::string e : {"a@b.co", " Ann.Lee+tag@Example.COM ", "x_y-z@sub.domain.org", "o'brien@ex.ie"}) {
    Status st = NormalizeAndValidateEmail(e, "email");
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  std::string e = "  Ann@Example.com ";
  ASSERT_OK(NormalizeAndValidateEmail(e, "email"));
  EXPECT_EQ(e, "Ann@Example.com");
  EXPECT_EQ(NormalizeEmail(e), "ann@example.com");
}

TEST(Email, RejectsWithReason) {
  struct Case {
    std::string email, why;
  };
  for (const Case& c : std::vector<Case>{{"plainaddress", "no '@'"},
                                         {"@example.com", "1 to 64"},
                                         {"a..b@example.com", "misplaced '.'"},
                                         {"a@localhost", "needs a dot"},
                                         {"a@exa mple.com", "character ' '"},
                                         {"a@-example.com", "starts or ends with '-'"},
                                         {"a@example.123", "numeric"},
                                         {"a b@example.com", "character ' '"}}) {
    std::string e = c.email;
    Status st = NormalizeAndValidateEmail(e, "rows[2].email");
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << c.email;
    EXPECT_NE(st.message().find("rows[2].email: "), std::string::npos);
    EXPECT_NE(st.message().find(c.why), std::string::npos) << st.message();
  }
}

TEST(Phone, NormalisesToE164) {
  std::string p = "+49 (151) 123-45.678";
  ASSERT_OK(NormalizeAndValidatePhone(p, "phone"));
  EXPECT_EQ(p, "+4915112345678");
  p = "0044 20 7946 0958";
  ASSERT_OK(NormalizeAndValidatePhone(p, "phone"));
  EXPECT_EQ(p, "+442079460958");
  for (std::string bad : {"015112345678", "+0123456789", "+12", "+1234567890123456", "+49 151 abc"}) {
    std::string b = bad;
    EXPECT_FALSE(NormalizeAndValidatePhone(b, "phone").ok()) << bad;
  }
}

TEST(TimeZone, UsesTheSystemDatabase) {
  EXPECT_TRUE(TimeZoneExists("Europe/Berlin"));
  EXPECT_TRUE(TimeZoneExists("America/New_York"));
  EXPECT_TRUE(TimeZoneExists("UTC"));
  EXPECT_FALSE(TimeZoneExists("Europe/Atlantis"));
  EXPECT_FALSE(TimeZoneExists("../../etc/passwd"));
  EXPECT_FALSE(TimeZoneExists(""));
  EXPECT_NE(ValidateTimeZone("Mars/Olympus", "time_zone").message().find("not an IANA time zone"), std::string::npos);
}

TEST(Locale, NormalisesBcp47) {
  std::string l = "pt_br";
  ASSERT_OK(NormalizeAndValidateLocale(l, "locale"));
  EXPECT_EQ(l, "pt-BR");
  l = "zh-hans-cn";
  ASSERT_OK(NormalizeAndValidateLocale(l, "locale"));
  EXPECT_EQ(l, "zh-Hans-CN");
  l = "EN";
  ASSERT_OK(NormalizeAndValidateLocale(l, "locale"));
  EXPECT_EQ(l, "en");
  for (std::string bad : {"english", "e", "en-USA1", "en-US-x-y-z"}) {
    std::string b = bad;
    EXPECT_FALSE(NormalizeAndValidateLocale(b, "locale").ok()) << bad;
  }
}

TEST(CustomFields, ParseAndNormaliseByType) {
  auto d = Defs();
  EXPECT_EQ(std::get<double>(ParseFieldValue(d["seats"], " 12.5 ", "seats").value()), 12.5);
  EXPECT_FALSE(ParseFieldValue(d["seats"], "twelve", "seats").ok());
  EXPECT_EQ(std::get<bool>(ParseFieldValue(d["vip"], "Yes", "vip").value()), true);
  EXPECT_FALSE(ParseFieldValue(d["vip"], "maybe", "vip").ok());
  EXPECT_EQ(std::get<std::string>(ParseFieldValue(d["renewal"], "2027-02-28", "renewal").value()), "2027-02-28");
  EXPECT_FALSE(ParseFieldValue(d["renewal"], "2027-02-30", "renewal").ok());
  EXPECT_EQ(std::get<std::string>(ParseFieldValue(d["last_login"], "2026-11-24T10:00:00+01:00", "x").value()),
            "2026-11-24T09:00:00.000000Z");
  EXPECT_NE(ValidateFieldName("Plan", "name").message().find("a-z"), std::string::npos);
  EXPECT_NE(ValidateFieldName("email", "name").message().find("standard"), std::string::npos);
  EXPECT_OK(ValidateFieldName("subscription_tier", "name"));
}

TEST(Contact, ValidatesEveryFieldAndNamesIt) {
  auto d = Defs();
  Contact c;
  c.email = " Ann@Example.com";
  c.phone = "+1 415 555 0100";
  c.time_zone = "America/Los_Angeles";
  c.locale = "en_us";
  c.first_name = "  Ann ";
  c.last_name = "";
  c.custom["seats"] = 3.0;
  ASSERT_OK(NormalizeAndValidateContact(c, d));
  EXPECT_EQ(c.email, "Ann@Example.com");
  EXPECT_EQ(c.phone, "+14155550100");
  EXPECT_EQ(c.locale, "en-US");
  EXPECT_EQ(c.first_name, "Ann");
  EXPECT_FALSE(c.last_name.has_value());  // empty means not set

  Contact wrong_type = c;
  wrong_type.custom["seats"] = std::string("three");
  EXPECT_NE(NormalizeAndValidateContact(wrong_type, d, "rows[4]").message().find("rows[4].custom.seats: must be a number"),
            std::string::npos);
  Contact unknown = c;
  unknown.custom["colour"] = std::string("red");
  EXPECT_NE(NormalizeAndValidateContact(unknown, d).message().find("no custom field 'colour'"), std::string::npos);
  Contact nobody;
  nobody.first_name = "Nameless";
  EXPECT_NE(NormalizeAndValidateContact(nobody, d).message().find("needs an email, a phone or an external_id"),
            std::string::npos);
  Contact bad_utf8 = c;
  bad_utf8.first_name = std::string("An\xC3\x28n");
  EXPECT_NE(NormalizeAndValidateContact(bad_utf8, d).message().find("first_name: not valid UTF-8"), std::string::npos);
}

}  // namespace
}  // namespace outflow
