#include "flow/diagnostic.hpp"

#include <algorithm>
#include <tuple>

namespace ferry::core::flow {

bool isKnownCode(std::string_view code) {
  return std::any_of(std::begin(kErrorCodes), std::end(kErrorCodes),
                     [&](const ErrorCode& c) { return c.code == code; });
}

void sortDiagnostics(std::vector<Diagnostic>& diagnostics) {
  std::stable_sort(
      diagnostics.begin(), diagnostics.end(), [](const Diagnostic& a, const Diagnostic& b) {
        return std::tie(a.file, a.at.line, a.at.column) < std::tie(b.file, b.at.line, b.at.column);
      });
}

std::string formatText(std::span<const Diagnostic> diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) {
    out += d.file;
    if (d.at.line > 0) {
      out += ":" + std::to_string(d.at.line) + ":" + std::to_string(d.at.column);
    }
    out += ": error[" + d.code + "]: " + d.message + "\n";
    if (!d.hint.empty()) {
      out += "hint: " + d.hint + "\n";
    }
  }
  return out;
}

sdk::Json toJson(std::span<const Diagnostic> diagnostics) {
  sdk::Json errors = sdk::Json::array();
  for (const auto& d : diagnostics) {
    errors.push_back({{"file", d.file},
                      {"line", d.at.line},
                      {"column", d.at.column},
                      {"code", d.code},
                      {"message", d.message},
                      {"hint", d.hint}});
  }
  return {{"errors", errors}};
}

}  // namespace ferry::core::flow
