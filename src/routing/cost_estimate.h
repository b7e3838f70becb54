#pragma once
// What a call costs: before it is made (the estimate routing, `max_cost_usd`, budgets and
// `rightsize route` use) and after (from the answer's usage). The one place that turns a
// model's prices and token counts into money (common/money.h `cost`).

#include <cstdint>
#include <optional>

#include "api/chat_response.h"
#include "common/money.h"
#include "config/config.h"

namespace rightsize::routing {

// Output tokens assumed when a request names no max_tokens.
inline constexpr int64_t kTypicalOutputTokens = 256;

// The output tokens a call is priced at in advance: the request's max_tokens (or
// kTypicalOutputTokens), lowered to the model's max_output_tokens cap when it has one.
int64_t expectedOutputTokens(const config::ModelConfig& m, std::optional<int64_t> requested_max);

// The advance estimate of one call of `m`: `prompt_tokens` at the input price (no cache hit
// assumed: an upper bound) plus expectedOutputTokens at the output price.
Nanos estimateCost(const config::ModelConfig& m, int64_t prompt_tokens, std::optional<int64_t> requested_max);

// Usage → token counts by category. Uncached input = prompt_tokens − cached − cache-written
// (never negative); reasoning tokens are output tokens.
TokenCounts tokenCounts(const api::Usage& u);

// What an answer with usage `u` cost on `m`.
inline Nanos callCost(const config::ModelConfig& m, const api::Usage& u) { return cost(m.prices, tokenCounts(u)); }

}  // namespace rightsize::routing
