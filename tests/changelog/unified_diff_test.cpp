#include <gtest/gtest.h>

#include "flow/unified_diff.hpp"

namespace ferry::core::flow {
namespace {

TEST(UnifiedDiff, EqualTextsHaveNoDiff) {
  EXPECT_EQ(unifiedDiff("a\nb\n", "a\nb\n", "x", "y"), "");
  EXPECT_EQ(unifiedDiff("", "", "x", "y"), "");
}

TEST(UnifiedDiff, OneChangedLineWithContext) {
  const std::string a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
  const std::string b = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
  EXPECT_EQ(unifiedDiff(a, b, "a.yaml", "b.yaml"),
            "--- a.yaml\n+++ b.yaml\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
}

TEST(UnifiedDiff, DistantChangesMakeTwoHunksAndNearOnesOne) {
  std::string a;
  for (int i = 1; i <= 20; ++i) {
    a += std::to_string(i) + "\n";
  }
  std::string b = a;
  b.replace(b.find("2\n"), 2, "two\n");
  b.replace(b.find("18\n"), 3, "");
  EXPECT_EQ(unifiedDiff(a, b, "a", "b"),
            "--- a\n+++ b\n@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n"
            "@@ -15,6 +15,5 @@\n 15\n 16\n 17\n-18\n 19\n 20\n");
  std::string c = a;
  c.replace(c.find("5\n"), 2, "five\n");
  const auto d = unifiedDiff(b, c, "b", "c");
  EXPECT_NE(d.find("@@ -1,"), std::string::npos) << d;
}

TEST(UnifiedDiff, AddedToAnEmptyFileAndLastLineWithoutNewline) {
  EXPECT_EQ(unifiedDiff("", "x\ny", "a", "b"), "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+x\n+y\n");
  EXPECT_EQ(unifiedDiff("x\n", "", "a", "b"), "--- a\n+++ b\n@@ -1 +0,0 @@\n-x\n");
}

}  // namespace
}  // namespace ferry::core::flow
