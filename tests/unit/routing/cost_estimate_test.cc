#include "routing/cost_estimate.h"

#include <gtest/gtest.h>

namespace rightsize::routing {
namespace {

config::ModelConfig model(double in, double cached, double write, double out, std::optional<uint32_t> cap = {}) {
  config::ModelConfig m;
  m.name = "m";
  m.prices = Prices{TokenPrice::fromUsdPerMtok(in), TokenPrice::fromUsdPerMtok(cached),
                    TokenPrice::fromUsdPerMtok(write), TokenPrice::fromUsdPerMtok(out)};
  m.max_output_tokens = cap;
  return m;
}

TEST(CostEstimate, OutputIsTheRequestsMaxWithinTheModelsCap) {
  const auto open = model(1, 1, 1, 1);
  EXPECT_EQ(expectedOutputTokens(open, std::nullopt), kTypicalOutputTokens);
  EXPECT_EQ(expectedOutputTokens(open, 4000), 4000);
  const auto capped = model(1, 1, 1, 1, 100);
  EXPECT_EQ(expectedOutputTokens(capped, std::nullopt), 100);  // `route` and the gateway agree here
  EXPECT_EQ(expectedOutputTokens(capped, 50), 50);
  EXPECT_EQ(expectedOutputTokens(capped, -3), 0);
}

TEST(CostEstimate, EstimateIsUncachedInputPlusExpectedOutput) {
  // 1,000 prompt tokens at $2.5 + 256 output at $10 = 2,500 + 2,560 micro-dollars.
  EXPECT_EQ(estimateCost(model(2.5, 1.25, 3.125, 10), 1000, std::nullopt), 5'060'000);
  EXPECT_EQ(estimateCost(model(2.5, 1.25, 3.125, 10, 10), 1000, std::nullopt), 2'600'000);
}

TEST(CostEstimate, OpenAiCachedTokensArePartOfPromptTokens) {
  api::Usage u;
  u.prompt_tokens = 1000;
  u.cached_tokens = 800;
  u.completion_tokens = 100;
  u.reasoning_tokens = 40;
  const TokenCounts t = tokenCounts(u);
  EXPECT_EQ(t.input, 200);
  EXPECT_EQ(t.cached_input, 800);
  EXPECT_EQ(t.cache_write, 0);
  EXPECT_EQ(t.output, 100);  // reasoning is output, priced once
  // gpt-4o-class: $2.5 in, $1.25 cached, $10 out: 500 + 1,000 + 1,000 micro-dollars.
  EXPECT_EQ(callCost(model(2.5, 1.25, 3.125, 10), u), 2'500'000);
  // Billed as 1,000 full-price tokens it would have been 3,500 micro-dollars (40% more).
}

TEST(CostEstimate, AnthropicCacheReadAndCreationEachAtTheirRate) {
  // An Anthropic answer: input_tokens 50, cache_read 900, cache_creation 50 → prompt_tokens 1,000.
  api::Usage u;
  u.prompt_tokens = 1000;
  u.cached_tokens = 900;
  u.cache_write_tokens = 50;
  u.completion_tokens = 20;
  // $3 / $0.30 / $3.75 / $15: 150 + 270 + 187.5 + 300 = 907.5 micro-dollars.
  EXPECT_EQ(callCost(model(3, 0.3, 3.75, 15), u), 907'500);
}

TEST(CostEstimate, InconsistentUsageNeverGoesNegative) {
  api::Usage u;
  u.prompt_tokens = 10;
  u.cached_tokens = 50;  // more cached than prompt: an upstream bug
  const TokenCounts t = tokenCounts(u);
  EXPECT_EQ(t.input, 0);
  EXPECT_EQ(t.cached_input, 50);
}

}  // namespace
}  // namespace rightsize::routing
