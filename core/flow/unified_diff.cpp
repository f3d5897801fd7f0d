#include "flow/unified_diff.hpp"

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace ferry::core::flow {

namespace {

std::vector<std::string_view> lines(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    if (end == std::string_view::npos) {
      out.push_back(text.substr(start));
      break;
    }
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

struct Op {
  char kind;       // ' ', '-', '+'
  std::size_t a;   // line index in before (for ' ' and '-')
  std::size_t b;   // line index in after (for ' ' and '+')
};

// The edit script of a longest common subsequence, in order.
std::vector<Op> script(const std::vector<std::string_view>& a,
                       const std::vector<std::string_view>& b) {
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  if (n * m > 16'000'000) {
    throw std::length_error("the files are too large to compare");
  }
  // lcs[i][j]: the LCS length of a[i..] and b[j..].
  std::vector<std::uint32_t> lcs((n + 1) * (m + 1), 0);
  auto at = [&](std::size_t i, std::size_t j) -> std::uint32_t& { return lcs[i * (m + 1) + j]; };
  for (std::size_t i = n; i-- > 0;) {
    for (std::size_t j = m; j-- > 0;) {
      at(i, j) = a[i] == b[j] ? at(i + 1, j + 1) + 1 : std::max(at(i + 1, j), at(i, j + 1));
    }
  }
  std::vector<Op> ops;
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      ops.push_back({' ', i++, j++});
    } else if (i < n && (j == m || at(i + 1, j) >= at(i, j + 1))) {
      ops.push_back({'-', i++, j});  // deletions first, as diff -u prints them
    } else {
      ops.push_back({'+', i, j++});
    }
  }
  return ops;
}

std::string range(std::size_t start, std::size_t count) {
  // diff -u: a range of 0 lines names the line before it.
  const std::size_t first = count == 0 ? start : start + 1;
  return std::to_string(first) + (count == 1 ? "" : "," + std::to_string(count));
}

}  // namespace

std::string unifiedDiff(std::string_view before, std::string_view after,
                        const std::string& beforeName, const std::string& afterName,
                        int context) {
  const auto a = lines(before);
  const auto b = lines(after);
  const auto ops = script(a, b);
  const auto ctx = static_cast<std::size_t>(std::max(context, 0));
  std::string out;
  std::size_t k = 0;
  while (k < ops.size()) {
    // The next change, and the hunk around it: changes closer than 2*context lines join it.
    while (k < ops.size() && ops[k].kind == ' ') {
      ++k;
    }
    if (k == ops.size()) {
      break;
    }
    std::size_t begin = k >= ctx ? k - ctx : 0;
    std::size_t end = k;
    std::size_t equalRun = 0;
    for (std::size_t x = k; x < ops.size(); ++x) {
      if (ops[x].kind == ' ') {
        if (++equalRun > 2 * ctx) {
          break;
        }
      } else {
        equalRun = 0;
        end = x + 1;
      }
    }
    end = std::min(ops.size(), end + ctx);
    std::size_t aStart = ops[begin].a;
    std::size_t bStart = ops[begin].b;
    std::size_t aCount = 0;
    std::size_t bCount = 0;
    std::string body;
    for (std::size_t x = begin; x < end; ++x) {
      const auto& op = ops[x];
      const auto text = op.kind == '+' ? b[op.b] : a[op.a];
      body += op.kind;
      body += text;
      body += '\n';
      aCount += op.kind != '+' ? 1 : 0;
      bCount += op.kind != '-' ? 1 : 0;
    }
    if (out.empty()) {
      out = "--- " + beforeName + "\n+++ " + afterName + "\n";
    }
    out += "@@ -" + range(aStart, aCount) + " +" + range(bStart, bCount) + " @@\n" + body;
    k = end;
  }
  return out;
}

}  // namespace ferry::core::flow
