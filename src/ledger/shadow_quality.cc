#include "ledger/shadow_quality.h"

#include <algorithm>
#include <cmath>

namespace rightsize::ledger {

namespace {
constexpr double kZ95 = 1.959963984540054;
}

void ShadowTally::add(std::string_view result, double served_score, double yardstick_score, Nanos cost) {
  cost_nanos += cost;
  if (result == "agree") {
    ++agree;
  } else if (result == "disagree") {
    ++disagree;
  } else if (result == "scored" && served_score >= 0 && yardstick_score >= 0) {
    ++scored;
    sum_s += served_score;
    sum_y += yardstick_score;
    sum_ss += served_score * served_score;
    sum_yy += yardstick_score * yardstick_score;
    sum_sy += served_score * yardstick_score;
  } else {
    ++errors;
  }
}

void ShadowTally::merge(const ShadowTally& o) {
  agree += o.agree;
  disagree += o.disagree;
  scored += o.scored;
  errors += o.errors;
  sum_s += o.sum_s;
  sum_y += o.sum_y;
  sum_ss += o.sum_ss;
  sum_yy += o.sum_yy;
  sum_sy += o.sum_sy;
  cost_nanos += o.cost_nanos;
}

void wilsonInterval(int64_t successes, int64_t n, double z, double& low, double& high) {
  const double nn = static_cast<double>(n);
  const double p = static_cast<double>(successes) / nn;
  const double z2 = z * z;
  const double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
  const double half = z * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / (1 + z2 / nn);
  low = std::max(0.0, centre - half);
  high = std::min(1.0, centre + half);
}

ShadowQuality estimateQuality(const ShadowTally& t) {
  ShadowQuality q;
  if (t.agree + t.disagree > 0) {
    q.kind = "agree";
    q.n = t.agree + t.disagree;
    q.value = static_cast<double>(t.agree) / static_cast<double>(q.n);
    double lo = 0, hi = 0;
    wilsonInterval(t.agree, q.n, kZ95, lo, hi);
    q.low = lo;
    q.high = hi;
    return q;
  }
  if (t.scored > 0) {
    q.kind = "judge";
    q.n = t.scored;
    const double n = static_cast<double>(t.scored);
    if (t.sum_y <= 0) return q;  // the yardstick scored 0 throughout: no ratio
    const double r = t.sum_s / t.sum_y;
    q.value = r;
    if (t.scored >= 2) {
      // Ratio estimator: Var(r) ~ sum((s - r y)^2) / ((n - 1) n ybar^2).
      const double ybar = t.sum_y / n;
      const double ss = std::max(0.0, t.sum_ss - 2 * r * t.sum_sy + r * r * t.sum_yy);
      const double se = std::sqrt(ss / ((n - 1) * n)) / ybar;
      q.low = std::max(0.0, r - kZ95 * se);
      q.high = r + kZ95 * se;
    }
  }
  return q;
}

}  // namespace rightsize::ledger
