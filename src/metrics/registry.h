#pragma once
// A small Prometheus registry: counters, gauges and fixed-bucket histograms with labels,
// rendered in the text exposition format 0.0.4. Debian 12 ships no Prometheus C++ client,
// hence this.
//
// Hot path: a label set is resolved once per call through a hash map behind a
// shared_mutex (readers do not block each other), or once at startup by keeping the
// returned reference, which stays valid for the registry's life. Updates are relaxed
// atomics.

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"

namespace rightsize::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

class Counter {
 public:
  // Adds `v`; negative or NaN increments are ignored (a counter never goes down).
  void inc(double v = 1.0) {
    if (v > 0) value_.fetch_add(v, std::memory_order_relaxed);
  }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  // `bounds`: finite upper bounds, strictly increasing (checked by Registry::addHistogram).
  explicit Histogram(const std::vector<double>* bounds);
  // Counts `v` in the first bucket whose upper bound is >= v (the +Inf bucket past the
  // last). NaN is ignored.
  void observe(double v);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;  // == cumulative.back()
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double>* bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // per bucket, not cumulative; last is +Inf
  std::atomic<double> sum_{0.0};
};

// The series of one metric name, one per label-value tuple.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, MetricType type, std::vector<std::string> label_names)
      : name_(std::move(name)), help_(std::move(help)), type_(type), label_names_(std::move(label_names)) {}
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  MetricType type() const { return type_; }
  // Appends HELP, TYPE and every series.
  void render(std::string& out) const;

 protected:
  virtual void renderSeries(std::string& out) const = 0;
  std::string name_, help_;
  MetricType type_;
  std::vector<std::string> label_names_;
};

template <typename M>
class Family final : public FamilyBase {
 public:
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
         std::vector<double> bounds = {})
      : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)), bounds_(std::move(bounds)) {}

  // The series for these label values, in the order of the label names, created on first
  // use. The reference stays valid for the registry's life. Thread-safe. A wrong number
  // of values is a bug of ours: missing values read as "", extra ones are ignored.
  M& labels(std::initializer_list<std::string_view> values);
  M& labels(const std::vector<std::string_view>& values);
  // The single series of a family without labels.
  M& get() { return labels({}); }

 protected:
  void renderSeries(std::string& out) const override;

 private:
  struct Series {
    std::vector<std::string> values;
    std::unique_ptr<M> metric;
  };
  M& lookup(const std::string_view* values, size_t n);

  std::vector<double> bounds_;  // histograms only
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Series> series_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class Registry {
 public:
  // Registration happens at startup. Each fails (kInvalidArgument) on a name that does
  // not start with "rightsize_" or is not a valid metric name, an invalid or reserved
  // label name ("le" on a histogram, "__" prefix), a duplicate name, or histogram bounds
  // that are not finite and strictly increasing. The returned family lives as long as
  // the registry. Thread-safe.
  Result<CounterFamily*> addCounter(std::string name, std::string help, std::vector<std::string> label_names = {});
  Result<GaugeFamily*> addGauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  Result<HistogramFamily*> addHistogram(std::string name, std::string help, std::vector<std::string> label_names,
                                        std::vector<double> bounds);
  // A label-less counter or gauge whose value is read from `read` at render time (e.g.
  // another subsystem's atomics). `read` must be thread-safe and cheap.
  Result<void> addCallback(std::string name, std::string help, MetricType type, std::function<double()> read);

  // The whole registry in the Prometheus text format 0.0.4 (Content-Type
  // "text/plain; version=0.0.4"), families in registration order, series sorted by label
  // values. Thread-safe; concurrent updates may or may not be included.
  std::string render() const;

 private:
  Result<void> checkNew(const std::string& name, const std::vector<std::string>& label_names, MetricType type) const;

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_;
};

// Text-format helpers, exposed for tests.
// A sample value: shortest round-trip decimal, "+Inf", "-Inf" or "NaN".
std::string formatValue(double v);
// Escapes a label value: backslash, double quote and newline.
void appendEscapedLabelValue(std::string& out, std::string_view v);

}  // namespace rightsize::metrics
