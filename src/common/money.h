#pragma once
// Money is integer micro-dollars inside rightsize; doubles only at the edges.

#include <cmath>
#include <cstdint>
#include <string>

namespace rightsize {

using Micros = int64_t;  // 1 USD = 1,000,000 micros

inline Micros usdToMicros(double usd) { return static_cast<Micros>(std::llround(usd * 1e6)); }
inline double microsToUsd(Micros m) { return static_cast<double>(m) / 1e6; }

// Price of a token count at a USD-per-million-tokens rate, in micro-dollars with
// sub-micro precision kept as a double until the final rounding by the caller.
// usd_per_mtok * tokens / 1e6 USD = usd_per_mtok * tokens micros.
inline double tokenCostMicros(double usd_per_mtok, int64_t tokens) {
  return usd_per_mtok * static_cast<double>(tokens);
}

// "0.000123" style formatting with enough digits for per-request costs.
std::string formatUsd(Micros m);
// Same, for a fractional micro amount (cost headers keep sub-micro precision).
std::string formatUsdPrecise(double micros);

}  // namespace rightsize
