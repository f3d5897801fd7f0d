#pragma once

// Notes in Umsatz-io are Slate rich-text documents, stored as a JSON string
// (`[{"type":"paragraph","children":[{"text":"Hallo"}]}]`). Flows see plain text in a light
// Markdown form that keeps the structure:
//   - blocks (paragraphs, headings, lists) are separated by one blank line;
//   - a line break inside a paragraph is a single "\n" (a "\n" inside a Slate text leaf);
//   - headings are "# ", "## ", ... ("heading-one" .. "heading-six");
//   - bulleted list items are "- ", numbered list items "1. ", "2. ", ... (one per line).
// fromPlainText(toPlainText(x)) == x for documents made of these elements; marks (bold, ...)
// and unknown element types are flattened to their text.

#include <string>

#include "ferry/sdk/json.hpp"

namespace ferry::plugins::umsatzio {

// Plain text of a Slate document given as a JSON string or a parsed array. A string that is not
// a Slate document is returned unchanged (older notes may be plain text). Never throws.
std::string slateToPlainText(const std::string& slateJson);
std::string slateToPlainText(const sdk::Json& document);

// The Slate document (an array of elements) for plain text in the form above.
sdk::Json plainTextToSlate(const std::string& text);

}  // namespace ferry::plugins::umsatzio
