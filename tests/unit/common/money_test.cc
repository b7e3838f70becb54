#include "common/money.h"

#include <limits>
#include <random>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace rightsize {
namespace {

TEST(FormatUsd, PrintsTenDecimalsOfADollarExactly) {
  EXPECT_EQ(formatUsd(0), "0.0000000000");
  EXPECT_EQ(formatUsd(1), "0.0000000010");
  EXPECT_EQ(formatUsd(123'500), "0.0001235000");
  EXPECT_EQ(formatUsd(2'500'000'000), "2.5000000000");
  EXPECT_EQ(formatUsd(-1'500'000'001), "-1.5000000010");
  EXPECT_EQ(formatUsd(std::numeric_limits<Nanos>::max()), "9223372036.8547758070");
  EXPECT_EQ(formatUsd(std::numeric_limits<Nanos>::min()), "-9223372036.8547758080");
}

TEST(FormatUsd, AgreesWithFmtOnRandomValues) {
  std::mt19937_64 gen(42);
  std::uniform_int_distribution<Nanos> n(0, 1'000'000'000'000);
  for (int i = 0; i < 20'000; ++i) {
    const Nanos v = n(gen);
    ASSERT_EQ(formatUsd(v), fmt::format("{}.{:09d}0", v / 1'000'000'000, v % 1'000'000'000)) << v;
  }
}

TEST(UsdToNanos, RoundsToNearestAndSaturates) {
  EXPECT_EQ(usdToNanos(0.02), 20'000'000);
  EXPECT_EQ(usdToNanos(1e-10), 0);
  EXPECT_EQ(usdToNanos(6e-10), 1);
  EXPECT_EQ(usdToNanos(-2.5), -2'500'000'000);
  EXPECT_EQ(usdToNanos(1e12), std::numeric_limits<Nanos>::max());
  EXPECT_EQ(usdToNanos(std::numeric_limits<double>::quiet_NaN()), std::numeric_limits<Nanos>::max());
  EXPECT_DOUBLE_EQ(nanosToUsd(1'500'000'000), 1.5);
}

Prices pricesUsd(double in, double cached, double write, double out) {
  return Prices{TokenPrice::fromUsdPerMtok(in), TokenPrice::fromUsdPerMtok(cached), TokenPrice::fromUsdPerMtok(write),
                TokenPrice::fromUsdPerMtok(out)};
}

TEST(Cost, EachCategoryAtItsOwnPrice) {
  // $3 input, $0.30 cached, $3.75 cache write, $15 output per Mtok (a Sonnet-class price list):
  // 200 uncached + 800 cached + 100 written in, 50 out =
  // (200×3 + 800×0.3 + 100×3.75 + 50×15) / 1e6 USD = 1965 / 1e6 USD = 1,965,000 nanos.
  EXPECT_EQ(cost(pricesUsd(3, 0.3, 3.75, 15), TokenCounts{200, 800, 100, 50}), 1'965'000);
  // The same 1,100 input tokens without a cache: 3,300 + 750 = 4,050 micro-dollars.
  EXPECT_EQ(cost(pricesUsd(3, 0.3, 3.75, 15), TokenCounts{1100, 0, 0, 50}), 4'050'000);
}

TEST(Cost, CheapCallsKeepTheirValue) {
  // 5 tokens at $0.02/Mtok = 1e-7 USD = 100 nanos; 1 token at $0.0004/Mtok = 0.4 nanos → 0.
  EXPECT_EQ(cost(pricesUsd(0.02, 0.02, 0.02, 0.02), TokenCounts{5, 0, 0, 0}), 100);
  EXPECT_EQ(cost(pricesUsd(0.0004, 0, 0, 0), TokenCounts{1, 0, 0, 0}), 0);
  // Rounded once, half away from zero: 3 × 0.5 nanos = 1.5 → 2 (not 0 + 0 + 0 or 1 + 1 + 1).
  EXPECT_EQ(cost(pricesUsd(0.0005, 0.0005, 0.0005, 0), TokenCounts{1, 1, 1, 0}), 2);
}

TEST(Cost, NegativeCountsAreZeroAndHugeOnesSaturate) {
  EXPECT_EQ(cost(pricesUsd(1, 1, 1, 1), TokenCounts{-5, -1, -1, 10}), 10'000);
  const Prices top = pricesUsd(1e6, 1e6, 1e6, 1e6);
  const int64_t big = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(cost(top, TokenCounts{big, big, big, big}), std::numeric_limits<Nanos>::max());
}

TEST(Cost, SumsExactlyWhereDoublesDrift) {
  // A million calls of 7 tokens at $0.15/Mtok: each exactly 1,050 nanos.
  const Prices p = pricesUsd(0.15, 0.15, 0.15, 0.15);
  Nanos total = 0;
  for (int i = 0; i < 1'000'000; ++i) total += cost(p, TokenCounts{7, 0, 0, 0});
  EXPECT_EQ(total, 1'050'000'000);
  EXPECT_EQ(formatUsd(total), "1.0500000000");
}

}  // namespace
}  // namespace rightsize
