#include "catalog/catalog.hpp"

#include <algorithm>
#include <cctype>

namespace ferry::core::catalog {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool schemaMentions(const sdk::Schema& schema, const std::string& word) {
  for (const auto& f : schema) {
    if (lower(f.name).find(word) != std::string::npos ||
        lower(f.description).find(word) != std::string::npos || schemaMentions(f.fields, word)) {
      return true;
    }
  }
  return false;
}

}  // namespace

Catalog::Catalog(std::vector<loader::LoadedPlugin> plugins) : plugins_(std::move(plugins)) {
  for (const auto& p : plugins_) {
    for (const auto& op : p.spec().operations) {
      entries_.push_back(Entry{&p.spec(), &op});
    }
  }
  std::sort(entries_.begin(), entries_.end(),
            [](const Entry& a, const Entry& b) { return a.operation->id < b.operation->id; });
}

const loader::LoadedPlugin* Catalog::plugin(std::string_view connectorId) const {
  for (const auto& p : plugins_) {
    if (p.spec().id == connectorId) {
      return &p;
    }
  }
  return nullptr;
}

Entry Catalog::find(std::string_view operationId) const {
  auto it =
      std::lower_bound(entries_.begin(), entries_.end(), operationId,
                       [](const Entry& e, std::string_view id) { return e.operation->id < id; });
  if (it != entries_.end() && it->operation->id == operationId) {
    return *it;
  }
  return {};
}

std::vector<Entry> Catalog::list(const Filter& filter) const {
  std::vector<Entry> out;
  for (const auto& e : entries_) {
    if (filter.connector && e.connector->id != *filter.connector) {
      continue;
    }
    if (filter.kind && e.operation->kind != *filter.kind) {
      continue;
    }
    if (filter.scope && std::find(e.operation->scopes.begin(), e.operation->scopes.end(),
                                  *filter.scope) == e.operation->scopes.end()) {
      continue;
    }
    out.push_back(e);
  }
  return out;
}

std::vector<Entry> Catalog::search(const std::vector<std::string>& words) const {
  std::vector<std::pair<int, Entry>> scored;
  for (const auto& e : entries_) {
    int score = 0;
    bool all = true;
    for (const auto& raw : words) {
      const auto w = lower(raw);
      int s = 0;
      if (lower(e.operation->id).find(w) != std::string::npos) {
        s = 100;
      } else if (lower(e.operation->summary).find(w) != std::string::npos) {
        s = 30;
      } else if (lower(e.operation->description).find(w) != std::string::npos) {
        s = 10;
      } else if (schemaMentions(e.operation->input, w) || schemaMentions(e.operation->output, w)) {
        s = 5;
      }
      all = all && s > 0;
      score += s;
    }
    if (all && !words.empty()) {
      scored.emplace_back(score, e);
    }
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<Entry> out;
  for (auto& [s, e] : scored) {
    out.push_back(e);
  }
  return out;
}

std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1);
  std::vector<std::size_t> cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    prev[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::vector<std::string> Catalog::closest(std::string_view id, std::size_t n) const {
  std::vector<std::pair<std::size_t, std::string>> ranked;
  for (const auto& e : entries_) {
    ranked.emplace_back(editDistance(id, e.operation->id), e.operation->id);
  }
  std::sort(ranked.begin(), ranked.end());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < ranked.size() && i < n; ++i) {
    out.push_back(ranked[i].second);
  }
  return out;
}

}  // namespace ferry::core::catalog
