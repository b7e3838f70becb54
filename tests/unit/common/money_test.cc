#include "common/money.h"

#include <random>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace rightsize {
namespace {

TEST(FormatUsdPrecise, PrintsTenDecimalsOfADollar) {
  EXPECT_EQ(formatUsdPrecise(0), "0.0000000000");
  EXPECT_EQ(formatUsdPrecise(123.5), "0.0001235000");
  EXPECT_EQ(formatUsdPrecise(2.5e6), "2.5000000000");
}

TEST(FormatUsdPrecise, RoundsExactlyLikeFmtFixedTenDecimals) {
  std::mt19937_64 gen(42);
  std::uniform_real_distribution<double> price(0.0, 100.0);
  std::uniform_int_distribution<int64_t> tokens(0, 2'000'000);
  for (int i = 0; i < 200'000; ++i) {
    const double micros = price(gen) * static_cast<double>(tokens(gen));
    ASSERT_EQ(formatUsdPrecise(micros), fmt::format("{:.10f}", micros / 1e6)) << micros;
  }
  for (double micros : {0.00005, 0.00015, 0.00025, 1e-9, 5e-5, 1e15, 1e20}) {
    EXPECT_EQ(formatUsdPrecise(micros), fmt::format("{:.10f}", micros / 1e6)) << micros;
  }
}

}  // namespace
}  // namespace rightsize
