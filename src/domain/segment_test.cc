#include "domain/segment.h"

#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace outflow {
namespace {

const Timestamp kNow = FromMicros(1'800'000'000'000'000);  // 2027-01-15

Filter Cond(std::string field, FilterOp op, std::vector<std::string> values = {}) {
  Filter f;
  f.kind = Filter::Kind::kCondition;
  f.condition = {std::move(field), op, std::move(values)};
  return f;
}

Filter Group(Filter::Kind k, std::vector<Filter> children) {
  Filter f;
  f.kind = k;
  f.children = std::move(children);
  return f;
}

Contact Person() {
  Contact c;
  c.email = "Ann@Example.com";
  c.tier = "Pro";
  c.pipeline_stage = "hook";
  c.engagement_score = 62;
  c.custom["seats"] = 12.0;
  c.custom["renewal"] = std::string("2027-03-01");
  c.created_at = kNow - std::chrono::hours(24 * 10);
  return c;
}

TEST(Filter, EveryOperator) {
  Contact c = Person();
  struct Case {
    Filter f;
    bool want;
  };
  for (const Case& k : std::vector<Case>{
           {Cond("tier", FilterOp::kEquals, {"pro"}), true},  // text compares without case
           {Cond("tier", FilterOp::kNotEquals, {"pro"}), false},
           {Cond("email", FilterOp::kEquals, {"ann@example.com"}), true},
           {Cond("email", FilterOp::kContains, {"EXAMPLE"}), true},
           {Cond("email", FilterOp::kStartsWith, {"bob"}), false},
           {Cond("engagement_score", FilterOp::kGreaterThan, {"50"}), true},
           {Cond("engagement_score", FilterOp::kLessThan, {"50"}), false},
           {Cond("seats", FilterOp::kGreaterThan, {"9"}), true},  // numeric, not text ("12" < "9")
           {Cond("tier", FilterOp::kIn, {"free", "pro"}), true},
           {Cond("owner", FilterOp::kEmpty), true},
           {Cond("owner", FilterOp::kNotEmpty), false},
           {Cond("owner", FilterOp::kNotEquals, {"olga"}), true},  // unset is not equal
           {Cond("renewal", FilterOp::kAfter, {"2027-02-01"}), true},
           {Cond("renewal", FilterOp::kBefore, {"2027-02-01"}), false},
           {Cond("created_at", FilterOp::kAfter, {"30 days ago"}), true},
           {Cond("created_at", FilterOp::kBefore, {"7 days ago"}), true},
           {Cond("created_at", FilterOp::kAfter, {"1 week from now"}), false},
       }) {
    EXPECT_EQ(Matches(k.f, c, kNow), k.want) << k.f.condition.field << " " << FilterOpName(k.f.condition.op);
  }
}

TEST(Filter, GroupsAndStagedContacts) {
  Contact c = Person();
  Filter hook_and_pro = Group(Filter::Kind::kAll, {Cond("pipeline_stage", FilterOp::kEquals, {"hook"}),
                                                    Cond("tier", FilterOp::kEquals, {"pro"})});
  Filter either = Group(Filter::Kind::kAny, {Cond("tier", FilterOp::kEquals, {"free"}),
                                             Cond("engagement_score", FilterOp::kGreaterThan, {"50"})});
  EXPECT_TRUE(Matches(hook_and_pro, c, kNow));
  EXPECT_TRUE(Matches(either, c, kNow));
  c.tier = "free";
  EXPECT_FALSE(Matches(hook_and_pro, c, kNow));
  c.status = ContactStatus::kStaged;
  EXPECT_FALSE(Matches(either, c, kNow)) << "staged contacts are in no segment until released";
}

TEST(Filter, ValidationNamesThePath) {
  std::map<std::string, FieldDefinition, std::less<>> defs;
  defs["seats"] = {"seats", FieldType::kNumber, "", {}};
  EXPECT_OK(ValidateFilter(Cond("seats", FilterOp::kGreaterThan, {"1"}), defs));
  Filter bad = Group(Filter::Kind::kAll, {Cond("tier", FilterOp::kEquals, {"x"}), Cond("colour", FilterOp::kEquals, {"red"})});
  EXPECT_NE(ValidateFilter(bad, defs).message().find("filter.all[1].field: unknown field 'colour'"), std::string::npos);
  EXPECT_NE(ValidateFilter(Cond("tier", FilterOp::kEquals), defs).message().find("value: is required"), std::string::npos);
  EXPECT_NE(ValidateFilter(Cond("tier", FilterOp::kEmpty, {"x"}), defs).message().find("takes no value"), std::string::npos);
  EXPECT_NE(ValidateFilter(Cond("created_at", FilterOp::kAfter, {"yesterday-ish"}), defs).message().find("not a date"),
            std::string::npos);
  EXPECT_FALSE(ValidateFilter(Group(Filter::Kind::kAny, {}), defs).ok());
}

TEST(ResolveDate, RelativeAndAbsolute) {
  EXPECT_EQ(ResolveDate("3 days ago", kNow).value(), kNow - std::chrono::hours(72));
  EXPECT_EQ(ResolveDate("2 hours from now", kNow).value(), kNow + std::chrono::hours(2));
  EXPECT_EQ(FormatRfc3339(ResolveDate("today", kNow).value()).substr(11), "00:00:00.000000Z");
  EXPECT_EQ(FormatRfc3339(ResolveDate("2027-01-01", kNow).value()), "2027-01-01T00:00:00.000000Z");
  EXPECT_FALSE(ResolveDate("soon", kNow).ok());
}

}  // namespace
}  // namespace outflow
