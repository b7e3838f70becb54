// Step 4 of train() (routing/trainer_steps.h): stacking the components into finalists and
// selecting one.
#include <algorithm>
#include <cmath>

#include "routing/trainer_steps.h"

namespace rightsize::routing::train_steps {
namespace {

// On small data the stacked choice is kept only when its held-out value exceeds the tf-idf
// finalist's by more than this many bootstrap standard errors of the difference (one was not
// enough on MT-Bench: docs/router.md).
constexpr double kGapStandardErrors = 2.0;

// Paired bootstrap standard error of sweepValue(a) - sweepValue(b) over the prompts: each
// resample draws N prompts with replacement (a fixed seed) and sums both learners' sweep terms
// (sweepTerms) over the same draw.
double bootstrapGapSe(const std::vector<SweepPoint>& terms_a, const std::vector<SweepPoint>& terms_b, size_t n,
                      double c_min, double c_max, double c_star) {
  if (n == 0) return 0;
  const size_t w_count = terms_a.size() / n;
  Rng rng(0x5EEDB007ULL);
  std::vector<uint32_t> count(n);
  std::vector<SweepPoint> sa(w_count), sb(w_count);
  double sum = 0, sum_sq = 0;
  for (uint32_t r = 0; r < kBootstrapResamples; ++r) {
    std::fill(count.begin(), count.end(), 0u);
    for (size_t k = 0; k < n; ++k) ++count[rng.below(n)];
    for (size_t w = 0; w < w_count; ++w) {
      SweepPoint a, b;
      for (size_t i = 0; i < n; ++i) {
        if (count[i] == 0) continue;
        const double c = count[i];
        const SweepPoint& ta = terms_a[w * n + i];
        const SweepPoint& tb = terms_b[w * n + i];
        a.real_cost += c * ta.real_cost, a.quality += c * ta.quality;
        b.real_cost += c * tb.real_cost, b.quality += c * tb.quality;
      }
      a.real_cost /= double(n), a.quality /= double(n), b.real_cost /= double(n), b.quality /= double(n);
      sa[w] = a, sb[w] = b;
    }
    const double d = sweepValue(sa, c_min, c_max, c_star) - sweepValue(sb, c_min, c_max, c_star);
    sum += d, sum_sq += d * d;
  }
  const double mean = sum / kBootstrapResamples;
  return std::sqrt(std::max(0.0, sum_sq / kBootstrapResamples - mean * mean));
}

}  // namespace

bool isPlainTfidf(const Finalist& f) { return f.parts.size() == 1 && f.parts[0] == Kind::kTfidf; }

std::vector<Finalist> stackFinalists(const TrainingData& data, const std::vector<Setting>& settings,
                                     const std::vector<std::vector<float>>& oof, const BestSettings& best,
                                     bool calibrate, size_t t_count) {
  const size_t n = data.size(), m_count = data.models.size();
  // The tf-idf regression is never stacked (stacked, it lowered the out-of-fold log loss and
  // cost held-out decisions; docs/router.md): it is one finalist of its own, uncalibrated.
  std::vector<Kind> avail;
  for (Kind k : {Kind::kLr, Kind::kMf, Kind::kTask})
    if (best.best[static_cast<size_t>(k)] >= 0) avail.push_back(k);
  std::vector<Finalist> finalists;
  for (unsigned mask = 1; mask < (1u << avail.size()); ++mask) {
    Finalist f;
    Inputs in;
    for (size_t j = 0; j < avail.size(); ++j)
      if (mask & (1u << j)) {
        const auto s = static_cast<size_t>(best.best[static_cast<size_t>(avail[j])]);
        f.parts.push_back(avail[j]);
        in.push_back(&oof[s]);
        f.name += (f.name.empty() ? "" : " + ") + settingName(settings[s], t_count);
      }
    if (f.parts.size() > 1) f.name = "blend: " + f.name;
    f.stack = calibrate ? fitStack(data, in) : identityStack(in.size(), m_count);
    f.p = applyStack(f.stack, n, m_count, in);
    finalists.push_back(std::move(f));
  }
  if (const int s = best.best[static_cast<size_t>(Kind::kTfidf)]; s >= 0) {
    Finalist f;
    f.parts = {Kind::kTfidf};
    f.name = settingName(settings[static_cast<size_t>(s)], t_count);
    f.stack = identityStack(1, m_count);
    f.p = applyStack(f.stack, n, m_count, {&oof[static_cast<size_t>(s)]});
    finalists.push_back(std::move(f));
  }
  return finalists;
}

Selection selectLearner(const RouterModel& shape, const TrainingData& data, const std::vector<Finalist>& finalists,
                        const std::vector<double>& est_cost, bool all_parts_only) {
  Selection out;
  size_t most_parts = 0;
  for (const auto& f : finalists) most_parts = std::max(most_parts, f.parts.size());
  double chosen_ll = 1e300;
  int plain = -1;  // the tf-idf finalist
  for (size_t f = 0; f < finalists.size(); ++f) {
    LearnerScore ls;
    ls.name = finalists[f].name;
    lossOf(data, finalists[f].p, ls.log_loss, ls.brier);
    out.sweeps.push_back(sweep(shape, data, finalists[f].p, est_cost));
    for (const auto& sp : out.sweeps.back()) ls.curve.emplace_back(sp.real_cost, sp.quality);
    if (isPlainTfidf(finalists[f])) plain = static_cast<int>(f);
    const bool eligible = (!all_parts_only || finalists[f].parts.size() == most_parts) && !isPlainTfidf(finalists[f]);
    if (eligible && ls.log_loss < chosen_ll) {
      out.chosen = static_cast<int>(f);
      chosen_ll = ls.log_loss;
    }
    out.scores.push_back(std::move(ls));
  }
  // The tf-idf finalist is judged by what routing is for, its held-out decisions, against the
  // log-loss choice (stacked probabilities of few prompts can be well calibrated and still rank
  // the prompts worse for choosing a model; the baseline then decides better). On small data it is
  // the default: the stacked choice must decide better by more than two standard errors of the
  // difference (on a few dozen prompts the inner cross-validation cannot tell them apart; on
  // RouterBench's ~1,760 the same burden flipped folds to it and cost AIQ: docs/router.md).
  if (plain >= 0) {
    const double c_min = *std::min_element(shape.mean_cost_usd.begin(), shape.mean_cost_usd.end());
    const double c_max = *std::max_element(shape.mean_cost_usd.begin(), shape.mean_cost_usd.end());
    const double c_star = shape.mean_cost_usd[bestSingleModel(shape.mean_score, shape.mean_cost_usd)];
    auto value = [&](int f) { return sweepValue(out.sweeps[static_cast<size_t>(f)], c_min, c_max, c_star); };
    const bool small = data.size() < kSmallDataPrompts;
    if (out.chosen >= 0) {
      out.gap = value(out.chosen) - value(plain);
      if (small && out.gap > 0)
        out.gap_se = bootstrapGapSe(sweepTerms(shape, data, finalists[static_cast<size_t>(out.chosen)].p, est_cost),
                                    sweepTerms(shape, data, finalists[static_cast<size_t>(plain)].p, est_cost),
                                    data.size(), c_min, c_max, c_star);
    }
    if (out.chosen < 0 || (small ? out.gap <= kGapStandardErrors * out.gap_se : out.gap < 0)) out.chosen = plain;
  }
  return out;
}

}  // namespace rightsize::routing::train_steps
