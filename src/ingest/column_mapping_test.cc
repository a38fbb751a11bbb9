#include "ingest/column_mapping.h"

#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace outflow {
namespace {

using Defs = std::map<std::string, FieldDefinition, std::less<>>;

Defs SomeDefs() {
  Defs d;
  d["seats"] = {"seats", FieldType::kNumber, "Seats", {}};
  d["vip"] = {"vip", FieldType::kBoolean, "VIP", {}};
  return d;
}

TEST(ColumnMapping, MatchesNamesAndAliases) {
  std::vector<std::string> header = {"E-mail Address", "First Name", "Surname", "Mobile", "Seats", "Favourite Colour",
                                     "segment_name"};
  ASSERT_OK_AND_ASSIGN(ColumnMapping m, BuildColumnMapping(header, {}, SomeDefs()));
  EXPECT_EQ(m.fields, (std::vector<std::string>{"email", "first_name", "last_name", "phone", "seats", "", "segment_name"}));
  EXPECT_TRUE(m.to_create.empty());
}

TEST(ColumnMapping, ExplicitMappingWinsAndCanIgnore) {
  ImportOptions o;
  o.mapping["Mail"] = "email";
  o.mapping["E-mail Address"] = "";  // ignore the column that would match automatically
  ASSERT_OK_AND_ASSIGN(ColumnMapping m, BuildColumnMapping({"E-mail Address", "Mail"}, o, SomeDefs()));
  EXPECT_EQ(m.fields, (std::vector<std::string>{"", "email"}));
}

TEST(ColumnMapping, CreateFieldsTurnsUnmappedColumnsIntoTextFields) {
  ImportOptions o;
  o.create_fields = true;
  ASSERT_OK_AND_ASSIGN(ColumnMapping m, BuildColumnMapping({"email", "Company Name", "!!!"}, o, SomeDefs()));
  EXPECT_EQ(m.fields[1], "company_name");
  EXPECT_EQ(m.fields[2], "") << "a name that cannot be a field stays ignored";
  ASSERT_EQ(m.to_create.size(), 1u);
  EXPECT_EQ(m.to_create[0].label, "Company Name");
  EXPECT_EQ(m.to_create[0].type, FieldType::kText);
}

TEST(ColumnMapping, ErrorsNameTheColumn) {
  ImportOptions unknown;
  unknown.mapping["email"] = "favourite_colour";
  Status st = BuildColumnMapping({"email"}, unknown, SomeDefs()).status();
  EXPECT_NE(st.message().find("column 1 'email' maps to unknown field 'favourite_colour'"), std::string::npos)
      << st.message();
  ImportOptions missing;
  missing.mapping["Nope"] = "email";
  EXPECT_NE(BuildColumnMapping({"email"}, missing, SomeDefs()).status().message().find("the file has no column 'Nope'"),
            std::string::npos);
  st = BuildColumnMapping({"Email", "E-Mail"}, {}, SomeDefs()).status();
  EXPECT_NE(st.message().find("column 2 'E-Mail' maps to field 'email', which another column already fills"),
            std::string::npos)
      << st.message();
}

TEST(RowToContact, ConvertsByTypeAndReportsTheColumn) {
  std::vector<std::string> header = {"email", "Seats", "VIP", "score", "owner"};
  ASSERT_OK_AND_ASSIGN(ColumnMapping m, BuildColumnMapping(header, {}, SomeDefs()));
  ImportOptions o;
  o.owner = "olga";
  o.staging = true;
  std::vector<std::string_view> row = {"ann@example.com", "12", "yes", "42.5", ""};
  ImportRowError e;
  ASSERT_OK_AND_ASSIGN(Contact c, RowToContact(row, header, m, o, SomeDefs(), e));
  EXPECT_EQ(c.email, "ann@example.com");
  EXPECT_EQ(std::get<double>(c.custom.at("seats")), 12.0);
  EXPECT_EQ(std::get<bool>(c.custom.at("vip")), true);
  EXPECT_EQ(c.engagement_score, 42.5);
  EXPECT_EQ(c.owner, "olga") << "the import's owner fills an empty owner column";
  EXPECT_EQ(c.status, ContactStatus::kStaged);
  std::vector<std::string_view> bad = {"bob@example.com", "many", "yes", "1", "omar"};
  EXPECT_FALSE(RowToContact(bad, header, m, o, SomeDefs(), e).ok());
  EXPECT_EQ(e.column, "Seats");
  EXPECT_EQ(e.value, "many");
}

}  // namespace
}  // namespace outflow
