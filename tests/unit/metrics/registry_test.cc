#include "metrics/registry.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "metrics/gateway_metrics.h"

namespace rightsize::metrics {
namespace {

// A strict reader of the Prometheus text format 0.0.4, enough to check what render()
// produces: every line is a HELP, a TYPE or a sample; a sample belongs to the family of
// the TYPE line before it (histograms: name_bucket/_sum/_count); label values are
// unescaped; values parse as Go floats would.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};
struct Exposition {
  std::map<std::string, std::string> types;  // family -> type
  std::map<std::string, std::string> help;
  std::vector<Sample> samples;
  std::string error;  // first problem found, "" when the text is valid

  // The value of the one sample with this name and these labels (NaN if absent).
  double value(const std::string& name, const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& s : samples) {
      if (s.name == name && s.labels == labels) return s.value;
    }
    return std::nan("");
  }
};

bool isNameChar(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (!first && c >= '0' && c <= '9');
}

Exposition parseExposition(const std::string& text) {
  Exposition e;
  if (!text.empty() && text.back() != '\n') {
    e.error = "does not end with a newline";
    return e;
  }
  std::istringstream in(text);
  std::string line, family;
  int n = 0;
  auto bad = [&](const std::string& why) {
    if (e.error.empty()) e.error = "line " + std::to_string(n) + ": " + why + ": " + line;
  };
  while (std::getline(in, line)) {
    ++n;
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      std::string rest = line.substr(7);
      auto sp = rest.find(' ');
      if (sp == std::string::npos) { bad("no text"); continue; }
      std::string name = rest.substr(0, sp), arg = rest.substr(sp + 1);
      if (line[2] == 'T') {
        if (e.types.count(name)) bad("second TYPE");
        if (arg != "counter" && arg != "gauge" && arg != "histogram") bad("unknown type");
        e.types[name] = arg;
        family = name;
      } else {
        e.help[name] = arg;
      }
      continue;
    }
    if (line.empty() || line[0] == '#') { bad("stray line"); continue; }
    Sample s;
    size_t i = 0;
    while (i < line.size() && isNameChar(line[i], i == 0)) ++i;
    s.name = line.substr(0, i);
    if (s.name.empty()) { bad("no metric name"); continue; }
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t start = i;
        while (i < line.size() && isNameChar(line[i], i == start) && line[i] != ':') ++i;
        std::string lname = line.substr(start, i - start);
        if (lname.empty() || i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') { bad("bad label"); break; }
        i += 2;
        std::string v;
        bool closed = false;
        while (i < line.size()) {
          char c = line[i++];
          if (c == '"') { closed = true; break; }
          if (c == '\\') {
            if (i >= line.size()) break;
            char x = line[i++];
            if (x == '\\') v += '\\';
            else if (x == '"') v += '"';
            else if (x == 'n') v += '\n';
            else { bad("bad escape"); break; }
          } else {
            v += c;
          }
        }
        if (!closed) { bad("unterminated label value"); break; }
        if (s.labels.count(lname)) bad("label twice");
        s.labels[lname] = v;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size() || line[i] != '}') { bad("labels not closed"); continue; }
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') { bad("no space before value"); continue; }
    std::string v = line.substr(i + 1);
    if (v == "+Inf") s.value = INFINITY;
    else if (v == "-Inf") s.value = -INFINITY;
    else if (v == "NaN") s.value = NAN;
    else {
      char* end = nullptr;
      s.value = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || v.find_first_of("iInN") != std::string::npos) { bad("bad value"); continue; }
    }
    std::string base = s.name;
    if (e.types[family] == "histogram") {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        if (base.ends_with(suffix)) {
          base.resize(base.size() - std::strlen(suffix));
          break;
        }
      }
      if (s.name.ends_with("_bucket") && !s.labels.count("le")) bad("bucket without le");
    }
    if (base != family) bad("sample outside its family");
    if (!s.name.starts_with("rightsize_")) bad("name without rightsize_ prefix");
    e.samples.push_back(std::move(s));
  }
  return e;
}

TEST(Registry, RendersCountersAndGaugesThatAStrictParserReads) {
  Registry r;
  auto* c = r.addCounter("rightsize_things_total", "Things.\nSecond line with a \\ backslash.", {"kind"}).value();
  auto* g = r.addGauge("rightsize_temperature", "Degrees.").value();
  c->labels({"a"}).inc();
  c->labels({"b"}).inc(2.5);
  c->labels({"a"}).inc(3);
  g->get().set(-1.5);
  std::string text = r.render();
  Exposition e = parseExposition(text);
  ASSERT_EQ(e.error, "") << text;
  EXPECT_EQ(e.types["rightsize_things_total"], "counter");
  EXPECT_EQ(e.types["rightsize_temperature"], "gauge");
  EXPECT_EQ(e.help["rightsize_things_total"], "Things.\\nSecond line with a \\\\ backslash.");
  EXPECT_EQ(e.value("rightsize_things_total", {{"kind", "a"}}), 4);
  EXPECT_EQ(e.value("rightsize_things_total", {{"kind", "b"}}), 2.5);
  EXPECT_EQ(e.value("rightsize_temperature"), -1.5);
  EXPECT_EQ(e.samples.size(), 3u);
}

TEST(Registry, EscapesBackslashQuoteAndNewlineInLabelValues) {
  Registry r;
  auto* c = r.addCounter("rightsize_x_total", "x", {"v"}).value();
  const std::string nasty = "a\\b\"c\nd}e,f=g";
  c->labels({nasty}).inc();
  std::string text = r.render();
  EXPECT_NE(text.find(R"(rightsize_x_total{v="a\\b\"c\nd}e,f=g"} 1)"), std::string::npos) << text;
  Exposition e = parseExposition(text);
  ASSERT_EQ(e.error, "") << text;
  EXPECT_EQ(e.value("rightsize_x_total", {{"v", nasty}}), 1);
}

TEST(Registry, KeepsLabelTuplesThatJoinToTheSameTextApart) {
  Registry r;
  auto* c = r.addCounter("rightsize_pairs_total", "p", {"a", "b"}).value();
  c->labels({"x,", "y"}).inc();
  c->labels({"x", ",y"}).inc(10);
  EXPECT_EQ(c->labels({"x,", "y"}).value(), 1);
  EXPECT_EQ(c->labels({"x", ",y"}).value(), 10);
}

TEST(Registry, HistogramBucketsAreCumulativeAndCountEqualsInfBucket) {
  Registry r;
  auto* h = r.addHistogram("rightsize_latency_seconds", "l", {"route"}, {1, 2, 5}).value();
  for (double v : {0.5, 1.0, 1.5, 3.0, 10.0}) h->labels({"chat"}).observe(v);
  Exposition e = parseExposition(r.render());
  ASSERT_EQ(e.error, "");
  auto bucket = [&](const char* le) { return e.value("rightsize_latency_seconds_bucket", {{"route", "chat"}, {"le", le}}); };
  EXPECT_EQ(bucket("1"), 2) << "le is inclusive: 1.0 lands in le=1";
  EXPECT_EQ(bucket("2"), 3);
  EXPECT_EQ(bucket("5"), 4);
  EXPECT_EQ(bucket("+Inf"), 5);
  EXPECT_EQ(e.value("rightsize_latency_seconds_count", {{"route", "chat"}}), 5);
  EXPECT_EQ(e.value("rightsize_latency_seconds_sum", {{"route", "chat"}}), 16);
  EXPECT_EQ(e.types["rightsize_latency_seconds"], "histogram");
}

TEST(Registry, RejectsBadNamesLabelsBoundsAndDuplicates) {
  Registry r;
  EXPECT_FALSE(r.addCounter("requests_total", "no prefix"));
  EXPECT_FALSE(r.addCounter("rightsize_bad-name", "dash"));
  EXPECT_FALSE(r.addCounter("rightsize_ok_total", "bad label", {"1abc"}));
  EXPECT_FALSE(r.addCounter("rightsize_ok_total", "reserved label", {"__name"}));
  EXPECT_FALSE(r.addCounter("rightsize_ok_total", "label twice", {"a", "a"}));
  EXPECT_FALSE(r.addHistogram("rightsize_h", "le is reserved", {"le"}, {1}));
  EXPECT_FALSE(r.addHistogram("rightsize_h", "not increasing", {}, {1, 1}));
  EXPECT_FALSE(r.addHistogram("rightsize_h", "not finite", {}, {1, INFINITY}));
  ASSERT_TRUE(r.addCounter("rightsize_ok_total", "fine", {"a"}));
  EXPECT_FALSE(r.addGauge("rightsize_ok_total", "duplicate"));
  EXPECT_FALSE(r.addCallback("rightsize_cb", "no histogram callbacks", MetricType::kHistogram, [] { return 1.0; }));
}

TEST(Registry, CounterIgnoresNegativeIncrements) {
  Registry r;
  auto& c = r.addCounter("rightsize_n_total", "n").value()->get();
  c.inc(2);
  c.inc(-5);
  EXPECT_EQ(c.value(), 2);
}

TEST(Registry, CallbackMetricsAreReadAtRenderTime) {
  Registry r;
  double depth = 3;
  ASSERT_TRUE(r.addCallback("rightsize_depth", "d", MetricType::kGauge, [&depth] { return depth; }));
  EXPECT_EQ(parseExposition(r.render()).value("rightsize_depth"), 3);
  depth = 7;
  EXPECT_EQ(parseExposition(r.render()).value("rightsize_depth"), 7);
}

TEST(Registry, FormatsSpecialAndSmallValuesAsGoParsesThem) {
  EXPECT_EQ(formatValue(INFINITY), "+Inf");
  EXPECT_EQ(formatValue(-INFINITY), "-Inf");
  EXPECT_EQ(formatValue(NAN), "NaN");
  EXPECT_EQ(formatValue(3), "3");
  EXPECT_EQ(std::strtod(formatValue(1e-6).c_str(), nullptr), 1e-6);
  EXPECT_EQ(std::strtod(formatValue(0.1 + 0.2).c_str(), nullptr), 0.1 + 0.2);
}

TEST(Registry, CountsEveryIncrementFromManyThreads) {
  Registry r;
  auto* c = r.addCounter("rightsize_hits_total", "h", {"t"}).value();
  auto* h = r.addHistogram("rightsize_obs_seconds", "o", {}, {0.5}).value();
  constexpr int kThreads = 8, kPer = 50'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string own = "t" + std::to_string(t);
      for (int i = 0; i < kPer; ++i) {
        c->labels({"shared"}).inc();
        c->labels({own}).inc();  // series created while others read the map
        h->get().observe(i % 2 ? 0.25 : 1.0);
      }
    });
  }
  for (auto& th : threads) th.join();
  Exposition e = parseExposition(r.render());
  ASSERT_EQ(e.error, "");
  EXPECT_EQ(e.value("rightsize_hits_total", {{"t", "shared"}}), kThreads * kPer);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(e.value("rightsize_hits_total", {{"t", "t" + std::to_string(t)}}), kPer);
  EXPECT_EQ(e.value("rightsize_obs_seconds_count"), kThreads * kPer);
  EXPECT_EQ(e.value("rightsize_obs_seconds_bucket", {{"le", "0.5"}}), kThreads * kPer / 2);
}

TEST(GatewayMetrics, RegistersEveryMetricTheSpecNames) {
  Registry r;
  GatewayMetrics::LedgerProbe probe;
  probe.queue_depth = [] { return 12.0; };
  probe.spilled = [] { return 3.0; };
  auto m = GatewayMetrics::create(r, probe);
  ASSERT_TRUE(m) << m.error().message;
  (*m)->recordRequest({.route = "chat", .model = "llama", .status = 200, .cost = 1'500,
                       .reference_cost = 30'000, .tokens_in = 100, .tokens_out = 20, .cached_tokens = 60,
                       .reasoning_tokens = 5, .usage_estimated = true,
                       .duration = std::chrono::milliseconds(120), .ttft = std::chrono::milliseconds(40),
                       .decision = std::chrono::microseconds(7)});
  (*m)->fallbacks->labels({"chat"}).inc();
  (*m)->retries->labels({"openai"}).inc();
  (*m)->upstream_errors->labels({"openai", "timeout"}).inc();
  (*m)->setCircuitState("openai", CircuitGaugeValue::kOpen);
  std::string text = r.render();
  Exposition e = parseExposition(text);
  ASSERT_EQ(e.error, "") << text;
  for (const char* family :
       {"rightsize_requests_total", "rightsize_cost_usd_total", "rightsize_reference_cost_usd_total",
        "rightsize_tokens_total", "rightsize_request_duration_seconds", "rightsize_time_to_first_token_seconds",
        "rightsize_routing_decision_seconds", "rightsize_fallbacks_total", "rightsize_retries_total",
        "rightsize_upstream_errors_total", "rightsize_circuit_state", "rightsize_ledger_queue_depth",
        "rightsize_ledger_spilled_total", "rightsize_ledger_written_total"}) {
    EXPECT_TRUE(e.types.count(family)) << family;
  }
  EXPECT_EQ(e.value("rightsize_requests_total", {{"route", "chat"}, {"model", "llama"}, {"status", "200"}}), 1);
  EXPECT_DOUBLE_EQ(e.value("rightsize_cost_usd_total", {{"route", "chat"}, {"model", "llama"}}), 1.5e-6);
  EXPECT_DOUBLE_EQ(e.value("rightsize_reference_cost_usd_total", {{"route", "chat"}, {"model", "llama"}}), 30e-6);
  EXPECT_EQ(e.value("rightsize_tokens_total", {{"model", "llama"}, {"direction", "in"}}), 100);
  EXPECT_EQ(e.value("rightsize_tokens_total", {{"model", "llama"}, {"direction", "out"}}), 20);
  EXPECT_EQ(e.value("rightsize_tokens_total", {{"model", "llama"}, {"direction", "cached_in"}}), 60);
  EXPECT_EQ(e.value("rightsize_tokens_total", {{"model", "llama"}, {"direction", "reasoning"}}), 5);
  EXPECT_EQ(e.value("rightsize_usage_estimated_total", {{"model", "llama"}}), 1);
  EXPECT_EQ(e.value("rightsize_request_duration_seconds_bucket", {{"route", "chat"}, {"le", "0.1"}}), 0);
  EXPECT_EQ(e.value("rightsize_request_duration_seconds_bucket", {{"route", "chat"}, {"le", "0.25"}}), 1);
  EXPECT_EQ(e.value("rightsize_time_to_first_token_seconds_count", {{"route", "chat"}}), 1);
  EXPECT_EQ(e.value("rightsize_routing_decision_seconds_bucket", {{"route", "chat"}, {"le", "1e-05"}}), 1);
  EXPECT_EQ(e.value("rightsize_circuit_state", {{"provider", "openai"}}), 2);
  EXPECT_EQ(e.value("rightsize_ledger_queue_depth"), 12);
  EXPECT_EQ(e.value("rightsize_ledger_spilled_total"), 3);
  EXPECT_EQ(e.value("rightsize_ledger_written_total"), 0) << "an unset probe reads 0";
}

TEST(GatewayMetrics, SkipsTtftAndDecisionWhenTheyDidNotHappen) {
  Registry r;
  auto m = GatewayMetrics::create(r).value();
  m->recordRequest({.route = "chat", .model = "", .status = 503});
  Exposition e = parseExposition(r.render());
  ASSERT_EQ(e.error, "");
  EXPECT_EQ(e.value("rightsize_requests_total", {{"route", "chat"}, {"model", ""}, {"status", "503"}}), 1);
  EXPECT_TRUE(std::isnan(e.value("rightsize_time_to_first_token_seconds_count", {{"route", "chat"}})));
  EXPECT_TRUE(std::isnan(e.value("rightsize_routing_decision_seconds_count", {{"route", "chat"}})));
  EXPECT_EQ(e.value("rightsize_request_duration_seconds_count", {{"route", "chat"}}), 1);
}

TEST(GatewayMetrics, RefusesToRegisterTwiceInOneRegistry) {
  Registry r;
  ASSERT_TRUE(GatewayMetrics::create(r));
  EXPECT_FALSE(GatewayMetrics::create(r));
}

}  // namespace
}  // namespace rightsize::metrics
