// The out-of-distribution shrinkage of train()'s selected learner (routing/trainer_steps.h):
// held-out groups of tasks, bigram coverage, and the (a, b) of the shrinkage.
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

// Option o: (seen, common) fractions; thresholds in prompts (common 0 = nothing is common).
double seenFrac(size_t o) { return kSeenFractions[o / kCommonFractions.size()]; }
double commonFrac(size_t o) { return kCommonFractions[o % kCommonFractions.size()]; }
uint32_t seenAt(size_t o, size_t n_in) {
  return std::max<uint32_t>(2, static_cast<uint32_t>(std::ceil(seenFrac(o) * static_cast<double>(n_in))));
}
uint32_t commonAt(size_t o, size_t n_in) {
  const double f = commonFrac(o);
  return f <= 0 ? std::numeric_limits<uint32_t>::max()
                : std::max<uint32_t>(seenAt(o, n_in) + 1, static_cast<uint32_t>(std::ceil(f * static_cast<double>(n_in))));
}

// Each prompt's bigram sketch entries, and the coverage of prompts by a training subset's sketch.
class BigramCoverage {
 public:
  BigramCoverage(const Matrix& x, uint32_t threads) : x_(x), uniq_(x.rows()) {
    parallelFor(x.rows(), threads, [&](size_t i) {
      auto& u = uniq_[i];
      for (uint64_t j = x.hash_offsets[i] + 1; j < x.hash_offsets[i + 1]; j += 2) u.push_back(x.hashes[j] >> (32 - kSketchBits));
      std::sort(u.begin(), u.end());
      u.erase(std::unique(u.begin(), u.end()), u.end());
    });
  }
  // Sketch counts over a training subset: in how many of its prompts each bigram entry occurs.
  template <typename InTrain>
  std::vector<uint32_t> counts(InTrain in_train, size_t& n_in) const {
    std::vector<uint32_t> cnt(size_t{1} << kSketchBits, 0);
    n_in = 0;
    for (size_t i = 0; i < uniq_.size(); ++i)
      if (in_train(i)) {
        ++n_in;
        for (uint32_t b : uniq_[i]) ++cnt[b];
      }
    return cnt;
  }
  // The sketch of option o over the subset that gave `cnt` (n_in prompts).
  static std::vector<uint64_t> bits(const std::vector<uint32_t>& cnt, size_t o, size_t n_in) {
    const uint32_t seen_at = seenAt(o, n_in), common_at = commonAt(o, n_in);
    std::vector<uint64_t> bits(2 * ((size_t{1} << kSketchBits) / 64), 0);
    for (size_t b = 0; b < cnt.size(); ++b) {
      if (cnt[b] >= seen_at) bits[2 * (b >> 6)] |= uint64_t{1} << (b & 63);
      if (cnt[b] >= common_at) bits[2 * (b >> 6) + 1] |= uint64_t{1} << (b & 63);
    }
    return bits;
  }
  double of(size_t i, const std::vector<uint64_t>& bits) const {
    return sketchCoverage(
        std::span<const uint32_t>(&x_.hashes[x_.hash_offsets[i]], x_.hash_offsets[i + 1] - x_.hash_offsets[i]),
        bits.data(), kSketchBits);
  }
  // For every option, the coverage of each prompt of `test` by the sketch of the prompts not
  // in it (s[o][i]).
  template <typename InTrain>
  void cover(InTrain in_train, const std::vector<uint32_t>& test, std::vector<std::vector<double>>& s) const {
    size_t n_in = 0;
    const auto cnt = counts(in_train, n_in);
    for (size_t o = 0; o < s.size(); ++o) {
      const auto b = bits(cnt, o, n_in);
      for (uint32_t i : test) s[o][i] = of(i, b);
    }
  }

 private:
  const Matrix& x_;
  std::vector<std::vector<uint32_t>> uniq_;
};

// Groups of tasks held out together (tasks beyond kMaxGroups merged; prompts without a task
// spread by id); only groups with a test prompt and two training prompts.
struct Groups {
  std::vector<std::vector<uint32_t>> train, test;
  std::string description;
};
Groups heldOutGroups(const TrainingData& data, const Tasks& tasks, uint64_t seed) {
  const size_t n = data.size(), t_count = tasks.count();
  Groups out;
  if (t_count < 2) return out;
  const size_t g_count = std::min(t_count, kMaxGroups);
  std::vector<uint32_t> grp(n, 0);
  for (size_t i = 0; i < n; ++i)
    grp[i] = tasks.of[i] >= 0 ? static_cast<uint32_t>(tasks.of[i]) % static_cast<uint32_t>(g_count)
                              : foldOf(data.ids[i], seed + 7, static_cast<uint32_t>(g_count));
  out.description = std::to_string(t_count) + " tasks in " + std::to_string(g_count) + " groups";
  std::vector<std::vector<uint32_t>> tr(g_count), te(g_count);
  for (size_t i = 0; i < n; ++i)
    for (size_t g = 0; g < g_count; ++g) (grp[i] == g ? te[g] : tr[g]).push_back(static_cast<uint32_t>(i));
  for (size_t g = 0; g < g_count; ++g)
    if (!te[g].empty() && tr[g].size() >= 2) out.train.push_back(std::move(tr[g])), out.test.push_back(std::move(te[g]));
  return out;
}

// The chosen learner's stacked logits: rows [0, n) from the random folds, [n, 2n) from the
// held-out groups (a prompt in no group keeps its random-fold logit). gz[j]: part j's group logits.
std::vector<float> stackedLogits(const OodInput& in, const Groups& groups, const std::vector<std::vector<float>>& gz) {
  const size_t n = in.data.size(), m_count = in.data.models.size();
  const Finalist& fin = in.chosen;
  std::vector<float> zz(2 * n * m_count);
  std::vector<bool> in_group(n, false);
  for (const auto& te : groups.test)
    for (uint32_t i : te) in_group[i] = true;
  for (size_t i = 0; i < n; ++i)
    for (size_t m = 0; m < m_count; ++m) {
      double zr = fin.stack.c[m], zg = fin.stack.c[m];
      for (size_t j = 0; j < fin.parts.size(); ++j) {
        const auto& o = in.oof[static_cast<size_t>(in.best.best[static_cast<size_t>(fin.parts[j])])];
        const double vr = fin.stack.a[j][m] * o[i * m_count + m];
        zr += vr;
        zg += in_group[i] ? fin.stack.a[j][m] * gz[j][i * m_count + m] : vr;
      }
      zz[i * m_count + m] = static_cast<float>(zr);
      zz[(n + i) * m_count + m] = static_cast<float>(zg);
    }
  return zz;
}

}  // namespace

OodShrinkage shrinkOutOfDistribution(const OodInput& in, const TrainOptions& opt, uint32_t threads) {
  const Matrix& x = in.x;
  const TrainingData& data = in.data;
  const Finalist& fin = in.chosen;
  const RouterModel& model = in.shape;
  const size_t n = data.size(), m_count = data.models.size();
  OodShrinkage out;
  out.p = fin.p;
  // Without tasks nothing is held out by group (no shrinkage): holding out clusters of the
  // dense cues was tried and held out exactly the structure the router must learn.
  const Groups groups = in.baseline ? Groups{} : heldOutGroups(data, in.tasks, opt.seed);
  if (groups.train.size() < 2) {
    out.report = in.baseline ? "none (the tf-idf baseline is not shrunk)"
                             : "none (the data names fewer than two tasks to hold out)";
    return out;
  }
  const BigramCoverage coverage(x, threads);
  const size_t n_opts = kCommonFractions.size() * kSeenFractions.size();
  std::vector<std::vector<double>> s_rnd(n_opts, std::vector<double>(n, 1.0)), s_grp = s_rnd;
  for (uint32_t k = 0; k < static_cast<uint32_t>(in.folds.test_rows.size()); ++k)
    coverage.cover([&](size_t i) { return in.folds.fold[i] != k; }, in.folds.test_rows[k], s_rnd);
  const size_t parts = fin.parts.size(), gn = groups.train.size();
  std::vector<std::vector<float>> gz(parts, std::vector<float>(n * m_count, 0.0f));
  {
    Progress prog(opt, "held-out groups", parts * gn);
    parallelFor(parts * gn, threads, [&](size_t job) {
      const size_t j = job / gn, g = job % gn;
      const Setting& st = in.settings[static_cast<size_t>(in.best.best[static_cast<size_t>(fin.parts[j])])];
      const uint64_t seed = opt.seed * 1000003ULL + 500 + g;
      const auto idf = st.kind == Kind::kTfidf ? idfWeights(x, groups.train[g]) : std::vector<float>();
      predictHeldOut(st, x, data, in.tasks, groups.train[g], groups.test[g], opt.epochs, seed, &idf, gz[j]);
      prog.step();
    });
  }
  for (size_t g = 0; g < gn; ++g) {
    std::vector<bool> held(n, false);
    for (uint32_t i : groups.test[g]) held[i] = true;
    coverage.cover([&](size_t i) { return !held[i]; }, groups.test[g], s_grp);
  }
  const std::vector<float> zz = stackedLogits(in, groups, gz);
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
    std::vector<float> shrunk(p.size());
    for (size_t i = 0; i < n; ++i) {
      const double lam = std::clamp(a + b * sv[i], 0.0, 1.0);
      for (size_t m = 0; m < m_count; ++m)
        shrunk[i * m_count + m] = static_cast<float>(lam * p[i * m_count + m] + (1 - lam) * model.mean_score[m]);
    }
    return shrunk;
  };
  std::vector<std::pair<double, double>> grid;
  for (double a : kShrinkA)
    for (double b : kShrinkB)
      if (!(a >= 1 && b > 0) && (a >= 0 || a + b > 0)) grid.push_back({a, b});  // no duplicate of lam = 1 or 0
  std::vector<double> vr(grid.size()), vg(grid.size());
  parallelFor(grid.size(), threads, [&](size_t gi) {
    const auto [a, b] = grid[gi];
    vr[gi] = sweepValue(sweep(model, data, shrinkP(p_rnd, s_rnd[o_use], a, b), in.est_cost), c_min, c_max,
                        model.mean_cost_usd[bm]);
    vg[gi] = sweepValue(sweep(model, data, shrinkP(p_grp, s_grp[o_use], a, b), in.est_cost), c_min, c_max,
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
                groups.description.c_str(), seenFrac(best_o), commonFrac(best_o), tried.c_str(), mr / n, mg / n,
                l0r, l1r, l0g, l1g);
  out.report = buf;
  out.p = part(shrunk, 0);
  out.sketch_bits = kSketchBits;
  size_t n_all = 0;
  const auto cnt_all = coverage.counts([](size_t) { return true; }, n_all);
  out.sketch = BigramCoverage::bits(cnt_all, best_o, n_all);
  out.applied = true;
  return out;
}

}  // namespace rightsize::routing::train_steps
