// Step 4 of train() (routing/trainer_steps.h): stacking the components into finalists and
// selecting one; then the out-of-distribution shrinkage of the selected learner.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <span>

#include "routing/trainer_steps.h"

namespace rightsize::routing::train_steps {
namespace {

// Novelty sketch size (bits of a bigram hash; 2^20 bits = 128 KB in the router file) and the
// most groups held out for the out-of-distribution shrinkage (tasks beyond are merged).
constexpr uint32_t kSketchBits = 20;
constexpr size_t kMaxGroups = 8;
// A bigram in at least this fraction of the training prompts is "common" and ignored by the
// coverage (0: none is). Measured {0, 0.2, 0.05, 0.01}: no gain on these data, so none.
const std::vector<double> kCommonFractions = {0};
// A bigram counts as "seen" when in at least max(2, this fraction of the training prompts).
const std::vector<double> kSeenFractions = {0};
// Shrinkage towards each model's mean score: p' = lam p + (1 - lam) mean, lam = clamp(a + b s, 0, 1)
// with s the coverage; (a, b) from this grid by held-out decisions (random folds + held-out groups).
// The negative intercepts with b = 2 or 4 are ramps (e.g. -2 + 4s: no trust below coverage 0.5,
// full trust above 0.75): prompts like the training data keep the whole prediction while novel
// ones fall back to the means. Without them the grid could only shrink both alike (RouterBench
// chose lam = 0.5 s: half of every in-distribution prediction lost for the held-out tasks).
const std::vector<double> kShrinkA = {1.0, 0.75, 0.5, 0.25, 0.0, -1.0, -2.0, -3.0};
const std::vector<double> kShrinkB = {0.0, 0.5, 1.0, 2.0, 4.0};

}  // namespace

std::vector<Finalist> stackFinalists(const TrainingData& data, const std::vector<Setting>& settings,
                                     const std::vector<std::vector<float>>& oof, const BestSettings& best,
                                     bool calibrate, size_t t_count) {
  const size_t n = data.size(), m_count = data.models.size();
  std::vector<Kind> avail;
  for (Kind k : {Kind::kLr, Kind::kMf, Kind::kTask, Kind::kTfidf})
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
  return finalists;
}

Selection selectLearner(const RouterModel& shape, const TrainingData& data, const std::vector<Finalist>& finalists,
                        const std::vector<double>& est_cost, bool all_parts_only) {
  Selection out;
  size_t most_parts = 0;
  for (const auto& f : finalists) most_parts = std::max(most_parts, f.parts.size());
  double chosen_ll = 1e300;
  for (size_t f = 0; f < finalists.size(); ++f) {
    LearnerScore ls;
    ls.name = finalists[f].name;
    lossOf(data, finalists[f].p, ls.log_loss, ls.brier);
    out.sweeps.push_back(sweep(shape, data, finalists[f].p, est_cost));
    for (const auto& sp : out.sweeps.back()) ls.curve.emplace_back(sp.real_cost, sp.quality);
    const bool eligible = !all_parts_only || finalists[f].parts.size() == most_parts;
    if (eligible && ls.log_loss < chosen_ll) {
      out.chosen = static_cast<int>(f);
      chosen_ll = ls.log_loss;
    }
    out.scores.push_back(std::move(ls));
  }
  return out;
}

OodShrinkage shrinkOutOfDistribution(const OodInput& in, const TrainOptions& opt, uint32_t threads) {
  const Matrix& x = in.x;
  const TrainingData& data = in.data;
  const Tasks& tasks = in.tasks;
  const Folds& folds = in.folds;
  const std::vector<Setting>& settings = in.settings;
  const BestSettings& best = in.best;
  const std::vector<std::vector<float>>& oof = in.oof;
  const Finalist& fin = in.chosen;
  const std::vector<double>& est_cost = in.est_cost;
  const RouterModel& model = in.shape;
  const bool baseline = in.baseline;
  const size_t n = data.size(), m_count = data.models.size(), t_count = tasks.count();
  OodShrinkage out;
  out.p = fin.p;
  const uint32_t sbits = kSketchBits;
  std::vector<std::vector<uint32_t>> uniq(n);
  parallelFor(n, threads, [&](size_t i) {
    auto& u = uniq[i];
    for (uint64_t j = x.hash_offsets[i] + 1; j < x.hash_offsets[i + 1]; j += 2) u.push_back(x.hashes[j] >> (32 - sbits));
    std::sort(u.begin(), u.end());
    u.erase(std::unique(u.begin(), u.end()), u.end());
  });
  // Sketch counts over a training subset: in how many of its prompts each bigram entry occurs.
  auto countsOf = [&](const std::function<bool(size_t)>& in_train, size_t& n_in) {
    std::vector<uint32_t> cnt(size_t{1} << sbits, 0);
    n_in = 0;
    for (size_t i = 0; i < n; ++i)
      if (in_train(i)) {
        ++n_in;
        for (uint32_t b : uniq[i]) ++cnt[b];
      }
    return cnt;
  };
  // Option o: (seen, common) fractions; thresholds in prompts (common 0 = nothing is common).
  auto seenFrac = [&](size_t o) { return kSeenFractions[o / kCommonFractions.size()]; };
  auto commonFrac = [&](size_t o) { return kCommonFractions[o % kCommonFractions.size()]; };
  auto seenAt = [&](size_t o, size_t n_in) {
    return std::max<uint32_t>(2, static_cast<uint32_t>(std::ceil(seenFrac(o) * static_cast<double>(n_in))));
  };
  auto commonAt = [&](size_t o, size_t n_in) {
    const double f = commonFrac(o);
    return f <= 0 ? std::numeric_limits<uint32_t>::max()
                  : std::max<uint32_t>(seenAt(o, n_in) + 1, static_cast<uint32_t>(std::ceil(f * static_cast<double>(n_in))));
  };
  auto bitsOf = [&](const std::vector<uint32_t>& cnt, uint32_t seen_at, uint32_t common_at) {
    std::vector<uint64_t> bits(2 * ((size_t{1} << sbits) / 64), 0);
    for (size_t b = 0; b < cnt.size(); ++b) {
      if (cnt[b] >= seen_at) bits[2 * (b >> 6)] |= uint64_t{1} << (b & 63);
      if (cnt[b] >= common_at) bits[2 * (b >> 6) + 1] |= uint64_t{1} << (b & 63);
    }
    return bits;
  };
  auto cov = [&](size_t i, const std::vector<uint64_t>& bits) {
    return sketchCoverage(std::span<const uint32_t>(&x.hashes[x.hash_offsets[i]], x.hash_offsets[i + 1] - x.hash_offsets[i]),
                          bits.data(), sbits);
  };
  const size_t n_opts = kCommonFractions.size() * kSeenFractions.size();
  std::vector<std::vector<double>> s_rnd(n_opts, std::vector<double>(n, 1.0)), s_grp = s_rnd;
  for (uint32_t k = 0; k < static_cast<uint32_t>(folds.test_rows.size()); ++k) {
    size_t n_in = 0;
    const auto cnt = countsOf([&](size_t i) { return folds.fold[i] != k; }, n_in);
    for (size_t o = 0; o < n_opts; ++o) {
      const auto bits = bitsOf(cnt, seenAt(o, n_in), commonAt(o, n_in));
      for (uint32_t i : folds.test_rows[k]) s_rnd[o][i] = cov(i, bits);
    }
  }
  // Held-out groups.
  std::vector<uint32_t> grp(n, 0);
  size_t g_count = 0;
  std::string grouping;
  if (t_count >= 2 && !baseline) {
    g_count = std::min(t_count, kMaxGroups);
    for (size_t i = 0; i < n; ++i)
      grp[i] = tasks.of[i] >= 0 ? static_cast<uint32_t>(tasks.of[i]) % static_cast<uint32_t>(g_count)
                               : foldOf(data.ids[i], opt.seed + 7, static_cast<uint32_t>(g_count));
    grouping = std::to_string(t_count) + " tasks in " + std::to_string(g_count) + " groups";
  }
  // Without tasks nothing is held out by group (no shrinkage): holding out clusters of the
  // dense cues was tried and held out exactly the structure the router must learn.
  std::vector<std::vector<uint32_t>> g_train, g_test;
  {
    std::vector<std::vector<uint32_t>> tr(g_count), te(g_count);
    for (size_t i = 0; i < n; ++i)
      for (size_t g = 0; g < g_count; ++g) (grp[i] == g ? te[g] : tr[g]).push_back(static_cast<uint32_t>(i));
    for (size_t g = 0; g < g_count; ++g)
      if (!te[g].empty() && tr[g].size() >= 2) g_train.push_back(std::move(tr[g])), g_test.push_back(std::move(te[g]));
  }
  if (g_train.size() >= 2) {
    const size_t parts = fin.parts.size(), gn = g_train.size();
    std::vector<std::vector<float>> gz(parts, std::vector<float>(n * m_count, 0.0f));
    {
      Progress prog(opt, "held-out groups", parts * gn);
      parallelFor(parts * gn, threads, [&](size_t job) {
        const size_t j = job / gn, g = job % gn;
        const Setting& st = settings[static_cast<size_t>(best.best[static_cast<size_t>(fin.parts[j])])];
        const uint64_t seed = opt.seed * 1000003ULL + 500 + g;
        const auto idf = st.kind == Kind::kTfidf ? idfWeights(x, g_train[g]) : std::vector<float>();
        predictHeldOut(st, x, data, tasks, g_train[g], g_test[g], opt.epochs, seed, &idf, gz[j]);
        prog.step();
      });
    }
    for (size_t g = 0; g < gn; ++g) {
      std::vector<bool> held(n, false);
      for (uint32_t i : g_test[g]) held[i] = true;
      size_t n_in = 0;
      const auto cnt = countsOf([&](size_t i) { return !held[i]; }, n_in);
      for (size_t o = 0; o < n_opts; ++o) {
        const auto bits = bitsOf(cnt, seenAt(o, n_in), commonAt(o, n_in));
        for (uint32_t i : g_test[g]) s_grp[o][i] = cov(i, bits);
      }
    }
    // zz: the stacked logit of the chosen learner; rows [0, n) random folds, [n, 2n) held-out groups.
    std::vector<float> zz(2 * n * m_count);
    std::vector<bool> in_group(n, false);
    for (const auto& te : g_test)
      for (uint32_t i : te) in_group[i] = true;
    for (size_t i = 0; i < n; ++i)
      for (size_t m = 0; m < m_count; ++m) {
        double zr = fin.stack.c[m], zg = fin.stack.c[m];
        for (size_t j = 0; j < parts; ++j) {
          const auto& o = oof[static_cast<size_t>(best.best[static_cast<size_t>(fin.parts[j])])];
          const double vr = fin.stack.a[j][m] * o[i * m_count + m];
          zr += vr;
          zg += in_group[i] ? fin.stack.a[j][m] * gz[j][i * m_count + m] : vr;
        }
        zz[i * m_count + m] = static_cast<float>(zr);
        zz[(n + i) * m_count + m] = static_cast<float>(zg);
      }
    // Choose (a, b) by the held-out decision value (AIQ + Q@C*, as for the anchor) of the random
    // folds plus that of the held-out groups: robust out of distribution, kept in distribution.
    const size_t o_use = 0;
    const size_t best_o = o_use;
    std::vector<float> p_rnd = fin.p, p_grp(n * m_count);
    for (size_t k = 0; k < n * m_count; ++k) p_grp[k] = static_cast<float>(sigmoid(zz[n * m_count + k]));
    const double c_min = *std::min_element(model.mean_cost_usd.begin(), model.mean_cost_usd.end());
    const double c_max = *std::max_element(model.mean_cost_usd.begin(), model.mean_cost_usd.end());
    const size_t bm = bestSingleModel(model.mean_score, model.mean_cost_usd);
    auto shrinkP = [&](const std::vector<float>& p, const std::vector<double>& sv, double a, double b) {
      std::vector<float> out(p.size());
      for (size_t i = 0; i < n; ++i) {
        const double lam = std::clamp(a + b * sv[i], 0.0, 1.0);
        for (size_t m = 0; m < m_count; ++m)
          out[i * m_count + m] = static_cast<float>(lam * p[i * m_count + m] + (1 - lam) * model.mean_score[m]);
      }
      return out;
    };
    std::vector<std::pair<double, double>> grid;
    for (double a : kShrinkA)
      for (double b : kShrinkB)
        if (!(a >= 1 && b > 0) && (a >= 0 || a + b > 0)) grid.push_back({a, b});  // no duplicate of lam = 1 or 0
    std::vector<double> vr(grid.size()), vg(grid.size());
    parallelFor(grid.size(), threads, [&](size_t gi) {
      const auto [a, b] = grid[gi];
      vr[gi] = sweepValue(sweep(model, data, shrinkP(p_rnd, s_rnd[o_use], a, b), est_cost), c_min, c_max,
                          model.mean_cost_usd[bm]);
      vg[gi] = sweepValue(sweep(model, data, shrinkP(p_grp, s_grp[o_use], a, b), est_cost), c_min, c_max,
                          model.mean_cost_usd[bm]);
    });
    size_t gbest = 0;
    std::string tried;
    for (size_t gi = 0; gi < grid.size(); ++gi) {
      char b[96];
      std::snprintf(b, sizeof(b), "%s%g+%gs:%.4f/%.4f", tried.empty() ? "" : " ", grid[gi].first, grid[gi].second, vr[gi], vg[gi]);
      tried += b;
      if (vr[gi] + vg[gi] > vr[gbest] + vg[gbest] + 1e-9) gbest = gi;
    }
    out.ood = {static_cast<float>(grid[gbest].first), static_cast<float>(grid[gbest].second)};
    std::vector<float> shrunk = shrinkP(p_rnd, s_rnd[o_use], grid[gbest].first, grid[gbest].second);
    const auto shrunk_g = shrinkP(p_grp, s_grp[o_use], grid[gbest].first, grid[gbest].second);
    shrunk.insert(shrunk.end(), shrunk_g.begin(), shrunk_g.end());
    // Log losses: random folds / held-out groups, without -> with the shrinkage.
    TrainingData half;
    half.models = data.models;
    half.ids.assign(n, std::string());
    half.score = data.score;
    auto part = [&](const std::vector<float>& v, size_t from) {
      return std::vector<float>(v.begin() + static_cast<long>(from * m_count), v.begin() + static_cast<long>((from + n) * m_count));
    };
    std::vector<float> plain(2 * n * m_count);
    for (size_t k = 0; k < plain.size(); ++k) plain[k] = static_cast<float>(sigmoid(zz[k]));
    double l0r, l0g, l1r, l1g, br;
    lossOf(half, part(plain, 0), l0r, br);
    lossOf(half, part(plain, n), l0g, br);
    lossOf(half, part(shrunk, 0), l1r, br);
    lossOf(half, part(shrunk, n), l1g, br);
    double mr = 0, mg = 0;
    for (size_t i = 0; i < n; ++i) mr += s_rnd[best_o][i], mg += s_grp[best_o][i];
    char buf[2048];
    std::snprintf(buf, sizeof(buf),
                  "held out %s; bigrams seen: in >= %g, common: in >= %g of prompts (value random/groups by lam = a+b*s: %s); mean coverage "
                  "%.3f (random folds) / %.3f (held-out groups); log loss %.4f -> %.4f (random folds), %.4f -> "
                  "%.4f (held-out groups)",
                  grouping.c_str(), seenFrac(best_o), commonFrac(best_o), tried.c_str(), mr / n, mg / n,
                  l0r, l1r, l0g, l1g);
    out.report = buf;
    out.p = part(shrunk, 0);
    out.sketch_bits = sbits;
    size_t n_all = 0;
    const auto cnt_all = countsOf([](size_t) { return true; }, n_all);
    out.sketch = bitsOf(cnt_all, seenAt(best_o, n_all), commonAt(best_o, n_all));
    out.applied = true;
  } else {
    out.report = baseline ? "none (the tf-idf baseline is not shrunk)"
                       : "none (the data names fewer than two tasks to hold out)";
  }
  return out;
}

}  // namespace rightsize::routing::train_steps
