#include "common/money.h"

#include <charconv>

#include <fmt/format.h>

namespace rightsize {

std::string formatUsdPrecise(double micros) {
  // 10 decimals of a dollar = 1e-4 micros: enough for a 5-token call on a $0.02/Mtok model.
  // std::to_chars rounds exactly like fmt's "{:.10f}" (both print the correctly rounded decimal)
  // at a fraction of the cost; it is on every response's cost headers.
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, micros / 1e6, std::chars_format::fixed, 10);
  if (r.ec != std::errc()) return fmt::format("{:.10f}", micros / 1e6);  // > 1e53 USD
  return std::string(buf, r.ptr);
}

}  // namespace rightsize
