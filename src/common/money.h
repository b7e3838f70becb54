#pragma once
// Money. One unit everywhere: integer nano-dollars (1e-9 USD). A cheap local model can cost far
// less than a micro-dollar per request; nano-dollars keep it exact enough and sum without
// drift. Prices are nano-dollars per million tokens, so $0.02/Mtok is exact too. Doubles reach
// USD only at the edges (config in, headers/JSON/metrics out).
//
// The one cost formula is `cost` below: every category of tokens at its own price, summed in
// 128 bits, divided by 1e6 once and rounded half away from zero. routing/cost_estimate.h turns
// a model's config and an answer's usage into its arguments.

#include <cstdint>
#include <string>

namespace rightsize {

using Nanos = int64_t;  // 1e-9 USD

// USD → nano-dollars, rounded to nearest (config values, client limits).
Nanos usdToNanos(double usd);
inline double nanosToUsd(Nanos n) { return static_cast<double>(n) / 1e9; }

// Exact decimal USD with 10 decimals ("0.0001620000"), for headers and JSON.
std::string formatUsd(Nanos n);

// A price in nano-dollars per million tokens ($1/Mtok = 1e9).
struct TokenPrice {
  int64_t nanos_per_mtok = 0;
  static TokenPrice fromUsdPerMtok(double usd) { return TokenPrice{usdToNanos(usd)}; }
  double usdPerMtok() const { return nanosToUsd(nanos_per_mtok); }
  bool operator==(const TokenPrice&) const = default;
};

// A model's prices for each category of tokens.
struct Prices {
  TokenPrice input;         // uncached input
  TokenPrice cached_input;  // input read from the provider's prompt cache
  TokenPrice cache_write;   // input written to the cache (Anthropic cache creation)
  TokenPrice output;        // output, reasoning included
  bool operator==(const Prices&) const = default;
};

// Tokens of one call by category; `input` excludes cached and cache-written ones.
struct TokenCounts {
  int64_t input = 0;
  int64_t cached_input = 0;
  int64_t cache_write = 0;
  int64_t output = 0;
};

// What `t` costs at `p`. Negative counts count as zero; the result saturates at INT64_MAX.
Nanos cost(const Prices& p, const TokenCounts& t);

}  // namespace rightsize
