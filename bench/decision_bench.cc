// Router decision latency: the `learned` policy's decide() for 200 B, 2 KB and 8 KB prompts
// with 11 candidates, as it runs on an io thread. Reports per-call p50/p99 (microseconds) as
// counters next to Google Benchmark's mean. Target (SPEC.md): p99 <= 20 us at 8 KB.
//
//   rs_decision_bench                      # trains a synthetic 11-model router first (~seconds)
//   RIGHTSIZE_BENCH_ROUTER=r.rsr rs_decision_bench   # or uses a router file (>= 11 models used as given)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "routing/learned_policy.h"
#include "routing/router_model.h"
#include "routing/trainer.h"

namespace {

using namespace rightsize;
using namespace rightsize::routing;

constexpr size_t kCandidates = 11;

const char* kWords[] = {"the",     "model",   "answer",  "question", "which",   "following", "energy",  "river",
                        "compute", "integer", "python",  "function", "return",  "list",      "sorted",  "history",
                        "planet",  "solve",   "equation", "because", "explain", "summary",   "translate", "email",
                        "budget",  "invoice", "customer", "policy",  "protein", "theorem",   "proof",   "language"};

std::string makePrompt(size_t bytes, uint64_t seed) {
  std::string s;
  uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
  int line = 0;
  while (s.size() < bytes) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    s += kWords[x % (sizeof(kWords) / sizeof(kWords[0]))];
    if (x % 11 == 0) s += std::to_string(x % 1000);
    s += (++line % 14 == 0) ? "\n" : " ";
    if (x % 97 == 0) s += "A) option one\nB) option two\nAnswer:";
  }
  s.resize(bytes);
  return s;
}

std::shared_ptr<const RouterModel> benchRouter() {
  static std::shared_ptr<const RouterModel> router = [] {
    if (const char* path = std::getenv("RIGHTSIZE_BENCH_ROUTER")) {
      auto r = RouterModel::load(path);
      if (!r) {
        std::fprintf(stderr, "%s\n", r.error().message.c_str());
        std::exit(1);
      }
      return std::make_shared<const RouterModel>(std::move(*r));
    }
    TrainingData d;
    for (size_t m = 0; m < kCandidates; ++m) d.models.push_back("model-" + std::to_string(m));
    for (size_t i = 0; i < 1500; ++i) {
      d.ids.push_back(std::to_string(i));
      d.asks.push_back(makePrompt(100 + (i * 37) % 1500, i));
      for (size_t m = 0; m < kCandidates; ++m) {
        d.score.push_back(static_cast<float>(((i * 31 + m * 17) % 10) < 3 + m / 2 ? 1 : 0));
        d.cost_usd.push_back(static_cast<float>(1e-5 * (m + 1) * (m + 1)));
      }
    }
    TrainOptions o;
    o.folds = 3;
    o.epochs = 4;
    auto r = train(d, o);
    if (!r) {
      std::fprintf(stderr, "%s\n", r.error().message.c_str());
      std::exit(1);
    }
    return std::make_shared<const RouterModel>(std::move(*r));
  }();
  return router;
}

struct Fixture {
  config::Config cfg;
  config::RouteConfig route;
  std::unique_ptr<Policy> policy;
  std::vector<CandidateState> cands;

  Fixture() {
    auto router = benchRouter();
    route.name = "bench";
    route.policy = "learned";
    route.quality = 0.95;
    for (size_t m = 0; m < std::min(kCandidates, router->modelCount()); ++m) {
      config::ModelConfig mc;
      mc.name = router->models[m];
      mc.id = router->models[m];
      mc.provider = "p";
      cfg.models[mc.name] = mc;
      route.candidates.push_back(mc.name);
    }
    auto p = makeLearnedPolicyFromRouter({cfg, route}, router);
    if (!p) {
      std::fprintf(stderr, "%s\n", p.error().message.c_str());
      std::exit(1);
    }
    policy = std::move(*p);
    for (const auto& name : route.candidates) {
      CandidateState c;
      c.model = &cfg.models.at(name);
      c.est_cost = 100 * static_cast<Nanos>(cands.size() + 1);
      cands.push_back(c);
    }
  }
};

void BM_LearnedDecision(benchmark::State& state) {
  static Fixture fx;
  const size_t bytes = static_cast<size_t>(state.range(0));
  std::vector<std::string> prompts;
  for (uint64_t i = 0; i < 16; ++i) prompts.push_back(makePrompt(bytes, 1000 + i));
  std::vector<double> us;
  us.reserve(1 << 20);
  size_t i = 0;
  for (auto _ : state) {
    DecisionInput in;
    in.ask = prompts[i++ % prompts.size()];
    in.candidates = fx.cands;
    const auto t0 = std::chrono::steady_clock::now();
    auto d = fx.policy->decide(in);
    const auto t1 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(d);
    if (us.size() < us.capacity()) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::sort(us.begin(), us.end());
  auto pct = [&](double q) { return us.empty() ? 0.0 : us[std::min(us.size() - 1, static_cast<size_t>(q * us.size()))]; };
  state.counters["p50_us"] = pct(0.50);
  state.counters["p99_us"] = pct(0.99);
  state.counters["max_us"] = us.empty() ? 0.0 : us.back();
  state.counters["candidates"] = static_cast<double>(fx.cands.size());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_LearnedDecision)->Arg(200)->Arg(2048)->Arg(8192)->MinTime(1.0);

void BM_FeatureExtraction(benchmark::State& state) {
  const auto router = benchRouter();
  const std::string prompt = makePrompt(static_cast<size_t>(state.range(0)), 7);
  PromptFeatures f;
  for (auto _ : state) {
    extractFeatures(prompt, router->hash_bits, f);
    benchmark::DoNotOptimize(f.storage.data());
  }
}
BENCHMARK(BM_FeatureExtraction)->Arg(200)->Arg(2048)->Arg(8192);

}  // namespace

BENCHMARK_MAIN();
