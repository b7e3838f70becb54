// Step 5 of train() (routing/trainer_steps.h) and the held-out decision sweep it and the
// selection rest on: anchor bonus and knob calibration.
#include <algorithm>
#include <cmath>

#include "routing/trainer_steps.h"

namespace rightsize::routing::train_steps {
namespace {

const std::vector<double> kAnchorBonuses = {0.01, 0.02, 0.03, 0.05, 0.08, 0.12};

std::vector<double> weightGrid() {
  std::vector<double> w;
  for (int i = 0; i <= 160; ++i) w.push_back(std::pow(10.0, 5.0 - 8.0 * i / 160.0));  // 1e5 .. 1e-3
  w.push_back(0.0);
  return w;
}

}  // namespace

namespace {

// Prompt i's decision at cost weight w: the model chosen, its predicted cost, and its recorded
// quality and cost (the prediction where the record has none). pi, ci: scratch of models' size.
SweepPoint decideAt(const RouterModel& shape, const TrainingData& data, const std::vector<float>& p,
                    const std::vector<double>& est_cost, size_t i, double w, std::vector<double>& pi,
                    std::vector<double>& ci) {
  const size_t m_count = data.models.size();
  for (size_t m = 0; m < m_count; ++m) {
    pi[m] = p[i * m_count + m];
    ci[m] = est_cost[i * m_count + m];
  }
  const size_t m = static_cast<size_t>(shape.chooseWithWeight(pi, ci, {}, w, shape.anchor_model));
  SweepPoint sp;
  sp.weight = w;
  sp.pred_cost = ci[m];
  const float y = data.scoreAt(i, m);
  const float rc = data.costAt(i, m);
  sp.quality = std::isnan(y) ? pi[m] : y;
  sp.real_cost = std::isnan(rc) ? ci[m] : rc;
  return sp;
}

}  // namespace

std::vector<SweepPoint> sweep(const RouterModel& shape, const TrainingData& data, const std::vector<float>& p,
                              const std::vector<double>& est_cost) {
  const size_t n = data.size();
  std::vector<SweepPoint> out;
  std::vector<double> pi(data.models.size()), ci(data.models.size());
  for (double w : weightGrid()) {
    SweepPoint sp;
    sp.weight = w;
    for (size_t i = 0; i < n; ++i) {
      const SweepPoint d = decideAt(shape, data, p, est_cost, i, w, pi, ci);
      sp.pred_cost += d.pred_cost;
      sp.quality += d.quality;
      sp.real_cost += d.real_cost;
    }
    sp.pred_cost /= static_cast<double>(n);
    sp.real_cost /= static_cast<double>(n);
    sp.quality /= static_cast<double>(n);
    out.push_back(sp);
  }
  return out;
}

std::vector<SweepPoint> sweepTerms(const RouterModel& shape, const TrainingData& data, const std::vector<float>& p,
                                   const std::vector<double>& est_cost) {
  const size_t n = data.size();
  const std::vector<double> grid = weightGrid();
  std::vector<SweepPoint> out(grid.size() * n);
  std::vector<double> pi(data.models.size()), ci(data.models.size());
  for (size_t w = 0; w < grid.size(); ++w)
    for (size_t i = 0; i < n; ++i) out[w * n + i] = decideAt(shape, data, p, est_cost, i, grid[w], pi, ci);
  return out;
}

// Held-out value of a sweep, for choosing the anchor bonus: the mean quality of its upper
// hull over [c_min, c_max] (quality 0 before the first point, flat after the last) plus the
// hull's quality at c_star. Mirrors evals' AIQ and Q@C*, which routing cannot depend on.
double sweepValue(const std::vector<SweepPoint>& sw, double c_min, double c_max, double c_star) {
  std::vector<std::pair<double, double>> pts;
  for (const auto& p : sw) pts.emplace_back(p.real_cost, p.quality);
  std::sort(pts.begin(), pts.end(), [](auto& a, auto& b) { return a.first < b.first || (a.first == b.first && a.second > b.second); });
  std::vector<std::pair<double, double>> hull;
  for (const auto& p : pts) {
    if (!hull.empty() && p.second <= hull.back().second) continue;
    while (hull.size() >= 2) {
      const auto& a = hull[hull.size() - 2];
      const auto& b = hull.back();
      if ((b.first - a.first) * (p.second - a.second) - (b.second - a.second) * (p.first - a.first) >= 0) hull.pop_back();
      else break;
    }
    hull.push_back(p);
  }
  auto at = [&](double c) {
    if (hull.empty() || c < hull.front().first) return 0.0;
    if (c >= hull.back().first) return hull.back().second;
    for (size_t i = 1; i < hull.size(); ++i)
      if (c <= hull[i].first) {
        const double t = (c - hull[i - 1].first) / (hull[i].first - hull[i - 1].first);
        return hull[i - 1].second + t * (hull[i].second - hull[i - 1].second);
      }
    return hull.back().second;
  };
  double area = 0;
  if (c_max > c_min) {
    constexpr int kSteps = 2000;
    for (int i = 0; i < kSteps; ++i) area += at(c_min + (c_max - c_min) * (i + 0.5) / kSteps);
    area /= kSteps;
  }
  return area + at(c_star);
}

size_t bestSingleModel(const std::vector<double>& mean_score, const std::vector<double>& mean_cost_usd) {
  size_t b = 0;
  for (size_t m = 1; m < mean_score.size(); ++m)
    if (mean_score[m] > mean_score[b] || (mean_score[m] == mean_score[b] && mean_cost_usd[m] < mean_cost_usd[b]))
      b = m;
  return b;
}

AnchorChoice chooseAnchorBonus(RouterModel shape, const TrainingData& data, const std::vector<float>& p,
                               const std::vector<double>& est_cost, std::vector<SweepPoint> at_zero,
                               bool try_bonuses) {
  const size_t b = bestSingleModel(shape.mean_score, shape.mean_cost_usd);
  const double c_min = *std::min_element(shape.mean_cost_usd.begin(), shape.mean_cost_usd.end());
  const double c_max = *std::max_element(shape.mean_cost_usd.begin(), shape.mean_cost_usd.end());
  AnchorChoice out;
  out.anchor_model = static_cast<int>(b);
  shape.anchor_model = out.anchor_model;
  double best_value = sweepValue(at_zero, c_min, c_max, shape.mean_cost_usd[b]);
  out.values.push_back({0.0, best_value});
  out.sweep = std::move(at_zero);
  for (double bonus : kAnchorBonuses) {
    if (!try_bonuses) break;
    shape.anchor_bonus = bonus;
    auto sw = sweep(shape, data, p, est_cost);
    const double v = sweepValue(sw, c_min, c_max, shape.mean_cost_usd[b]);
    out.values.push_back({bonus, v});
    if (v > best_value + 1e-9) {
      best_value = v;
      out.bonus = bonus;
      out.sweep = std::move(sw);
    }
  }
  return out;
}

std::vector<KnobPoint> calibrateKnob(const std::vector<SweepPoint>& sw, double best_single_quality) {
  std::vector<KnobPoint> knobs;
  const double lo = sw.front().pred_cost;  // largest weight: (nearly) always the cheapest
  const double hi = sw.back().pred_cost;   // weight 0: best predicted quality
  const double q_star = best_single_quality > 0 ? best_single_quality : 1.0;
  for (size_t j = 0; j + 1 < sw.size(); ++j) {  // the weight-0 point is knob 1 itself
    const auto& sp = sw[j];
    double knob;
    if (hi > lo && lo > 0) {
      const double lin = (sp.pred_cost - lo) / (hi - lo);
      const double lg = std::log(sp.pred_cost / lo) / std::log(hi / lo);
      knob = 0.5 * lin + 0.5 * lg;
    } else {
      knob = static_cast<double>(j) / static_cast<double>(sw.size() - 1);
    }
    knob = std::clamp(knob, 0.0, 1.0);
    if (!knobs.empty()) knob = std::max(knob, knobs.back().knob);
    knobs.push_back({knob, sp.weight, sp.real_cost, sp.quality / q_star});
  }
  const auto& top = sw.back();
  knobs.push_back({1.0, 0.0, top.real_cost, top.quality / q_star});
  return knobs;
}

}  // namespace rightsize::routing::train_steps
