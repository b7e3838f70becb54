// Cost of the PII scan on the request path (privacy routing runs it on every request of a
// route with pii_detection on): prompts of 1, 8 and 64 KB of ordinary prose, with and without
// personal data in them.
#include <benchmark/benchmark.h>

#include <string>

#include "routing/pii.h"

namespace {

using rightsize::routing::PiiDetector;

std::string prose(size_t bytes, bool with_pii) {
  static const std::string kPara =
      "Summarise the quarterly report for the board. Revenue grew 12% to 4.2 million in Q3 2024, "
      "orders #1042-1187 shipped on 2024-09-30, and version 2.3.1 of the app went out on time. ";
  std::string s;
  while (s.size() < bytes) s += kPara;
  s.resize(bytes);
  if (with_pii) s.replace(bytes / 2, 60, " write to jane.doe@example.com or call +44 20 7946 0958 now ");
  return s;
}

void BM_PiiScan(benchmark::State& state) {
  auto det = PiiDetector::make();
  if (!det) {
    state.SkipWithError(det.error().message.c_str());
    return;
  }
  const std::string text = prose(static_cast<size_t>(state.range(0)), state.range(1) != 0);
  for (auto _ : state) {
    auto r = (*det)->scan(text);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_PiiScan)->ArgsProduct({{1024, 8192, 65536}, {0, 1}})->ArgNames({"bytes", "pii"});

}  // namespace

BENCHMARK_MAIN();
