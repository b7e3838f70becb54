// train(): the checks on its inputs and the sequence of its steps (routing/trainer_steps.h).
#include "routing/trainer.h"

#include <algorithm>
#include <thread>

#include "routing/trainer_steps.h"

namespace rightsize::routing {
namespace {

uint64_t hashString(std::string_view s, uint64_t seed) {
  uint64_t h = 1469598103934665603ULL ^ (seed * 0x9E3779B97F4A7C15ULL);
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ULL;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

Result<void> checkInputs(const TrainingData& data, const TrainOptions& opt) {
  const size_t n = data.size();
  const size_t m_count = data.models.size();
  if (m_count == 0) return fail(ErrorCode::kInvalidArgument, "no models to train on");
  if (n < 2 * static_cast<size_t>(std::max<uint32_t>(opt.folds, 2)))
    return fail(ErrorCode::kInvalidArgument, "too few prompts to train on: " + std::to_string(n));
  if (data.asks.size() != n || data.score.size() != n * m_count || data.cost_usd.size() != n * m_count ||
      (!data.tasks.empty() && data.tasks.size() != n))
    return fail(ErrorCode::kInvalidArgument, "training data sizes differ");
  if (opt.folds < 2) return fail(ErrorCode::kInvalidArgument, "need at least 2 folds");
  if (opt.hash_bits < 10 || opt.hash_bits > 24) return fail(ErrorCode::kInvalidArgument, "hash_bits must be 10..24");
  if (opt.learner != "auto" && opt.learner != "lr" && opt.learner != "mf" && opt.learner != "task" &&
      opt.learner != "blend" && opt.learner != "tfidf-lr")
    return fail(ErrorCode::kInvalidArgument,
                "unknown learner '" + opt.learner + "' (auto, lr, mf, task, blend, tfidf-lr)");
  return {};
}

}  // namespace

uint32_t foldOf(std::string_view id, uint64_t seed, uint32_t folds) {
  return folds == 0 ? 0 : static_cast<uint32_t>(hashString(id, seed) % folds);
}

Result<RouterModel> train(const TrainingData& data, const TrainOptions& opt, TrainReport* report) {
  using namespace train_steps;
  if (auto ok = checkInputs(data, opt); !ok) return fail(ok.error());
  const size_t n = data.size();
  const size_t m_count = data.models.size();
  const uint32_t threads =
      opt.threads > 0 ? opt.threads : std::max(1u, std::thread::hardware_concurrency());

  RouterModel model;
  model.hash_bits = opt.hash_bits;
  model.models = data.models;

  // Step 2 first: it rejects bad scores and models without outcomes before any work.
  auto cost_fit = fitCosts(data);
  if (!cost_fit) return fail(cost_fit.error());
  model.costs = std::move(cost_fit->costs);
  model.mean_score = std::move(cost_fit->mean_score);
  model.mean_cost_usd = std::move(cost_fit->mean_cost_usd);
  model.best_single_quality = *std::max_element(model.mean_score.begin(), model.mean_score.end());
  model.cost_scale_usd = std::max(1e-12, *std::max_element(model.mean_cost_usd.begin(), model.mean_cost_usd.end()));

  // Step 1.
  Features features = buildFeatures(data, opt.hash_bits, threads, opt);
  const Matrix& x = features.x;
  model.dense_mean = features.dense_mean;
  model.dense_inv_std = features.dense_inv_std;
  const std::vector<double> est_cost = estimatedCosts(model.costs, x);

  // Step 3: the split, the components wanted, and their out-of-fold logits.
  auto folds = splitFolds(data, opt.seed, opt.folds);
  if (!folds) return fail(folds.error());
  const Tasks tasks = indexTasks(data);
  const size_t t_count = tasks.count();
  const std::string& L = opt.learner;
  // The tf-idf baseline (learner "tfidf-lr"): per-model logistic regression on tf-idf weighted
  // n-grams alone, its raw probabilities (no stacking, anchor bonus or shrinkage), the same knob
  // calibration and decision rule. auto also cross-validates it, never stacked (stacked, it
  // lowered the held-out log loss but cost RouterBench 0.005 AIQ; docs/router.md), as one more
  // finalist that is kept, as it is, when its held-out decisions beat the stacked choice's.
  const bool baseline = L == "tfidf-lr";
  if (L == "task" && t_count == 0)
    return fail(ErrorCode::kInvalidArgument, "learner 'task' needs at least two tasks in the data");
  if ((size_t{1} << opt.hash_bits) * ((m_count + t_count + 3) / 4 * 4) > kMaxTableFloats)
    return fail(ErrorCode::kInvalidArgument,
                "hash_bits=" + std::to_string(opt.hash_bits) + " with " + std::to_string(m_count + t_count) +
                    " models and tasks needs a predictor table over the router file limit; lower hash_bits");
  std::vector<Setting> settings =
      settingGrid(L == "auto" || L == "lr" || L == "blend", L == "auto" || L == "mf" || L == "blend",
                  (L == "auto" || L == "task" || L == "blend") && t_count > 0, baseline);
  auto oof = crossValidate(x, data, tasks, *folds, settings, opt, threads);
  BestSettings best = pickBestSettings(data, settings, oof, !baseline, t_count);
  if (L == "auto" && best.best[static_cast<size_t>(Kind::kLr)] >= 0) {
    // auto's tf-idf regression at lr's chosen lambda only (its own grid would cost as many fits
    // as lr's: training time), except on small data (below kSmallDataPrompts prompts), where the
    // fits are cheap and the tf-idf finalist, then usually kept, searches the baseline's grid.
    std::vector<Setting> tfidf = settingGrid(false, false, false, true);
    if (n >= kSmallDataPrompts)
      tfidf = {{Kind::kTfidf, settings[static_cast<size_t>(best.best[static_cast<size_t>(Kind::kLr)])].lambda}};
    auto tfidf_oof = crossValidate(x, data, tasks, *folds, tfidf, opt, threads);
    for (size_t s = 0; s < tfidf.size(); ++s) {
      settings.push_back(tfidf[s]);
      oof.push_back(std::move(tfidf_oof[s]));
    }
    best = pickBestSettings(data, settings, oof, true, t_count);
  }

  TrainReport rep;
  rep.prompts = n;
  rep.observed = cost_fit->observed;
  rep.tried = std::move(best.tried);

  // Step 4: stack every combination of the best settings and keep one.
  const std::vector<Finalist> finalists = stackFinalists(data, settings, oof, best, !baseline, t_count);
  Selection selection = selectLearner(model, data, finalists, est_cost, L != "auto");
  rep.finalists = std::move(selection.scores);
  rep.selection_gap = selection.gap;
  rep.selection_gap_se = selection.gap_se;
  if (opt.compare_knn) {
    KnnComparison knn = compareKnn(x, data, *folds, threads, model, est_cost);
    rep.tried.insert(rep.tried.end(), knn.tried.begin(), knn.tried.end());
    if (!knn.finalist.name.empty()) rep.finalists.push_back(std::move(knn.finalist));
  }
  if (selection.chosen < 0) return fail(ErrorCode::kInternal, "no learner was trained");
  const Finalist& fin = finalists[static_cast<size_t>(selection.chosen)];
  std::vector<SweepPoint> chosen_sweep = std::move(selection.sweeps[static_cast<size_t>(selection.chosen)]);
  rep.chosen = fin.name;
  const bool plain = isPlainTfidf(fin);

  // Out-of-distribution shrinkage: everything after (anchor, knob table) is calibrated on the
  // shrunk random-fold predictions, as the router will predict.
  OodShrinkage ood = shrinkOutOfDistribution({x, data, tasks, *folds, settings, best, oof, fin, est_cost, model, plain},
                                             opt, threads);
  rep.ood = std::move(ood.report);
  if (ood.applied) {
    model.ood = std::move(ood.ood);
    model.sketch_bits = ood.sketch_bits;
    model.sketch = std::move(ood.sketch);
    chosen_sweep = sweep(model, data, ood.p, est_cost);
  }

  // Step 5.
  AnchorChoice anchor = chooseAnchorBonus(model, data, ood.p, est_cost, std::move(chosen_sweep), !plain);
  model.anchor_model = anchor.anchor_model;
  model.anchor_bonus = anchor.bonus;
  rep.anchor_bonus = anchor.bonus;
  rep.anchor_values = std::move(anchor.values);
  model.knobs = calibrateKnob(anchor.sweep, model.best_single_quality);

  // Step 6.
  FoldedHead folded = refitAndFold(x, data, tasks, settings, best, fin, opt, threads);
  model.head = std::move(folded.head);
  model.tasks = std::move(folded.tasks);
  model.task_mu = std::move(folded.task_mu);
  model.task_weight = std::move(folded.task_weight);

  model.description = "learner=" + rep.chosen + " prompts=" + std::to_string(n) + " models=" +
                      std::to_string(m_count) + " folds=" + std::to_string(opt.folds) + " seed=" +
                      std::to_string(opt.seed) + " hash_bits=" + std::to_string(opt.hash_bits) +
                      " epochs=" + std::to_string(opt.epochs) + " anchor=" + model.models[static_cast<size_t>(model.anchor_model)] +
                      "+" + fmtLambda(model.anchor_bonus) + (model.ood.empty() ? "" : " ood=coverage");
  if (auto v = model.validate(); !v) return fail(ErrorCode::kInternal, "trained router is inconsistent: " + v.error().message);
  if (report) *report = std::move(rep);
  return model;
}

}  // namespace rightsize::routing
