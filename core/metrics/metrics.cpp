#include "metrics/metrics.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace ferry::core::metrics {

namespace {

std::string escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string number(double v) {
  if (std::isinf(v)) {
    return v > 0 ? "+Inf" : "-Inf";
  }
  std::ostringstream os;
  os.precision(15);
  os << v;
  return os.str();
}

void atomicAdd(std::atomic<double>& a, double v) {
  double old = a.load();
  while (!a.compare_exchange_weak(old, old + v)) {
  }
}

std::string withLabel(const std::string& rendered, const std::string& extra) {
  if (rendered.empty()) {
    return "{" + extra + "}";
  }
  return rendered.substr(0, rendered.size() - 1) + "," + extra + "}";
}

}  // namespace

std::string renderLabels(const Labels& labels) {
  if (labels.empty()) {
    return "";
  }
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    out += (first ? "" : ",") + k + "=\"" + escape(v) + "\"";
    first = false;
  }
  return out + "}";
}

void Registry::Counter::add(double v) {
  if (v < 0) {
    throw std::invalid_argument("a counter only goes up");
  }
  atomicAdd(value_, v);
}

Registry::Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<long>[bounds_.size()]) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    buckets_[i] = 0;
  }
}

void Registry::Histogram::observe(double v) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (v <= bounds_[i]) {
      buckets_[i]++;
    }
  }
  count_++;
  atomicAdd(sum_, v);
}

Registry::Family& Registry::family(const std::string& name, const std::string& help,
                                   const std::string& type) {
  auto& f = families_[name];
  if (f.type.empty()) {
    f.type = type;
    f.help = help;
  } else if (f.type != type) {
    throw std::logic_error("metric '" + name + "' is a " + f.type + ", not a " + type);
  }
  return f;
}

Registry::Counter& Registry::counter(const std::string& name, const std::string& help,
                                     const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& f = family(name, help, "counter");
  const auto key = renderLabels(labels);
  auto& slot = f.counters[key];
  if (!slot) {
    slot = std::make_unique<Counter>();
    f.labelSets[key] = labels;
  }
  return *slot;
}

Registry::Gauge& Registry::gauge(const std::string& name, const std::string& help,
                                 const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& f = family(name, help, "gauge");
  const auto key = renderLabels(labels);
  auto& slot = f.gauges[key];
  if (!slot) {
    slot = std::make_unique<Gauge>();
    f.labelSets[key] = labels;
  }
  return *slot;
}

Registry::Histogram& Registry::histogram(const std::string& name, const std::string& help,
                                         const std::vector<double>& bounds,
                                         const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = family(name, help, "histogram").histograms[renderLabels(labels)];
  if (!slot) {
    slot = std::make_unique<Histogram>(bounds);
  }
  return *slot;
}

std::vector<Registry::Sample> Registry::values(const std::string& name) const {
  std::lock_guard lock(mutex_);
  std::vector<Sample> out;
  const auto it = families_.find(name);
  if (it == families_.end()) {
    return out;
  }
  const auto& f = it->second;
  for (const auto& [key, c] : f.counters) {
    out.push_back({f.labelSets.at(key), c->value()});
  }
  for (const auto& [key, g] : f.gauges) {
    out.push_back({f.labelSets.at(key), g->value()});
  }
  return out;
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::ostringstream out;
  for (const auto& [name, f] : families_) {
    out << "# HELP " << name << " " << f.help << "\n# TYPE " << name << " " << f.type << "\n";
    for (const auto& [labels, c] : f.counters) {
      out << name << labels << " " << number(c->value()) << "\n";
    }
    for (const auto& [labels, g] : f.gauges) {
      out << name << labels << " " << number(g->value()) << "\n";
    }
    for (const auto& [labels, h] : f.histograms) {
      for (std::size_t i = 0; i < h->bounds_.size(); ++i) {
        out << name << "_bucket" << withLabel(labels, "le=\"" + number(h->bounds_[i]) + "\"")
            << " " << h->buckets_[i].load() << "\n";
      }
      out << name << "_bucket" << withLabel(labels, "le=\"+Inf\"") << " " << h->count_.load()
          << "\n";
      out << name << "_sum" << labels << " " << number(h->sum_.load()) << "\n";
      out << name << "_count" << labels << " " << h->count_.load() << "\n";
    }
  }
  return out.str();
}

}  // namespace ferry::core::metrics
