#include "metrics/registry.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <type_traits>

#include <fmt/format.h>

namespace rightsize::metrics {
namespace {

bool validMetricName(std::string_view n) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool validLabelName(std::string_view n) {
  if (n.empty() || n.starts_with("__")) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

const char* typeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

// HELP text escapes only backslash and newline (format 0.0.4).
void appendEscapedHelp(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

// `{a="x",b="y"` (no closing brace: histograms append le) or "" without labels.
void appendLabels(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values,
                  std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    appendEscapedLabelValue(out, values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

class CallbackFamily final : public FamilyBase {
 public:
  CallbackFamily(std::string name, std::string help, MetricType type, std::function<double()> read)
      : FamilyBase(std::move(name), std::move(help), type, {}), read_(std::move(read)) {}

 protected:
  void renderSeries(std::string& out) const override {
    out += name_;
    out += ' ';
    out += formatValue(read_ ? read_() : 0.0);
    out += '\n';
  }

 private:
  std::function<double()> read_;
};

}  // namespace

std::string formatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

void appendEscapedLabelValue(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

// ---- Histogram

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), buckets_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds_->size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  if (std::isnan(v)) return;
  // lower_bound: the first bound >= v, so v == bound lands in that bucket (le is inclusive).
  size_t i = static_cast<size_t>(std::lower_bound(bounds_->begin(), bounds_->end(), v) - bounds_->begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative.resize(bounds_->size() + 1);
  uint64_t acc = 0;
  for (size_t i = 0; i <= bounds_->size(); ++i) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = acc;
  }
  // The count is taken from the buckets so `_count` always equals the +Inf bucket, even
  // while other threads observe.
  s.count = acc;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

// ---- Family

void FamilyBase::render(std::string& out) const {
  out += "# HELP ";
  out += name_;
  out += ' ';
  appendEscapedHelp(out, help_);
  out += "\n# TYPE ";
  out += name_;
  out += ' ';
  out += typeName(type_);
  out += '\n';
  renderSeries(out);
}

template <typename M>
M& Family<M>::labels(std::initializer_list<std::string_view> values) {
  return lookup(values.begin(), values.size());
}

template <typename M>
M& Family<M>::labels(const std::vector<std::string_view>& values) {
  return lookup(values.data(), values.size());
}

template <typename M>
M& Family<M>::lookup(const std::string_view* values, size_t n) {
  // Key: each value with its length in front, so ("a,b") and ("a","b") differ. A
  // thread_local buffer keeps the common case free of allocations.
  thread_local std::string key;
  key.clear();
  size_t count = label_names_.size();
  for (size_t i = 0; i < count; ++i) {
    std::string_view v = i < n ? values[i] : std::string_view();
    uint32_t len = static_cast<uint32_t>(v.size());
    key.append(reinterpret_cast<const char*>(&len), sizeof len);
    key.append(v);
  }
  {
    std::shared_lock lk(mu_);
    auto it = series_.find(key);
    if (it != series_.end()) return *it->second.metric;
  }
  std::unique_lock lk(mu_);
  auto [it, inserted] = series_.try_emplace(key);
  if (inserted) {
    for (size_t i = 0; i < count; ++i) it->second.values.emplace_back(i < n ? values[i] : std::string_view());
    if constexpr (std::is_same_v<M, Histogram>) {
      it->second.metric = std::make_unique<Histogram>(&bounds_);
    } else {
      it->second.metric = std::make_unique<M>();
    }
  }
  return *it->second.metric;
}

template <typename M>
void Family<M>::renderSeries(std::string& out) const {
  std::vector<const Series*> sorted;
  {
    std::shared_lock lk(mu_);
    sorted.reserve(series_.size());
    for (const auto& [k, s] : series_) sorted.push_back(&s);
  }
  // Series are never removed, so the pointers stay valid without the lock.
  std::sort(sorted.begin(), sorted.end(), [](const Series* a, const Series* b) { return a->values < b->values; });
  for (const Series* s : sorted) {
    if constexpr (std::is_same_v<M, Histogram>) {
      Histogram::Snapshot snap = s->metric->snapshot();
      for (size_t i = 0; i <= bounds_.size(); ++i) {
        out += name_;
        out += "_bucket";
        std::string le = i < bounds_.size() ? formatValue(bounds_[i]) : "+Inf";
        appendLabels(out, label_names_, s->values, "le", le);
        out += ' ';
        out += fmt::format("{}", snap.cumulative[i]);
        out += '\n';
      }
      out += name_;
      out += "_sum";
      appendLabels(out, label_names_, s->values);
      out += ' ';
      out += formatValue(snap.sum);
      out += '\n';
      out += name_;
      out += "_count";
      appendLabels(out, label_names_, s->values);
      out += ' ';
      out += fmt::format("{}", snap.count);
      out += '\n';
    } else {
      out += name_;
      appendLabels(out, label_names_, s->values);
      out += ' ';
      out += formatValue(s->metric->value());
      out += '\n';
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---- Registry

Result<void> Registry::checkNew(const std::string& name, const std::vector<std::string>& label_names,
                                MetricType type) const {
  if (!name.starts_with("rightsize_") || !validMetricName(name)) {
    return fail(ErrorCode::kInvalidArgument, fmt::format("metric name '{}' is invalid (must start with rightsize_)", name));
  }
  for (const auto& l : label_names) {
    if (!validLabelName(l) || (type == MetricType::kHistogram && l == "le")) {
      return fail(ErrorCode::kInvalidArgument, fmt::format("metric {}: label name '{}' is invalid", name, l));
    }
  }
  for (size_t i = 0; i < label_names.size(); ++i) {
    for (size_t j = i + 1; j < label_names.size(); ++j) {
      if (label_names[i] == label_names[j]) {
        return fail(ErrorCode::kInvalidArgument, fmt::format("metric {}: label '{}' twice", name, label_names[i]));
      }
    }
  }
  for (const auto& f : families_) {
    if (f->name() == name) return fail(ErrorCode::kInvalidArgument, fmt::format("metric {} registered twice", name));
  }
  return {};
}

Result<CounterFamily*> Registry::addCounter(std::string name, std::string help, std::vector<std::string> label_names) {
  std::lock_guard lk(mu_);
  if (auto r = checkNew(name, label_names, MetricType::kCounter); !r) return fail(r.error());
  auto f = std::make_unique<CounterFamily>(std::move(name), std::move(help), MetricType::kCounter, std::move(label_names));
  auto* p = f.get();
  families_.push_back(std::move(f));
  return p;
}

Result<GaugeFamily*> Registry::addGauge(std::string name, std::string help, std::vector<std::string> label_names) {
  std::lock_guard lk(mu_);
  if (auto r = checkNew(name, label_names, MetricType::kGauge); !r) return fail(r.error());
  auto f = std::make_unique<GaugeFamily>(std::move(name), std::move(help), MetricType::kGauge, std::move(label_names));
  auto* p = f.get();
  families_.push_back(std::move(f));
  return p;
}

Result<HistogramFamily*> Registry::addHistogram(std::string name, std::string help,
                                                std::vector<std::string> label_names, std::vector<double> bounds) {
  std::lock_guard lk(mu_);
  if (auto r = checkNew(name, label_names, MetricType::kHistogram); !r) return fail(r.error());
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("histogram {}: bounds must be finite and strictly increasing", name));
    }
  }
  auto f = std::make_unique<HistogramFamily>(std::move(name), std::move(help), MetricType::kHistogram,
                                             std::move(label_names), std::move(bounds));
  auto* p = f.get();
  families_.push_back(std::move(f));
  return p;
}

Result<void> Registry::addCallback(std::string name, std::string help, MetricType type, std::function<double()> read) {
  if (type == MetricType::kHistogram) {
    return fail(ErrorCode::kInvalidArgument, fmt::format("metric {}: a callback is a counter or a gauge", name));
  }
  std::lock_guard lk(mu_);
  if (auto r = checkNew(name, {}, type); !r) return fail(r.error());
  families_.push_back(std::make_unique<CallbackFamily>(std::move(name), std::move(help), type, std::move(read)));
  return {};
}

std::string Registry::render() const {
  std::string out;
  out.reserve(8192);
  std::lock_guard lk(mu_);
  for (const auto& f : families_) f->render(out);
  return out;
}

}  // namespace rightsize::metrics
