#pragma once
// Token prices. The gateway prices a request in (fractional) micro-dollars as a double — a cheap
// local model can cost far less than one micro-dollar — and stores money as integer nano-dollars
// in the ledger (ledger/record.h). Doubles reach USD only at the edges (headers, JSON).

#include <cstdint>
#include <string>

namespace rightsize {

// Price of a token count at a USD-per-million-tokens rate, in micro-dollars:
// usd_per_mtok * tokens / 1e6 USD = usd_per_mtok * tokens micros.
inline double tokenCostMicros(double usd_per_mtok, int64_t tokens) {
  return usd_per_mtok * static_cast<double>(tokens);
}

// USD with 10 decimals (1e-4 micro-dollars) for the cost headers, from micro-dollars.
std::string formatUsdPrecise(double micros);

}  // namespace rightsize
