#pragma once
// Quality relative to the yardstick, estimated from shadow grades (docs/shadow.md): one tally per
// route and served model, the same arithmetic for `rightsize report` and the dashboard.

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/money.h"
#include "ledger/record.h"

namespace rightsize::ledger {

// What a route x served model's shadow grades add up to.
struct ShadowTally {
  int64_t agree = 0, disagree = 0, scored = 0, errors = 0;
  // Over the `scored` grades: sums of the served (s) and yardstick (y) scores, their squares
  // and products, for the ratio's confidence interval.
  double sum_s = 0, sum_y = 0, sum_ss = 0, sum_yy = 0, sum_sy = 0;
  Nanos cost_nanos = 0;  // shadow spend

  // Adds one grade (result agree | disagree | scored | error).
  void add(std::string_view result, double served_score, double yardstick_score, Nanos cost);
  void merge(const ShadowTally& o);
  int64_t grades() const { return agree + disagree + scored + errors; }
};

// The estimate: `value` with a 95% confidence interval [low, high], from `n` graded samples
// (errors are not samples). agree grades: the agree rate with the Wilson score interval. scored
// grades: mean served score / mean yardstick score, with the normal approximation of the ratio
// estimator (delta method); nullopt interval bounds when n < 2. With both kinds, agree wins.
struct ShadowQuality {
  const char* kind = "none";  // agree | judge | none
  int64_t n = 0;
  std::optional<double> value, low, high;
};
ShadowQuality estimateQuality(const ShadowTally& t);

// The Wilson score interval of `successes` out of `n` at z (1.96: 95%); n > 0.
void wilsonInterval(int64_t successes, int64_t n, double z, double& low, double& high);

}  // namespace rightsize::ledger
