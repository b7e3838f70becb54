#include "common/money.h"

#include <cmath>
#include <limits>

namespace rightsize {

Nanos usdToNanos(double usd) {
  const double n = std::round(usd * 1e9);
  if (!(n < 9.2e18)) return std::numeric_limits<Nanos>::max();  // also NaN
  if (n < -9.2e18) return std::numeric_limits<Nanos>::min();
  return static_cast<Nanos>(n);
}

std::string formatUsd(Nanos n) {
  // Integer arithmetic: exact, and no locale. 9 decimals are nano-dollars; the 10th is 0.
  const bool neg = n < 0;
  const unsigned __int128 mag = neg ? static_cast<unsigned __int128>(-(static_cast<__int128>(n))) : n;
  const auto whole = static_cast<unsigned long long>(mag / 1'000'000'000);
  const auto frac = static_cast<unsigned long long>(mag % 1'000'000'000);
  char buf[48];
  char* p = buf + sizeof buf;
  *--p = '0';
  unsigned long long f = frac;
  for (int i = 0; i < 9; ++i, f /= 10) *--p = static_cast<char>('0' + f % 10);
  *--p = '.';
  unsigned long long w = whole;
  do {
    *--p = static_cast<char>('0' + w % 10);
    w /= 10;
  } while (w);
  if (neg) *--p = '-';
  return std::string(p, buf + sizeof buf - p);
}

Nanos cost(const Prices& p, const TokenCounts& t) {
  auto term = [](TokenPrice price, int64_t tokens) -> __int128 {
    return tokens > 0 ? static_cast<__int128>(price.nanos_per_mtok) * tokens : 0;
  };
  const __int128 sum = term(p.input, t.input) + term(p.cached_input, t.cached_input) +
                       term(p.cache_write, t.cache_write) + term(p.output, t.output);
  // Divide by 1e6 tokens once, rounding half away from zero.
  const __int128 q = sum >= 0 ? (sum + 500'000) / 1'000'000 : (sum - 500'000) / 1'000'000;
  if (q > std::numeric_limits<Nanos>::max()) return std::numeric_limits<Nanos>::max();
  if (q < std::numeric_limits<Nanos>::min()) return std::numeric_limits<Nanos>::min();
  return static_cast<Nanos>(q);
}

}  // namespace rightsize
