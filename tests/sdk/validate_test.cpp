#include "ferry/sdk/validate.hpp"

#include <gtest/gtest.h>

namespace ferry::sdk {
namespace {

const Schema kContact = {
    str("email").require().describe("E-mail"),
    str("status").oneOf({"open", "done"}).describe("Status"),
    integer("age").describe("Age"),
    date("birthday").describe("Birthday"),
    array("tags", str("tag").describe("A tag")).describe("Tags"),
    object("address", {str("city").require().describe("City")}).describe("Address"),
};

TEST(Validate, AcceptsAValidValue) {
  const Json v = {{"email", "a@b.de"},   {"status", "open"},  {"age", 3},
                  {"birthday", "2020-01-02"}, {"tags", {"x", "y"}}, {"address", {{"city", "Köln"}}}};
  EXPECT_TRUE(validate(kContact, v).empty());
}

TEST(Validate, ReportsEveryIssueWithItsPath) {
  const Json v = {{"status", "maybe"}, {"age", "3"},   {"birthday", "02.01.2020"},
                  {"tags", {1}},       {"address", Json::object()}, {"extra", true}};
  const auto issues = validate(kContact, v);
  std::vector<std::string> got;
  for (const auto& i : issues) {
    got.push_back(i.code + ":" + i.path);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"missing:email", "enum:status", "type:age",
                                           "type:birthday", "type:tags[0]",
                                           "missing:address.city", "unknown:extra"}));
}

TEST(Validate, DefaultsFillAbsentFields) {
  const Schema s = {str("channel").defaults("general").describe("c")};
  EXPECT_EQ(applyDefaults(s, Json::object())["channel"], "general");
  EXPECT_EQ(applyDefaults(s, {{"channel", "x"}})["channel"], "x");
}

TEST(Schema, FindsNestedFields) {
  ASSERT_NE(findField(kContact, "address.city"), nullptr);
  ASSERT_NE(findField(kContact, "tags[]"), nullptr);
  EXPECT_EQ(findField(kContact, "address.zip"), nullptr);
}

}  // namespace
}  // namespace ferry::sdk
