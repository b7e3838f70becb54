#include "routing/cost_estimate.h"

#include <algorithm>

namespace rightsize::routing {

int64_t expectedOutputTokens(const config::ModelConfig& m, std::optional<int64_t> requested_max) {
  int64_t out = requested_max.value_or(kTypicalOutputTokens);
  if (m.max_output_tokens) out = std::min<int64_t>(out, *m.max_output_tokens);
  return std::max<int64_t>(out, 0);
}

Nanos estimateCost(const config::ModelConfig& m, int64_t prompt_tokens, std::optional<int64_t> requested_max) {
  return cost(m.prices, TokenCounts{prompt_tokens, 0, 0, expectedOutputTokens(m, requested_max)});
}

TokenCounts tokenCounts(const api::Usage& u) {
  TokenCounts t;
  t.cached_input = std::max<int64_t>(u.cached_tokens, 0);
  t.cache_write = std::max<int64_t>(u.cache_write_tokens, 0);
  t.input = std::max<int64_t>(u.prompt_tokens - t.cached_input - t.cache_write, 0);
  t.output = std::max<int64_t>(u.completion_tokens, 0);
  return t;
}

}  // namespace rightsize::routing
