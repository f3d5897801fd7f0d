#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ferry::core::metrics {

using Labels = std::map<std::string, std::string>;

// A process-wide registry of counters, gauges and histograms rendered in the Prometheus text
// exposition format (version 0.0.4). Thread-safe; updates are lock-free once a series exists.
class Registry {
 public:
  class Counter {
   public:
    void add(double v = 1);
    double value() const { return value_.load(); }

   private:
    std::atomic<double> value_{0};
  };
  class Gauge {
   public:
    void set(double v) { value_.store(v); }
    double value() const { return value_.load(); }

   private:
    std::atomic<double> value_{0};
  };
  class Histogram {
   public:
    explicit Histogram(std::vector<double> bounds);
    void observe(double v);

   private:
    friend class Registry;
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<long>[]> buckets_;
    std::atomic<long> count_{0};
    std::atomic<double> sum_{0};
  };

  // Declares a metric family once (name, help, type); series are created on first use.
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help,
                       const std::vector<double>& bounds, const Labels& labels = {});

  std::string render() const;

  // The current value of every series of a counter or gauge family, with its labels; empty when
  // the family does not exist (yet). For the alert rules (core/alerts).
  struct Sample {
    Labels labels;
    double value = 0;
  };
  std::vector<Sample> values(const std::string& name) const;

 private:
  struct Family {
    std::string help;
    std::string type;
    std::map<std::string, std::unique_ptr<Counter>> counters;  // key: rendered labels
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
    std::map<std::string, Labels> labelSets;  // rendered -> parsed, for values()
  };
  Family& family(const std::string& name, const std::string& help, const std::string& type);

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

// Renders labels as {a="x",b="y"} with Prometheus escaping; empty for no labels.
std::string renderLabels(const Labels& labels);

}  // namespace ferry::core::metrics
