#pragma once
// The learned router: what `rightsize train` writes and `decide`, `route` and the `learned`
// policy read. It predicts, from the prompt text alone, each model's probability of a good
// answer, estimates each model's cost, and turns one knob in [0, 1] into a choice:
// knob 0 = cheapest model, knob 1 = best predicted quality, monotone in between.
//
// Decision rule: for knob k, a cost weight w(k) >= 0 is read from a table calibrated at train
// time, and the chosen model maximizes  p_m - w * cost_m / cost_scale  (ties: cheaper, then
// earlier). For a fixed prompt the chosen model's cost and predicted quality never decrease
// as k grows.
//
// Thread-safety: a loaded RouterModel is immutable; every const method may run concurrently.

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "routing/features.h"

namespace rightsize::routing {

inline constexpr uint32_t kRouterFormatVersion = 2;
inline constexpr char kRouterMagic[8] = {'R', 'S', 'R', 'O', 'U', 'T', 'E', 'R'};
// Largest predictor table a router file may ask for: (1 << hash_bits) rows × outputs rounded up
// to 4, in floats (256 MB). The table is stored sparsely, so the file's size does not bound it;
// the reader refuses more before allocating, and the trainer refuses to build more.
inline constexpr size_t kMaxTableFloats = size_t{1} << 26;

// Per-model cost estimate: max(0, base_usd + per_byte_usd * prompt_bytes).
struct CostModel {
  double base_usd = 0;
  double per_byte_usd = 0;
  double estimate(size_t prompt_bytes) const {
    double c = base_usd + per_byte_usd * static_cast<double>(prompt_bytes);
    return c > 0 ? c : 0;
  }
};

// One row of the knob calibration table, measured on out-of-fold predictions at train time.
struct KnobPoint {
  double knob = 0;     // in [0, 1], increasing along the table
  double weight = 0;   // cost weight w at this knob, decreasing along the table
  double cost_usd = 0; // mean cost of the decisions (held-out folds)
  double quality = 0;  // mean score of the decisions (held-out folds), as a fraction of the best single model's
};

// The predictor: a linear read-out of the hashed features, one logit per model:
//   logit_m = bias_m + sparse_scale * sum over buckets b of table[b][m] + dense_std . dense_w[:, m]
// Whatever learners were stacked at train time (logistic regression, low-rank factorization,
// their calibrated blend) are linear in these inputs, so they are folded into this one table:
// one cache line per bucket at decision time.
struct LinearHead {
  uint32_t outputs = 0;        // number of models (+ number of tasks, see RouterModel::tasks)
  uint32_t stride = 0;         // floats per table row in memory (outputs rounded up to a multiple of 4)
  std::vector<float> table;    // (1 << hash_bits) * stride; rows no training prompt touched are 0
  std::vector<float> bias;     // outputs
  std::vector<float> dense_w;  // kDenseFeatures * outputs, [d * outputs + column]
  // Sizes the table for `outputs` models (zero-filled).
  void reset(uint32_t hash_bits, uint32_t outputs);
  float* row(uint32_t bucket) { return &table[static_cast<size_t>(bucket) * stride]; }
  const float* row(uint32_t bucket) const { return &table[static_cast<size_t>(bucket) * stride]; }
};

class RouterModel {
 public:
  // ---- what is learned (public so the trainer and tests can build one; treat as read-only) ----
  uint32_t hash_bits = 16;
  std::vector<std::string> models;          // router model names, as in the outcomes
  std::vector<CostModel> costs;             // per model
  std::vector<double> mean_score;           // per model, on the training data
  std::vector<double> mean_cost_usd;        // per model, on the training data
  double best_single_quality = 0;           // Q*: highest mean score of one model on the training data
  double cost_scale_usd = 1;                // costs are divided by this in the utility
  std::array<float, kDenseFeatures> dense_mean{};
  std::array<float, kDenseFeatures> dense_inv_std{};
  LinearHead head;
  // Learned task prior (optional; empty when the training data named fewer than two tasks):
  // head columns M..M+T-1 are a task classifier's logits; with P = softmax of them,
  // logit_m += task_weight[m] * logit(sum_t P_t * task_mu[t][m]).
  std::vector<std::string> tasks;   // T names
  std::vector<float> task_mu;       // T * M: each task's (shrunk) mean score per model
  std::vector<float> task_weight;   // M (empty when T == 0)
  std::vector<KnobPoint> knobs;
  // Anchor: the best single model on the training data gets `anchor_bonus` added to its
  // predicted quality when choosing (not to the reported probability). Chosen on held-out folds
  // (0 allowed): it counters the winner's curse of picking by noisy estimates at high knobs.
  int anchor_model = -1;
  double anchor_bonus = 0;
  // Novelty (format 2): per bigram hash (its top `sketch_bits` bits), whether it occurs in at
  // least two training prompts (seen) and whether in so many that it says nothing about the kind
  // of prompt (common; the threshold is chosen at train time). coverage() = the fraction of a
  // prompt's non-common bigrams that were seen (sketchCoverage).
  uint32_t sketch_bits = 0;          // 0: no sketch (coverage is 1)
  std::vector<uint64_t> sketch;      // 2 * (1 << sketch_bits) / 64 words, interleaved seen/common
  // Out-of-distribution shrinkage (empty = none): ood = {a, b}; with s = coverage and
  // lam = clamp(a + b s, 0, 1), each model's probability becomes lam p_m + (1 - lam) mean_score[m],
  // chosen at train time on held-out decisions of both random folds and held-out groups (tasks),
  // so on prompts unlike the training data the router falls back towards the zero router.
  std::vector<float> ood;
  std::string description;     // how it was trained (learner, hyperparameters, data), one line

  // ---- use ----
  size_t modelCount() const { return models.size(); }
  // Index of a model name, or -1.
  int modelIndex(std::string_view name) const;

  // Success probability per model for `ask` (out.size() must be modelCount()). Allocation-free
  // after a thread's first call (uses a thread_local feature buffer).
  void predict(std::string_view ask, std::span<double> out) const;
  // Same, from precomputed features.
  void predictFeatures(const PromptFeatures& f, std::span<double> out) const;

  // Fraction of the prompt's non-common bigrams seen in >= 2 training prompts (1 without a sketch).
  double coverage(const PromptFeatures& f) const;

  // Learned cost estimate of `model` for a prompt of `prompt_bytes` bytes, in USD.
  double estimateCostUsd(size_t model, size_t prompt_bytes) const { return costs[model].estimate(prompt_bytes); }

  // The cost weight for knob k (k <= 0: +infinity, i.e. cheapest; k >= 1: 0, i.e. best predicted).
  double weightForKnob(double knob) const;
  // The smallest calibrated knob whose held-out quality reached `target` (a fraction of the best
  // single model's quality); 1 when no knob did. Non-decreasing in target.
  double knobForQuality(double target) const;

  // Chooses among the entries with allowed[i] != 0 (all when `allowed` is empty): maximizes
  // p - w*cost/cost_scale (+ anchor_bonus for entry `anchor`, -1 = none) for w = weightForKnob(knob).
  // p, cost_usd: same length. Returns the index, or -1 when nothing is allowed.
  int choose(std::span<const double> p, std::span<const double> cost_usd, std::span<const uint8_t> allowed,
             double knob, int anchor) const;
  int chooseWithWeight(std::span<const double> p, std::span<const double> cost_usd, std::span<const uint8_t> allowed,
                       double weight, int anchor) const;

  // ---- file ----
  // The router file: magic, format version, payload length, payload, CRC-32 of the payload.
  // Same model -> same bytes.
  std::string serialize() const;
  // Rejects anything that is not a complete, intact router file of this format and feature
  // version with kCorruptData (the message says what is wrong). `source` names it in messages.
  static Result<RouterModel> parse(std::string_view bytes, const std::string& source);
  // Reads and parses a file; kIo when it can't be read.
  static Result<RouterModel> load(const std::string& path);
  // Writes serialize() to `path` (via a temporary file and rename). kIo on failure.
  Result<void> save(const std::string& path) const;

  // Checks internal consistency (sizes); used by parse() and by the trainer's tests.
  Result<void> validate() const;
};

// Coverage of a prompt by a novelty sketch: among its bigram hashes (odd entries of `hashes`)
// that are not common (common bit unset), the fraction seen in training (seen bit set); 1 when
// every bigram is common or there is none. Entry b = top `bits` bits of a hash; the sketch
// interleaves per 64 entries a word of seen bits and a word of common bits (same cache line).
// Shared by training and prediction.
inline double sketchCoverage(std::span<const uint32_t> hashes, const uint64_t* sketch, uint32_t bits) {
  uint32_t seen = 0, total = 0;
  const uint32_t shift = 32 - bits;
  for (size_t j = 1; j < hashes.size(); j += 2) {
    const uint32_t b = hashes[j] >> shift;
    const uint64_t* w = sketch + 2 * (b >> 6);
    const uint64_t bit = uint64_t{1} << (b & 63);
    const uint32_t rare = (w[1] & bit) == 0;
    total += rare;
    seen += rare & static_cast<uint32_t>((w[0] & bit) != 0);
  }
  return total == 0 ? 1.0 : static_cast<double>(seen) / static_cast<double>(total);
}

// Logistic function, shared by training and prediction.
inline double sigmoid(double z) {
  if (z >= 0) {
    double e = std::exp(-z);
    return 1.0 / (1.0 + e);
  }
  double e = std::exp(z);
  return e / (1.0 + e);
}

}  // namespace rightsize::routing
