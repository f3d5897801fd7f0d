#include "ferry/sdk/json.hpp"

#include <gtest/gtest.h>

namespace ferry::sdk {
namespace {

// sdk::member reads what came from outside: a member of another type, out of range or absent,
// and a value that is not an object at all, give the fallback instead of nlohmann's type_error.
TEST(Member, GivesTheMemberOnlyWhenItHasTheAskedType) {
  const Json body = Json::parse(
      R"({"s": "text", "b": true, "i": 42, "neg": -7, "big": 18446744073709551615, "f": 2.5,
          "o": {"x": 1}, "n": null})");
  EXPECT_EQ(member(body, "s", ""), "text");
  EXPECT_EQ(member(body, "missing", "fallback"), "fallback");
  for (const char* key : {"b", "i", "f", "o", "n"}) {
    EXPECT_EQ(member(body, key, "fallback"), "fallback") << key;
  }
  EXPECT_TRUE(member(body, "b", false));
  EXPECT_FALSE(member(body, "s", false));
  EXPECT_FALSE(member(body, "i", false)) << "a number is not a bool";

  EXPECT_EQ(member(body, "i", 0L), 42);
  EXPECT_EQ(member(body, "neg", 0L), -7);
  EXPECT_EQ(member(body, "f", 9L), 9) << "a fraction is not an integer";
  EXPECT_EQ(member(body, "s", 9L), 9);
  EXPECT_EQ(member(body, "big", 9LL), 9) << "out of range for long long";
  EXPECT_EQ(member(body, "big", 9ULL), 18446744073709551615ULL);
  EXPECT_EQ(member(body, "neg", 9U), 9U) << "negative for an unsigned type";
  EXPECT_EQ(member(Json{{"x", 70000}}, "x", std::int16_t{3}), 3) << "out of range for int16";

  EXPECT_DOUBLE_EQ(member(body, "f", 0.0), 2.5);
  EXPECT_DOUBLE_EQ(member(body, "i", 0.0), 42.0);
  EXPECT_DOUBLE_EQ(member(body, "s", 1.5), 1.5);

  EXPECT_EQ(member(body, "o", Json()), (Json{{"x", 1}}));
  EXPECT_EQ(member(body, "missing", Json::array()), Json::array());

  for (const Json& notAnObject : {Json(), Json(3), Json("s"), Json::array({1, 2})}) {
    EXPECT_EQ(member(notAnObject, "s", "fallback"), "fallback") << notAnObject.dump();
    EXPECT_EQ(member(notAnObject, "i", 5), 5) << notAnObject.dump();
  }
}

}  // namespace
}  // namespace ferry::sdk
