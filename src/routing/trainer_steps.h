#pragma once
// The steps of train() (routing/trainer.h), each a function with explicit inputs and outputs so
// that it can be tested alone. Internal to routing/: included by trainer*.cc and the unit tests,
// by nothing else. Pure computation; a step given `threads` runs independent jobs in parallel and
// returns the same result for any thread count.
//
// Files: trainer.cc (train(): checks and the sequence of steps), trainer_learners.cc (the
// learners' fits and read-outs), trainer_features.cc (steps 1, 2 and the shared machinery),
// trainer_cv.cc (step 3: the fold and task split, cross-validation, kNN), trainer_select.cc
// (step 4), trainer_ood.cc (the out-of-distribution shrinkage), trainer_calibrate.cc (the
// held-out decision sweep, step 5), trainer_refit.cc (step 6).

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "routing/features.h"
#include "routing/router_model.h"
#include "routing/trainer.h"

namespace rightsize::routing::train_steps {

// Dense cues enter the learners standardized and scaled by this, so that they weigh about as
// much as the unit-length sparse part and one SGD step size suits both.
inline constexpr float kDenseScale = 0.25f;
inline constexpr uint32_t kMfRank = 8;
inline constexpr size_t kMaxTasks = 256;
// Small data: below this many training prompts auto's tf-idf finalist searches the whole lambda
// grid as the baseline does (above it, lr's chosen lambda only: training time), and the stacked
// choice must beat it by more than two bootstrap standard errors (selectLearner; above it, by
// anything: on RouterBench the burden of proof flipped folds to the tf-idf finalist, docs/router.md).
inline constexpr size_t kSmallDataPrompts = 1000;

// ---- shared machinery ----

// Runs fn(0..n-1) on up to `threads` threads (inline when threads <= 1); returns when all ran.
void parallelFor(size_t n, uint32_t threads, const std::function<void(size_t)>& fn);

// splitmix64: a small deterministic generator whose sequence is the same on every platform
// (std::shuffle and the std distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return next() % n; }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }

 private:
  uint64_t s_;
};

// Reports a stage's completed jobs to TrainOptions::progress (serialized; callable from workers).
class Progress {
 public:
  Progress(const TrainOptions& o, std::string stage, size_t total);
  void step();

 private:
  const TrainOptions& o_;
  std::string stage_;
  size_t total_;
  size_t done_ = 0;
  std::mutex mu_;
};

// "%g" of a hyperparameter, as in learner names and the router's description.
std::string fmtLambda(double v);

// Features of every training prompt, flattened.
struct Matrix {
  uint32_t bits = 16;
  std::vector<uint32_t> buckets;
  std::vector<uint32_t> hashes;        // the word n-grams' 32-bit hashes (PromptFeatures::hashes)
  std::vector<uint64_t> hash_offsets;  // N+1, into hashes
  std::vector<uint64_t> offsets;       // N+1, into buckets
  std::vector<float> scale;            // N
  std::vector<float> dense;            // N*kDenseFeatures, standardized * kDenseScale
  std::vector<uint32_t> bytes;         // N prompt lengths
  size_t rows() const { return scale.size(); }
};

// The named tasks of the data, when it names 2..kMaxTasks of them (else none).
struct Tasks {
  std::vector<std::string> names;  // sorted
  std::vector<int> of;             // N: index into names, -1 = no task
  size_t count() const { return names.size(); }
};

// The inner cross-validation split: fold k holds out test_rows[k] and trains on train_rows[k].
struct Folds {
  std::vector<uint32_t> fold;  // N: the prompt's fold (foldOf)
  std::vector<std::vector<uint32_t>> train_rows, test_rows;
};

// ---- the learners (trainer_learners.cc): fits on `rows`, logits of one prompt ----

struct LrFit {  // per-model logistic regression on the hashed features
  std::vector<float> table;    // D*M
  std::vector<float> bias;     // M
  std::vector<float> dense_w;  // kDense*M (for the scaled dense input)
};
// `idf` (optional, one weight per bucket) multiplies each n-gram's value (the tf-idf baseline);
// `use_dense` false leaves the dense cues out.
LrFit fitLr(const Matrix& x, const TrainingData& data, const std::vector<uint32_t>& rows, double lambda,
            uint32_t epochs, uint64_t seed, const std::vector<float>* idf = nullptr, bool use_dense = true);
void lrLogits(const LrFit& fit, const Matrix& x, size_t m_count, uint32_t i, float* z,
              const std::vector<float>* idf = nullptr);

struct MfFit {  // low-rank factorization: a shared prompt embedding (rank columns) read out per model
  std::vector<float> emb;      // D*rank
  std::vector<float> out;      // rank*M
  std::vector<float> bias;     // M
  std::vector<float> dense_w;  // kDense*M
};
MfFit fitMf(const Matrix& x, const TrainingData& data, const std::vector<uint32_t>& rows, double lambda,
            uint32_t epochs, uint64_t seed);
void mfLogits(const MfFit& fit, const Matrix& x, size_t m_count, uint32_t i, float* z);

struct TaskFit {  // task classifier (softmax regression) on the text
  std::vector<float> table;    // D*T
  std::vector<float> bias;     // T
  std::vector<float> dense_w;  // kDense*T
};
TaskFit fitTask(const Matrix& x, const std::vector<int>& task_of, size_t t_count, const std::vector<uint32_t>& rows,
                double lambda, uint32_t epochs, uint64_t seed);
void taskProbs(const TaskFit& fit, const Matrix& x, size_t t_count, uint32_t i, double* p);
// Each task's mean score per model over `rows` (T*M), shrunk towards the model's overall mean.
std::vector<float> taskMeans(const TrainingData& data, const std::vector<int>& task_of, size_t t_count,
                             const std::vector<uint32_t>& rows);
// logit of the task-weighted mean score (clamped away from 0 and 1).
float priorLogit(const double* probs, const float* mu, size_t t_count, size_t m_count, size_t m);
// Smoothed, normalized idf per bucket over `rows` (the tf-idf baseline).
std::vector<float> idfWeights(const Matrix& x, const std::vector<uint32_t>& rows);

// Calibration / stacking: per model, logistic regression of the score on a few logits.
struct Stack {
  std::vector<std::vector<double>> a;  // [input][model]
  std::vector<double> c;               // [model]
};
using Inputs = std::vector<const std::vector<float>*>;  // each N*M logits
Stack fitStack(const TrainingData& data, const Inputs& inputs);
Stack identityStack(size_t inputs, size_t m_count);  // each input's logits as they are
std::vector<float> applyStack(const Stack& st, size_t n, size_t m_count, const Inputs& inputs);
// Mean log loss and Brier score of probabilities p (N*M) over the observed pairs.
void lossOf(const TrainingData& data, const std::vector<float>& p, double& log_loss, double& brier);

// ---- step 1: features (trainer_features.cc) ----

struct Features {
  Matrix x;
  std::array<float, kDenseFeatures> dense_mean{};     // RouterModel::dense_mean
  std::array<float, kDenseFeatures> dense_inv_std{};  // RouterModel::dense_inv_std
};
// Features of every prompt of `data` (data.asks), the dense cues standardized over them.
Features buildFeatures(const TrainingData& data, uint32_t hash_bits, uint32_t threads, const TrainOptions& progress);

// ---- step 2: per-model cost model (trainer_features.cc) ----

struct CostFit {
  std::vector<CostModel> costs;       // per model: least squares of cost on prompt bytes
  std::vector<double> mean_score;     // per model, over its observed prompts
  std::vector<double> mean_cost_usd;  // per model, over its observed prompts (missing cost = 0)
  size_t observed = 0;                // (prompt, model) pairs with an outcome
};
// kInvalidArgument when a score is outside [0, 1] or a model has no outcome.
Result<CostFit> fitCosts(const TrainingData& data);
// Estimated cost of every (prompt, model): N*M, from `costs` and the prompts' byte lengths.
std::vector<double> estimatedCosts(const std::vector<CostModel>& costs, const Matrix& x);

// ---- step 3: inner cross-validation (trainer_cv.cc) ----

// kInvalidArgument when a fold is empty.
Result<Folds> splitFolds(const TrainingData& data, uint64_t seed, uint32_t folds);
Tasks indexTasks(const TrainingData& data);

enum class Kind { kLr, kMf, kTask, kTfidf };
inline constexpr size_t kKinds = 4;
struct Setting {
  Kind kind;
  double lambda;
};
// Every (component, lambda) of the grid for the wanted components, in the order lr, mf, task, tfidf.
std::vector<Setting> settingGrid(bool lr, bool mf, bool task, bool tfidf);
std::string settingName(const Setting& st, size_t t_count);

// Fits `st` on `train` and writes the logits of each prompt i of `test` to out[i*M .. i*M+M).
// `idf`: the tf-idf weights over `train` (kTfidf only).
void predictHeldOut(const Setting& st, const Matrix& x, const TrainingData& data, const Tasks& tasks,
                    const std::vector<uint32_t>& train, const std::vector<uint32_t>& test, uint32_t epochs,
                    uint64_t seed, const std::vector<float>* idf, std::vector<float>& out);

// Out-of-fold logits of every setting: result[s] is N*M, each prompt's from the fit of its fold
// (which never saw it). Seeds: options.seed * 1000003 + fold.
std::vector<std::vector<float>> crossValidate(const Matrix& x, const TrainingData& data, const Tasks& tasks,
                                              const Folds& folds, const std::vector<Setting>& settings,
                                              const TrainOptions& options, uint32_t threads);

// The best setting of each component by out-of-fold log loss after per-model calibration
// (`calibrate` false: the logits as they are, for the baseline).
struct BestSettings {
  std::array<int, kKinds> best = {-1, -1, -1, -1};  // index into settings per Kind, -1 = not tried
  std::vector<LearnerScore> tried;                   // one per setting, in order
};
BestSettings pickBestSettings(const TrainingData& data, const std::vector<Setting>& settings,
                              const std::vector<std::vector<float>>& oof, bool calibrate, size_t t_count);

// kNN on the held-out folds, for comparison only: each k's score (`tried`) and the best k's
// score with its curve (`finalist`).
struct KnnComparison {
  std::vector<LearnerScore> tried;
  LearnerScore finalist;
};

// ---- the held-out decision sweep (trainer_calibrate.cc) ----

struct SweepPoint {
  double weight = 0;
  double pred_cost = 0;   // mean learned cost estimate of the choices (what the knob is spaced by)
  double real_cost = 0;   // mean recorded cost (estimate where the model has no outcome)
  double quality = 0;     // mean recorded score (prediction where the model has no outcome)
};
// Decisions of `shape` (its cost scale, anchor model and bonus) on probabilities p (N*M) and
// estimated costs for every cost weight of the grid, from 1e5 down to 0 (cheapest first).
std::vector<SweepPoint> sweep(const RouterModel& shape, const TrainingData& data, const std::vector<float>& p,
                              const std::vector<double>& est_cost);
// The terms a sweep averages: out[w * N + i] is prompt i's decision at the grid's w-th weight
// (its predicted and recorded cost and quality, as in sweep()), for resampling prompts.
std::vector<SweepPoint> sweepTerms(const RouterModel& shape, const TrainingData& data, const std::vector<float>& p,
                                   const std::vector<double>& est_cost);
// Held-out value of a sweep: mean quality of its upper hull over [c_min, c_max] plus the hull's
// quality at c_star (evals' AIQ + Q@C*).
double sweepValue(const std::vector<SweepPoint>& sw, double c_min, double c_max, double c_star);
// The best single model: highest mean score, the cheaper on ties.
size_t bestSingleModel(const std::vector<double>& mean_score, const std::vector<double>& mean_cost_usd);

KnnComparison compareKnn(const Matrix& x, const TrainingData& data, const Folds& folds, uint32_t threads,
                         const RouterModel& shape, const std::vector<double>& est_cost);

// ---- step 4: stacking and selection (trainer_select.cc) ----

struct Finalist {
  std::vector<Kind> parts;  // components stacked, each at its best setting
  Stack stack;              // per model, over the parts' out-of-fold logits
  std::vector<float> p;     // N*M stacked out-of-fold probabilities
  std::string name;
};
// Every non-empty combination of the lr, mf and task components that have a best setting,
// stacked per model on their out-of-fold logits (`calibrate` false: identity stacks); the last
// of these holds them all. Then, when tf-idf has a best setting, the tf-idf regression alone,
// uncalibrated (identity stack): it is never stacked.
std::vector<Finalist> stackFinalists(const TrainingData& data, const std::vector<Setting>& settings,
                                     const std::vector<std::vector<float>>& oof, const BestSettings& best,
                                     bool calibrate, size_t t_count);
// The tf-idf finalist: decided like the baseline (no stacking, shrinkage or anchor bonus).
bool isPlainTfidf(const Finalist& f);

inline constexpr uint32_t kBootstrapResamples = 200;  // selectLearner's paired bootstrap on small data

struct Selection {
  int chosen = -1;                               // index into finalists, -1 = none eligible
  // The stacked choice's held-out decision value minus the tf-idf finalist's, and the paired
  // bootstrap standard error of that difference (0 without a tf-idf finalist or a stacked one;
  // the standard error only on small data and when the gap is positive).
  double gap = 0, gap_se = 0;
  std::vector<LearnerScore> scores;              // one per finalist, with its sweep's curve
  std::vector<std::vector<SweepPoint>> sweeps;   // one per finalist
};
// The stacked finalist with the lowest out-of-fold log loss (`all_parts_only`: among those that
// stack every component, a forced learner); then the tf-idf finalist (isPlainTfidf) instead when
// the value of its out-of-fold decisions (sweepValue: AIQ + Q@C* over the mean costs of `shape`'s
// models) is higher. On small data (fewer than kSmallDataPrompts prompts) the burden of proof is on
// the more complex learner: the stacked choice is kept only when its value exceeds the tf-idf
// finalist's by more than two standard errors of the difference (a paired bootstrap over the
// prompts, kBootstrapResamples resamples, fixed seed). Sweeps decide with `shape`.
Selection selectLearner(const RouterModel& shape, const TrainingData& data, const std::vector<Finalist>& finalists,
                        const std::vector<double>& est_cost, bool all_parts_only);

// ---- out-of-distribution shrinkage (trainer_ood.cc) ----

struct OodInput {
  const Matrix& x;
  const TrainingData& data;
  const Tasks& tasks;
  const Folds& folds;
  const std::vector<Setting>& settings;
  const BestSettings& best;
  const std::vector<std::vector<float>>& oof;
  const Finalist& chosen;
  const std::vector<double>& est_cost;
  const RouterModel& shape;  // costs, means and cost scale (no anchor bonus yet)
  bool baseline = false;     // the tf-idf baseline is never shrunk
};
struct OodShrinkage {
  bool applied = false;              // false: no held-out groups (fewer than two tasks, or baseline)
  std::vector<float> ood;            // RouterModel::ood ({a, b}) when applied
  uint32_t sketch_bits = 0;          // RouterModel::sketch_bits / sketch when applied
  std::vector<uint64_t> sketch;
  std::vector<float> p;              // the chosen learner's out-of-fold probabilities, shrunk when applied
  std::string report;                // TrainReport::ood
};
// Holds out groups of tasks, and chooses (a, b) of p' = lam p + (1 - lam) mean, lam = clamp(a + b s),
// s = bigram coverage, by the held-out decision value of the random folds plus the groups.
OodShrinkage shrinkOutOfDistribution(const OodInput& in, const TrainOptions& options, uint32_t threads);

// ---- step 5: anchor bonus and knob calibration (trainer_calibrate.cc) ----

struct AnchorChoice {
  int anchor_model = -1;                                 // RouterModel::anchor_model
  double bonus = 0;                                      // RouterModel::anchor_bonus
  std::vector<std::pair<double, double>> values;         // (bonus, held-out value) tried, 0 first
  std::vector<SweepPoint> sweep;                         // the sweep at the kept bonus
};
// The anchor bonus of the best single model maximizing the held-out decision value of p;
// `at_zero` is the sweep at bonus 0 (already computed). `try_bonuses` false keeps 0 (baseline).
AnchorChoice chooseAnchorBonus(RouterModel shape, const TrainingData& data, const std::vector<float>& p,
                               const std::vector<double>& est_cost, std::vector<SweepPoint> at_zero,
                               bool try_bonuses);
// The knob table from a sweep (cheapest first): knob increasing in [0, 1], ending at knob 1 =
// weight 0; quality as a fraction of `best_single_quality`.
std::vector<KnobPoint> calibrateKnob(const std::vector<SweepPoint>& sw, double best_single_quality);

// ---- step 6: refit on all data and fold into one table (trainer_refit.cc) ----

struct FoldedHead {
  LinearHead head;
  std::vector<std::string> tasks;  // RouterModel::tasks, task_mu, task_weight (empty without the task part)
  std::vector<float> task_mu;
  std::vector<float> task_weight;
};
// Refits the chosen finalist's parts on every prompt (seed options.seed * 1000003 + 999) and folds
// them, weighted by its stack, into one linear head.
FoldedHead refitAndFold(const Matrix& x, const TrainingData& data, const Tasks& tasks,
                        const std::vector<Setting>& settings, const BestSettings& best, const Finalist& chosen,
                        const TrainOptions& options, uint32_t threads);

}  // namespace rightsize::routing::train_steps
