#include "common/money.h"

#include <fmt/format.h>

namespace rightsize {

std::string formatUsd(Micros m) { return fmt::format("{:.6f}", microsToUsd(m)); }

std::string formatUsdPrecise(double micros) {
  // 10 decimals of a dollar = 1e-4 micros: enough for a 5-token call on a $0.02/Mtok model.
  return fmt::format("{:.10f}", micros / 1e6);
}

}  // namespace rightsize
