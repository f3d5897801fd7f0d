#pragma once

#include <string>
#include <string_view>

namespace ferry::core::flow {

// A unified diff (diff -u style: `--- a`, `+++ b`, `@@ -l,n +l,n @@` hunks with `context` lines
// around each change) of two texts, line by line. Empty when the texts are equal. Meant for flow
// files: it compares every line with every line, so it refuses (throws std::length_error) texts
// whose line counts multiply to more than 16 million.
std::string unifiedDiff(std::string_view before, std::string_view after,
                        const std::string& beforeName, const std::string& afterName,
                        int context = 3);

}  // namespace ferry::core::flow
