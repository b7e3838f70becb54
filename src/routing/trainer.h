#pragma once
// Training the learned router from recorded outcomes. Pure computation (the caller reads the
// files): deterministic for the same data, options and seed, whatever the thread count.
//
// What train() does (docs/router.md has the why; each step is a function of its own with
// explicit inputs and outputs, declared in routing/trainer_steps.h and unit-tested alone):
//  1. features of every prompt (routing/features.h); dense cues standardized
//     (buildFeatures, trainer_features.cc);
//  2. per-model cost model: least squares of cost on prompt bytes (fitCosts, trainer_features.cc;
//     run first, as it rejects bad scores and models without outcomes);
//  3. K-fold cross-validation inside the training data for every component and hyperparameter
//     in a small grid: per-model L2 logistic regression (lr), low-rank factorization over
//     (prompt, model) (mf), and, when the data names tasks, a learned task prior (a task
//     classifier on the text times each task's mean scores); each calibrated per model on its
//     out-of-fold logits, the best setting per component kept (splitFolds, crossValidate,
//     pickBestSettings; trainer_cv.cc, the learners in trainer_learners.cc);
//  4. stacks every combination of the best settings (per-model logistic regression on their
//     out-of-fold logits) and keeps the lowest out-of-fold log loss (or the forced learner);
//     auto keeps the tf-idf regression (at lr's lambda, never stacked, decided as the baseline)
//     instead when its out-of-fold decisions are worth more (AIQ + Q@C*);
//     then, when the data names two or more tasks, the out-of-distribution shrinkage, chosen
//     on held-out groups of tasks (stackFinalists, selectLearner: trainer_select.cc;
//     shrinkOutOfDistribution: trainer_ood.cc);
//  5. chooses the anchor bonus of the best single model and calibrates the knob, both on the
//     out-of-fold decisions: knob -> cost weight, and per knob the held-out quality as a fraction
//     of the best single model's (for `quality: Q`) (chooseAnchorBonus, calibrateKnob;
//     trainer_calibrate.cc);
//  6. refits the kept components on all the data and folds them into one table (refitAndFold,
//     trainer_refit.cc).
// train() itself (trainer.cc) checks its inputs and runs these in order.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "routing/router_model.h"

namespace rightsize::routing {

// Outcomes as the trainer needs them: N prompts x M models, row-major.
struct TrainingData {
  std::vector<std::string> models;
  std::vector<std::string> ids;     // for the fold split
  std::vector<std::string> asks;    // the text routed on (api::humanAsk for chat prompts)
  // Optional (empty, or one per prompt; "" = unknown): the prompt's task. With two or more tasks
  // the trainer also learns a task classifier on the text and each task's mean scores (a
  // learned per-task prior). Decisions never need it: they see only the text.
  std::vector<std::string> tasks;
  std::vector<float> score;         // N*M in [0, 1]; NaN where the model has no outcome
  std::vector<float> cost_usd;      // N*M; NaN where the model has no outcome

  size_t size() const { return ids.size(); }
  float scoreAt(size_t i, size_t m) const { return score[i * models.size() + m]; }
  float costAt(size_t i, size_t m) const { return cost_usd[i * models.size() + m]; }
};

struct TrainOptions {
  uint64_t seed = 1;
  uint32_t folds = 5;        // inner cross-validation folds (>= 2)
  uint32_t threads = 0;      // 0 = all cores
  uint32_t hash_bits = 16;   // 2^bits hashed feature buckets
  uint32_t epochs = 12;      // SGD passes per fit
  // auto: keep whichever learner (or stacked combination) wins on held-out folds (the stacked
  // ones by log loss; then the tf-idf baseline instead when its held-out decisions are better);
  // lr | mf | task force one component; blend forces all of them stacked;
  // tfidf-lr: the baseline, per-model logistic regression on tf-idf weighted n-grams, its raw
  // probabilities deciding (no stacking, anchor bonus or out-of-distribution shrinkage).
  std::string learner = "auto";
  // Also measure k-nearest-neighbours (cosine on the hashed n-grams; k by the same inner
  // cross-validation) on the held-out folds, for comparison only: it needs the whole training
  // set at decision time, too slow for the io thread, so it is never the kept learner.
  bool compare_knn = false;
  // Called from worker threads (serialized by the trainer) as work completes.
  std::function<void(std::string_view stage, size_t done, size_t total)> progress;
};

// How one learner did on the held-out folds (its predictions for each prompt came from a fit
// that never saw that prompt).
struct LearnerScore {
  std::string name;          // e.g. "lr(lambda=1e-05)"
  double log_loss = 0;       // mean over observed (prompt, model) pairs, after calibration
  double brier = 0;
  // Held-out decisions over the calibration sweep: (mean cost USD, mean score), cheapest first.
  std::vector<std::pair<double, double>> curve;
};

struct TrainReport {
  size_t prompts = 0;
  size_t observed = 0;                 // (prompt, model) pairs with an outcome
  std::vector<LearnerScore> tried;     // every hyperparameter setting and learner
  std::vector<LearnerScore> finalists; // the calibrated lr, mf and blend with their best settings
  std::string chosen;                  // name of the kept learner
  double anchor_bonus = 0;             // kept anchor bonus (RouterModel::anchor_bonus)
  std::vector<std::pair<double, double>> anchor_values;  // (bonus, held-out AIQ + Q@C*) tried
  // Out-of-distribution shrinkage: how the held-out groups were formed and the log loss of the
  // random-fold and held-out-group predictions without and with it (one line).
  std::string ood;
  // The stacked choice's held-out decision value (AIQ + Q@C*) minus the tf-idf finalist's, and the
  // bootstrap standard error of that gap (auto; the error only below 1,000 training prompts,
  // where the stacked choice is kept only when gap > 2 se; above, when gap >= 0).
  double selection_gap = 0, selection_gap_se = 0;
};

// Trains a router. kInvalidArgument when the data cannot train one (no prompts, no models,
// a model with no outcome, bad options).
Result<RouterModel> train(const TrainingData& data, const TrainOptions& options, TrainReport* report = nullptr);

// The prompt's fold in [0, folds): a hash of id and seed, so a split is stable when prompts are
// added or reordered. Shared with the cross-validation tooling.
uint32_t foldOf(std::string_view id, uint64_t seed, uint32_t folds);

}  // namespace rightsize::routing
