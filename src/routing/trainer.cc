#include "routing/trainer.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <numeric>
#include <thread>
#include <unordered_map>

namespace rightsize::routing {
namespace {

// Dense cues enter the learners standardized and scaled by this, so that they weigh about as
// much as the unit-length sparse part and one SGD step size suits both.
constexpr float kDenseScale = 0.25f;
constexpr double kClipP = 1e-6;
constexpr uint32_t kMfRank = 8;

// Hyperparameter grids searched by the inner cross-validation (train keeps the best on held-out
// folds; the grids only bound the search).
const std::vector<double> kLrLambdas = {1e-4, 3e-4, 1e-3, 3e-3, 1e-2};
const std::vector<double> kMfLambdas = {1e-4, 1e-3, 1e-2};
const std::vector<double> kTaskLambdas = {1e-6, 1e-5, 1e-4};
const std::vector<double> kAnchorBonuses = {0.01, 0.02, 0.03, 0.05, 0.08, 0.12};
// SGD steps: the inputs have norm ~1.4 and the logistic curvature is <= 1/4, so 0.5 is stable
// for the convex learners; the factorization (a product of two learned matrices) needs smaller
// steps and a small random start for its read-out.
constexpr double kEtaLr = 0.5;
constexpr double kEtaMf = 0.05;
constexpr double kMfInit = 0.1;
constexpr size_t kMaxTasks = 256;
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

void shuffle(std::vector<uint32_t>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}

uint64_t hashString(std::string_view s, uint64_t seed) {
  uint64_t h = 1469598103934665603ULL ^ (seed * 0x9E3779B97F4A7C15ULL);
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ULL;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

// Features of every training prompt, flattened.
struct Matrix {
  uint32_t bits = 16;
  std::vector<uint32_t> buckets;
  std::vector<uint32_t> hashes;   // the word n-grams' 32-bit hashes (PromptFeatures::hashes)
  std::vector<uint64_t> hash_offsets;  // N+1, into hashes
  std::vector<uint64_t> offsets;  // N+1, into buckets
  std::vector<float> scale;       // N
  std::vector<float> dense;       // N*kDenseFeatures, standardized * kDenseScale
  std::vector<uint32_t> bytes;    // N prompt lengths
  size_t rows() const { return scale.size(); }
};

void parallelFor(size_t n, uint32_t threads, const std::function<void(size_t)>& fn) {
  if (threads <= 1 || n <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (uint32_t t = 0; t < std::min<size_t>(threads, n); ++t)
    pool.emplace_back([&] {
      for (size_t i = next++; i < n; i = next++) fn(i);
    });
  for (auto& th : pool) th.join();
}

class Progress {
 public:
  Progress(const TrainOptions& o, std::string stage, size_t total) : o_(o), stage_(std::move(stage)), total_(total) {
    if (o_.progress) o_.progress(stage_, 0, total_);
  }
  void step() {
    std::lock_guard<std::mutex> lock(mu_);
    ++done_;
    if (o_.progress) o_.progress(stage_, done_, total_);
  }

 private:
  const TrainOptions& o_;
  std::string stage_;
  size_t total_;
  size_t done_ = 0;
  std::mutex mu_;
};

// ---- per-model logistic regression on the hashed features ----
struct LrFit {
  std::vector<float> table;    // D*M
  std::vector<float> bias;     // M
  std::vector<float> dense_w;  // kDense*M (for the scaled dense input)
};

// Initial biases: the log-odds of each model's mean score over `rows`.
std::vector<float> meanLogits(const TrainingData& data, const std::vector<uint32_t>& rows) {
  const size_t m_count = data.models.size();
  std::vector<float> out(m_count, 0.0f);
  for (size_t m = 0; m < m_count; ++m) {
    double sum = 0, n = 0;
    for (uint32_t i : rows) {
      float y = data.scoreAt(i, m);
      if (!std::isnan(y)) sum += y, n += 1;
    }
    double p = std::clamp((sum + 0.5) / (n + 1.0), 0.01, 0.99);
    out[m] = static_cast<float>(std::log(p / (1 - p)));
  }
  return out;
}

// SGD on mean log loss + lambda/2 |w|^2 (all outputs at once: they share the features).
// The L2 decay of the sparse table is a shared scale factor, so a step touches only the
// prompt's buckets. `idf` (optional, one weight per bucket) multiplies each n-gram's value
// (the tf-idf baseline); `use_dense` false leaves the dense cues out.
LrFit fitLr(const Matrix& x, const TrainingData& data, const std::vector<uint32_t>& rows, double lambda,
            uint32_t epochs, uint64_t seed, const std::vector<float>* idf = nullptr, bool use_dense = true) {
  const double kEta0 = kEtaLr;
  const size_t m_count = data.models.size();
  const size_t d_size = size_t{1} << x.bits;
  LrFit fit;
  fit.table.assign(d_size * m_count, 0.0f);
  fit.bias = meanLogits(data, rows);
  fit.dense_w.assign(kDenseFeatures * m_count, 0.0f);
  std::vector<uint32_t> order = rows;
  Rng rng(seed);
  double wscale = 1.0;
  double t = 0;
  std::vector<float> acc(m_count);
  std::vector<double> coef(m_count);
  auto fold_scale = [&] {
    for (auto& v : fit.table) v = static_cast<float>(v * wscale);
    for (auto& v : fit.dense_w) v = static_cast<float>(v * wscale);
    wscale = 1.0;
  };
  for (uint32_t e = 0; e < epochs; ++e) {
    shuffle(order, rng);
    for (uint32_t i : order) {
      const double eta = kEta0 / (1.0 + lambda * kEta0 * t);
      t += 1;
      const uint32_t* b = &x.buckets[x.offsets[i]];
      const size_t nb = x.offsets[i + 1] - x.offsets[i];
      const float s = x.scale[i];
      const float* xd = &x.dense[i * kDenseFeatures];
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (size_t j = 0; j < nb; ++j) {
        const float* row = &fit.table[static_cast<size_t>(b[j]) * m_count];
        const float v = idf ? (*idf)[b[j]] : 1.0f;
        for (size_t m = 0; m < m_count; ++m) acc[m] += v * row[m];
      }
      bool any = false;
      for (size_t m = 0; m < m_count; ++m) {
        double z = s * acc[m];
        if (use_dense)
          for (size_t d = 0; d < kDenseFeatures; ++d) z += xd[d] * fit.dense_w[d * m_count + m];
        z = fit.bias[m] + wscale * z;
        const float y = data.scoreAt(i, m);
        const double g = std::isnan(y) ? 0.0 : sigmoid(z) - y;
        fit.bias[m] = static_cast<float>(fit.bias[m] - eta * g);
        coef[m] = g;
        any = any || g != 0;
      }
      wscale *= (1.0 - eta * lambda);
      if (any) {
        for (size_t m = 0; m < m_count; ++m) coef[m] *= eta / wscale;
        for (size_t j = 0; j < nb; ++j) {
          float* row = &fit.table[static_cast<size_t>(b[j]) * m_count];
          const double v = s * (idf ? (*idf)[b[j]] : 1.0f);
          for (size_t m = 0; m < m_count; ++m) row[m] -= static_cast<float>(v * coef[m]);
        }
        if (use_dense)
          for (size_t d = 0; d < kDenseFeatures; ++d)
            for (size_t m = 0; m < m_count; ++m) fit.dense_w[d * m_count + m] -= static_cast<float>(xd[d] * coef[m]);
      }
      if (wscale < 1e-4) fold_scale();
    }
  }
  fold_scale();
  return fit;
}

void lrLogits(const LrFit& fit, const Matrix& x, size_t m_count, uint32_t i, float* z,
              const std::vector<float>* idf = nullptr) {
  std::vector<float> acc(m_count, 0.0f);
  for (uint64_t j = x.offsets[i]; j < x.offsets[i + 1]; ++j) {
    const float* row = &fit.table[static_cast<size_t>(x.buckets[j]) * m_count];
    const float v = idf ? (*idf)[x.buckets[j]] : 1.0f;
    for (size_t m = 0; m < m_count; ++m) acc[m] += v * row[m];
  }
  const float* xd = &x.dense[i * kDenseFeatures];
  for (size_t m = 0; m < m_count; ++m) {
    double v = fit.bias[m] + x.scale[i] * acc[m];
    for (size_t d = 0; d < kDenseFeatures; ++d) v += xd[d] * fit.dense_w[d * m_count + m];
    z[m] = static_cast<float>(v);
  }
}

// ---- low-rank factorization: a shared prompt embedding (rank columns) read out per model ----
struct MfFit {
  std::vector<float> emb;      // D*rank
  std::vector<float> out;      // rank*M
  std::vector<float> bias;     // M
  std::vector<float> dense_w;  // kDense*M
};

MfFit fitMf(const Matrix& x, const TrainingData& data, const std::vector<uint32_t>& rows, double lambda,
            uint32_t epochs, uint64_t seed) {
  const double kEta0 = kEtaMf;
  const size_t m_count = data.models.size();
  const size_t r = kMfRank;
  const size_t d_size = size_t{1} << x.bits;
  MfFit fit;
  fit.emb.assign(d_size * r, 0.0f);
  fit.out.resize(r * m_count);
  Rng rng(seed ^ 0x6d66ULL);
  for (auto& v : fit.out) v = static_cast<float>((rng.uniform() - 0.5) * 2.0 * kMfInit);
  fit.bias = meanLogits(data, rows);
  fit.dense_w.assign(kDenseFeatures * m_count, 0.0f);
  std::vector<uint32_t> order = rows;
  double escale = 1.0;
  double t = 0;
  std::vector<float> acc(r);
  std::vector<double> h(r), gh(r), g(m_count);
  auto fold_scale = [&] {
    for (auto& v : fit.emb) v = static_cast<float>(v * escale);
    escale = 1.0;
  };
  for (uint32_t e = 0; e < epochs; ++e) {
    shuffle(order, rng);
    for (uint32_t i : order) {
      const double eta = kEta0 / (1.0 + lambda * kEta0 * t);
      t += 1;
      const uint32_t* b = &x.buckets[x.offsets[i]];
      const size_t nb = x.offsets[i + 1] - x.offsets[i];
      const float s = x.scale[i];
      const float* xd = &x.dense[i * kDenseFeatures];
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (size_t j = 0; j < nb; ++j) {
        const float* row = &fit.emb[static_cast<size_t>(b[j]) * r];
        for (size_t k = 0; k < r; ++k) acc[k] += row[k];
      }
      for (size_t k = 0; k < r; ++k) h[k] = escale * s * acc[k];
      bool any = false;
      for (size_t m = 0; m < m_count; ++m) {
        double z = fit.bias[m];
        for (size_t k = 0; k < r; ++k) z += h[k] * fit.out[k * m_count + m];
        for (size_t d = 0; d < kDenseFeatures; ++d) z += xd[d] * fit.dense_w[d * m_count + m];
        const float y = data.scoreAt(i, m);
        g[m] = std::isnan(y) ? 0.0 : sigmoid(z) - y;
        any = any || g[m] != 0;
      }
      for (size_t k = 0; k < r; ++k) {
        double v = 0;
        for (size_t m = 0; m < m_count; ++m) v += g[m] * fit.out[k * m_count + m];
        gh[k] = v;
      }
      for (size_t m = 0; m < m_count; ++m) {
        fit.bias[m] = static_cast<float>(fit.bias[m] - eta * g[m]);
        for (size_t k = 0; k < r; ++k) {
          float& o = fit.out[k * m_count + m];
          o = static_cast<float>(o - eta * (g[m] * h[k] + lambda * o));
        }
        for (size_t d = 0; d < kDenseFeatures; ++d) {
          float& w = fit.dense_w[d * m_count + m];
          w = static_cast<float>(w - eta * (g[m] * xd[d] + lambda * w));
        }
      }
      escale *= (1.0 - eta * lambda);
      if (any) {
        for (size_t k = 0; k < r; ++k) gh[k] *= eta * s / escale;
        for (size_t j = 0; j < nb; ++j) {
          float* row = &fit.emb[static_cast<size_t>(b[j]) * r];
          for (size_t k = 0; k < r; ++k) row[k] -= static_cast<float>(gh[k]);
        }
      }
      if (escale < 1e-4) fold_scale();
    }
  }
  fold_scale();
  return fit;
}

void mfLogits(const MfFit& fit, const Matrix& x, size_t m_count, uint32_t i, float* z) {
  const size_t r = kMfRank;
  std::vector<double> h(r, 0.0);
  for (uint64_t j = x.offsets[i]; j < x.offsets[i + 1]; ++j) {
    const float* row = &fit.emb[static_cast<size_t>(x.buckets[j]) * r];
    for (size_t k = 0; k < r; ++k) h[k] += row[k];
  }
  const float* xd = &x.dense[i * kDenseFeatures];
  for (size_t m = 0; m < m_count; ++m) {
    double v = fit.bias[m];
    for (size_t k = 0; k < r; ++k) v += x.scale[i] * h[k] * fit.out[k * m_count + m];
    for (size_t d = 0; d < kDenseFeatures; ++d) v += xd[d] * fit.dense_w[d * m_count + m];
    z[m] = static_cast<float>(v);
  }
}

// ---- calibration / stacking: per model, logistic regression of the score on a few logits ----
struct Stack {
  std::vector<std::vector<double>> a;  // [input][model]
  std::vector<double> c;               // [model]
};
using Inputs = std::vector<const std::vector<float>*>;

// Newton's method on the (soft-label) log loss of sigmoid(a . f + c), f = the chosen logits,
// over the observed pairs; a tiny ridge keeps it defined when a model is always right/wrong.
Stack fitStack(const TrainingData& data, const Inputs& inputs) {
  const size_t m_count = data.models.size();
  const size_t n = data.size();
  Stack st;
  st.a.assign(inputs.size(), std::vector<double>(m_count, 0.0));
  st.c.assign(m_count, 0);
  for (size_t m = 0; m < m_count; ++m) {
    // parameters: [a_0 .. a_{k-2}, c]
    const size_t k = inputs.size() + 1;
    // Start at the constant predictor (the model's mean score), so the fit can only improve on it.
    std::vector<double> w(k, 0.0);
    {
      double sy = 0, cnt = 0;
      for (size_t i = 0; i < n; ++i)
        if (const float y = data.scoreAt(i, m); !std::isnan(y)) sy += y, cnt += 1;
      const double pm = std::clamp((sy + 0.5) / (cnt + 1.0), 1e-3, 1 - 1e-3);
      w[k - 1] = std::log(pm / (1 - pm));
    }
    double count = 0;
    for (size_t i = 0; i < n; ++i)
      if (!std::isnan(data.scoreAt(i, m))) count += 1;
    const double ridge = 1e-3 * count / 1000.0 + 1e-6;
    auto objective = [&](const std::vector<double>& wt, std::vector<double>* grad, std::vector<double>* hess) {
      double loss = 0;
      if (grad) grad->assign(k, 0.0);
      if (hess) hess->assign(k * k, 0.0);
      for (size_t i = 0; i < n; ++i) {
        const float y = data.scoreAt(i, m);
        if (std::isnan(y)) continue;
        double f[8];
        for (size_t j = 0; j + 1 < k; ++j) f[j] = (*inputs[j])[i * m_count + m];
        f[k - 1] = 1.0;
        double z = 0;
        for (size_t j = 0; j < k; ++j) z += wt[j] * f[j];
        // log(1 + e^z) - y z, computed stably
        loss += (z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z))) - y * z;
        if (!grad) continue;
        const double p = sigmoid(z);
        const double g = p - y;
        const double h = std::max(p * (1 - p), 1e-12);
        for (size_t a = 0; a < k; ++a) {
          (*grad)[a] += g * f[a];
          for (size_t b = 0; b < k; ++b) (*hess)[a * k + b] += h * f[a] * f[b];
        }
      }
      for (size_t a = 0; a + 1 < k; ++a) {
        loss += 0.5 * ridge * wt[a] * wt[a];
        if (grad) {
          (*grad)[a] += ridge * wt[a];
          (*hess)[a * k + a] += ridge;
        }
      }
      if (hess) (*hess)[(k - 1) * k + (k - 1)] += 1e-9;
      return loss;
    };
    double loss = objective(w, nullptr, nullptr);
    for (int iter = 0; iter < 50 && count > 0; ++iter) {
      std::vector<double> grad, hess;
      objective(w, &grad, &hess);
      // Solve hess * step = grad (k <= 3): Gaussian elimination with partial pivoting.
      std::vector<double> a = hess, rhs = grad;
      for (size_t col = 0; col < k; ++col) {
        size_t piv = col;
        for (size_t r = col + 1; r < k; ++r)
          if (std::abs(a[r * k + col]) > std::abs(a[piv * k + col])) piv = r;
        if (piv != col) {
          for (size_t c = 0; c < k; ++c) std::swap(a[col * k + c], a[piv * k + c]);
          std::swap(rhs[col], rhs[piv]);
        }
        if (std::abs(a[col * k + col]) < 1e-300) continue;
        for (size_t r = col + 1; r < k; ++r) {
          const double f = a[r * k + col] / a[col * k + col];
          for (size_t c = col; c < k; ++c) a[r * k + c] -= f * a[col * k + c];
          rhs[r] -= f * rhs[col];
        }
      }
      std::vector<double> step(k, 0.0);
      for (size_t r = k; r-- > 0;) {
        double v = rhs[r];
        for (size_t c = r + 1; c < k; ++c) v -= a[r * k + c] * step[c];
        step[r] = std::abs(a[r * k + r]) < 1e-300 ? 0.0 : v / a[r * k + r];
      }
      // Damped Newton: halve the step until the loss goes down.
      double t = 1.0;
      bool moved = false;
      for (int h = 0; h < 40; ++h, t *= 0.5) {
        std::vector<double> cand = w;
        for (size_t j = 0; j < k; ++j) cand[j] -= t * step[j];
        const double l = objective(cand, nullptr, nullptr);
        if (std::isfinite(l) && l < loss) {
          const double gain = loss - l;
          w = cand;
          loss = l;
          moved = gain > 1e-10 * (1 + std::abs(l));
          break;
        }
      }
      if (!moved) break;
    }
    for (size_t j = 0; j + 1 < k; ++j) st.a[j][m] = w[j];
    st.c[m] = w[k - 1];
  }
  return st;
}

std::vector<float> applyStack(const Stack& st, size_t n, size_t m_count, const Inputs& inputs) {
  std::vector<float> p(n * m_count);
  for (size_t i = 0; i < n; ++i)
    for (size_t m = 0; m < m_count; ++m) {
      double z = st.c[m];
      for (size_t j = 0; j < inputs.size(); ++j) z += st.a[j][m] * (*inputs[j])[i * m_count + m];
      p[i * m_count + m] = static_cast<float>(sigmoid(z));
    }
  return p;
}

// ---- learned task prior: a task classifier on the text, times each task's mean scores ----
struct TaskFit {
  std::vector<float> table;    // D*T
  std::vector<float> bias;     // T
  std::vector<float> dense_w;  // kDense*T
};

// Softmax regression (SGD, L2 with the same lazy-decay trick as fitLr) over the rows that have a task.
TaskFit fitTask(const Matrix& x, const std::vector<int>& task_of, size_t t_count, const std::vector<uint32_t>& rows,
                double lambda, uint32_t epochs, uint64_t seed) {
  const size_t d_size = size_t{1} << x.bits;
  TaskFit fit;
  fit.table.assign(d_size * t_count, 0.0f);
  fit.bias.assign(t_count, 0.0f);
  fit.dense_w.assign(kDenseFeatures * t_count, 0.0f);
  std::vector<uint32_t> order;
  for (uint32_t i : rows)
    if (task_of[i] >= 0) order.push_back(i);
  Rng rng(seed ^ 0x7461736bULL);
  double wscale = 1.0, t = 0;
  std::vector<double> z(t_count), coef(t_count);
  std::vector<float> acc(t_count);
  auto fold_scale = [&] {
    for (auto& v : fit.table) v = static_cast<float>(v * wscale);
    for (auto& v : fit.dense_w) v = static_cast<float>(v * wscale);
    wscale = 1.0;
  };
  for (uint32_t e = 0; e < epochs; ++e) {
    shuffle(order, rng);
    for (uint32_t i : order) {
      const double eta = kEtaLr / (1.0 + lambda * kEtaLr * t);
      t += 1;
      const uint32_t* b = &x.buckets[x.offsets[i]];
      const size_t nb = x.offsets[i + 1] - x.offsets[i];
      const float s = x.scale[i];
      const float* xd = &x.dense[i * kDenseFeatures];
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (size_t j = 0; j < nb; ++j) {
        const float* row = &fit.table[static_cast<size_t>(b[j]) * t_count];
        for (size_t c = 0; c < t_count; ++c) acc[c] += row[c];
      }
      double zmax = -1e300;
      for (size_t c = 0; c < t_count; ++c) {
        double v = s * acc[c];
        for (size_t d = 0; d < kDenseFeatures; ++d) v += xd[d] * fit.dense_w[d * t_count + c];
        z[c] = fit.bias[c] + wscale * v;
        zmax = std::max(zmax, z[c]);
      }
      double sum = 0;
      for (size_t c = 0; c < t_count; ++c) sum += (z[c] = std::exp(z[c] - zmax));
      for (size_t c = 0; c < t_count; ++c) {
        const double g = z[c] / sum - (static_cast<int>(c) == task_of[i] ? 1.0 : 0.0);
        fit.bias[c] = static_cast<float>(fit.bias[c] - eta * g);
        coef[c] = g;
      }
      wscale *= (1.0 - eta * lambda);
      for (size_t c = 0; c < t_count; ++c) coef[c] *= eta / wscale;
      for (size_t j = 0; j < nb; ++j) {
        float* row = &fit.table[static_cast<size_t>(b[j]) * t_count];
        for (size_t c = 0; c < t_count; ++c) row[c] -= static_cast<float>(s * coef[c]);
      }
      for (size_t d = 0; d < kDenseFeatures; ++d)
        for (size_t c = 0; c < t_count; ++c) fit.dense_w[d * t_count + c] -= static_cast<float>(xd[d] * coef[c]);
      if (wscale < 1e-4) fold_scale();
    }
  }
  fold_scale();
  return fit;
}

void taskProbs(const TaskFit& fit, const Matrix& x, size_t t_count, uint32_t i, double* p) {
  std::vector<double> acc(t_count, 0.0);
  for (uint64_t j = x.offsets[i]; j < x.offsets[i + 1]; ++j) {
    const float* row = &fit.table[static_cast<size_t>(x.buckets[j]) * t_count];
    for (size_t c = 0; c < t_count; ++c) acc[c] += row[c];
  }
  const float* xd = &x.dense[i * kDenseFeatures];
  double zmax = -1e300;
  for (size_t c = 0; c < t_count; ++c) {
    double v = fit.bias[c] + x.scale[i] * acc[c];
    for (size_t d = 0; d < kDenseFeatures; ++d) v += xd[d] * fit.dense_w[d * t_count + c];
    p[c] = v;
    zmax = std::max(zmax, v);
  }
  double sum = 0;
  for (size_t c = 0; c < t_count; ++c) sum += (p[c] = std::exp(p[c] - zmax));
  for (size_t c = 0; c < t_count; ++c) p[c] /= sum;
}

// Each task's mean score per model over `rows`, shrunk towards the model's overall mean by
// kTaskPriorStrength pseudo-prompts.
constexpr double kTaskPriorStrength = 2.0;
std::vector<float> taskMeans(const TrainingData& data, const std::vector<int>& task_of, size_t t_count,
                             const std::vector<uint32_t>& rows) {
  const size_t m_count = data.models.size();
  std::vector<double> sum(t_count * m_count, 0), cnt(t_count * m_count, 0), gs(m_count, 0), gc(m_count, 0);
  for (uint32_t i : rows)
    for (size_t m = 0; m < m_count; ++m) {
      const float y = data.scoreAt(i, m);
      if (std::isnan(y)) continue;
      gs[m] += y, gc[m] += 1;
      if (task_of[i] >= 0) sum[task_of[i] * m_count + m] += y, cnt[task_of[i] * m_count + m] += 1;
    }
  std::vector<float> mu(t_count * m_count);
  for (size_t t = 0; t < t_count; ++t)
    for (size_t m = 0; m < m_count; ++m) {
      const double g = gc[m] > 0 ? gs[m] / gc[m] : 0.5;
      mu[t * m_count + m] =
          static_cast<float>((sum[t * m_count + m] + kTaskPriorStrength * g) / (cnt[t * m_count + m] + kTaskPriorStrength));
    }
  return mu;
}

// logit of the task-weighted mean score (clamped away from 0 and 1).
inline float priorLogit(const double* probs, const float* mu, size_t t_count, size_t m_count, size_t m) {
  double q = 0;
  for (size_t t = 0; t < t_count; ++t) q += probs[t] * mu[t * m_count + m];
  q = std::clamp(q, 1e-4, 1 - 1e-4);
  return static_cast<float>(std::log(q / (1 - q)));
}

void lossOf(const TrainingData& data, const std::vector<float>& p, double& log_loss, double& brier) {
  double ll = 0, br = 0, n = 0;
  const size_t m_count = data.models.size();
  for (size_t i = 0; i < data.size(); ++i)
    for (size_t m = 0; m < m_count; ++m) {
      const float y = data.scoreAt(i, m);
      if (std::isnan(y)) continue;
      const double q = std::clamp<double>(p[i * m_count + m], kClipP, 1 - kClipP);
      ll -= y * std::log(q) + (1 - y) * std::log(1 - q);
      br += (q - y) * (q - y);
      n += 1;
    }
  log_loss = n > 0 ? ll / n : 0;
  brier = n > 0 ? br / n : 0;
}

// ---- tf-idf baseline: idf weights per bucket ----
// Smoothed idf over `rows` (as scikit-learn's: ln((1 + n) / (1 + df)) + 1, df = prompts with
// the bucket), divided by the root mean square of the idf over the rows' n-gram occurrences so
// that, with the features' 1/sqrt(n-grams) scaling, a prompt's vector keeps about unit length
// (and the SGD step size its meaning). Buckets no row has get the largest idf.
std::vector<float> idfWeights(const Matrix& x, const std::vector<uint32_t>& rows) {
  const size_t d_size = size_t{1} << x.bits;
  std::vector<uint32_t> df(d_size, 0), last(d_size, UINT32_MAX);
  for (uint32_t i : rows)
    for (uint64_t j = x.offsets[i]; j < x.offsets[i + 1]; ++j) {
      const uint32_t b = x.buckets[j];
      if (last[b] != i) last[b] = i, ++df[b];
    }
  const double nr = static_cast<double>(rows.size());
  std::vector<float> idf(d_size);
  for (size_t b = 0; b < d_size; ++b) idf[b] = static_cast<float>(std::log((1 + nr) / (1 + df[b])) + 1);
  double sq = 0, cnt = 0;
  for (uint32_t i : rows)
    for (uint64_t j = x.offsets[i]; j < x.offsets[i + 1]; ++j) sq += double(idf[x.buckets[j]]) * idf[x.buckets[j]], cnt += 1;
  const double rms = cnt > 0 ? std::sqrt(sq / cnt) : 1.0;
  for (auto& v : idf) v = static_cast<float>(v / rms);
  return idf;
}

// ---- the knob sweep on held-out predictions ----
struct SweepPoint {
  double weight = 0;
  double pred_cost = 0;   // mean learned cost estimate of the choices (what the knob is spaced by)
  double real_cost = 0;   // mean recorded cost (estimate where the model has no outcome)
  double quality = 0;     // mean recorded score (prediction where the model has no outcome)
};

std::vector<double> weightGrid() {
  std::vector<double> w;
  for (int i = 0; i <= 160; ++i) w.push_back(std::pow(10.0, 5.0 - 8.0 * i / 160.0));  // 1e5 .. 1e-3
  w.push_back(0.0);
  return w;
}

std::vector<SweepPoint> sweep(const RouterModel& shape, const TrainingData& data, const std::vector<float>& p,
                              const std::vector<double>& est_cost) {
  const size_t m_count = data.models.size();
  const size_t n = data.size();
  std::vector<SweepPoint> out;
  std::vector<double> pi(m_count), ci(m_count);
  for (double w : weightGrid()) {
    SweepPoint sp;
    sp.weight = w;
    for (size_t i = 0; i < n; ++i) {
      for (size_t m = 0; m < m_count; ++m) {
        pi[m] = p[i * m_count + m];
        ci[m] = est_cost[i * m_count + m];
      }
      const int c = shape.chooseWithWeight(pi, ci, {}, w, shape.anchor_model);
      const size_t m = static_cast<size_t>(c);
      sp.pred_cost += ci[m];
      const float y = data.scoreAt(i, m);
      const float rc = data.costAt(i, m);
      sp.quality += std::isnan(y) ? pi[m] : y;
      sp.real_cost += std::isnan(rc) ? ci[m] : rc;
    }
    sp.pred_cost /= static_cast<double>(n);
    sp.real_cost /= static_cast<double>(n);
    sp.quality /= static_cast<double>(n);
    out.push_back(sp);
  }
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

std::string fmtLambda(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}


// ---- k-nearest neighbours (comparison only) ----
// Held-out logits of kNN for every prompt: cosine similarity of de-duplicated, L2-normalized
// hashed n-gram counts; the score estimate is the similarity-weighted mean of the k nearest
// training prompts' scores, shrunk towards the model's mean by one pseudo-neighbour.
std::vector<std::vector<float>> knnOutOfFold(const Matrix& x, const TrainingData& data,
                                             const std::vector<std::vector<uint32_t>>& train_rows,
                                             const std::vector<std::vector<uint32_t>>& test_rows,
                                             const std::vector<int>& ks, uint32_t threads) {
  const size_t n = x.rows(), m_count = data.models.size();
  std::vector<std::vector<std::pair<uint32_t, float>>> vec(n);
  for (size_t i = 0; i < n; ++i) {
    std::vector<uint32_t> b(x.buckets.begin() + static_cast<long>(x.offsets[i]),
                            x.buckets.begin() + static_cast<long>(x.offsets[i + 1]));
    std::sort(b.begin(), b.end());
    double norm = 0;
    for (size_t j = 0; j < b.size();) {
      size_t k = j;
      while (k < b.size() && b[k] == b[j]) ++k;
      vec[i].push_back({b[j], static_cast<float>(k - j)});
      norm += double(k - j) * double(k - j);
      j = k;
    }
    for (auto& e : vec[i]) e.second = static_cast<float>(e.second / std::sqrt(std::max(norm, 1.0)));
  }
  std::vector<std::vector<float>> out(ks.size(), std::vector<float>(n * m_count, 0.0f));
  for (size_t f = 0; f < train_rows.size(); ++f) {
    std::unordered_map<uint32_t, std::vector<std::pair<uint32_t, float>>> index;
    for (uint32_t i : train_rows[f])
      for (const auto& [b, w] : vec[i]) index[b].push_back({i, w});
    std::vector<double> prior(m_count, 0.5);
    for (size_t m = 0; m < m_count; ++m) {
      double s = 0, c = 0;
      for (uint32_t i : train_rows[f])
        if (!std::isnan(data.scoreAt(i, m))) s += data.scoreAt(i, m), c += 1;
      if (c > 0) prior[m] = s / c;
    }
    const auto& tests = test_rows[f];
    parallelFor(tests.size(), threads, [&](size_t t) {
      const uint32_t q = tests[t];
      std::unordered_map<uint32_t, float> sim;
      for (const auto& [b, w] : vec[q]) {
        auto it = index.find(b);
        if (it == index.end()) continue;
        for (const auto& [i, wi] : it->second) sim[i] += w * wi;
      }
      std::vector<std::pair<float, uint32_t>> top;
      for (const auto& [i, s] : sim) top.push_back({s, i});
      std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
      for (size_t kk = 0; kk < ks.size(); ++kk) {
        const size_t k = std::min<size_t>(static_cast<size_t>(ks[kk]), top.size());
        for (size_t m = 0; m < m_count; ++m) {
          double num = prior[m], den = 1.0;
          for (size_t j = 0; j < k; ++j) {
            const float y = data.scoreAt(top[j].second, m);
            if (std::isnan(y)) continue;
            num += top[j].first * y;
            den += top[j].first;
          }
          const double p = std::clamp(num / den, 1e-3, 1 - 1e-3);
          out[kk][q * m_count + m] = static_cast<float>(std::log(p / (1 - p)));
        }
      }
    });
  }
  return out;
}

}  // namespace

uint32_t foldOf(std::string_view id, uint64_t seed, uint32_t folds) {
  return folds == 0 ? 0 : static_cast<uint32_t>(hashString(id, seed) % folds);
}

Result<RouterModel> train(const TrainingData& data, const TrainOptions& opt, TrainReport* report) {
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
  const uint32_t threads =
      opt.threads > 0 ? opt.threads : std::max(1u, std::thread::hardware_concurrency());

  RouterModel model;
  model.hash_bits = opt.hash_bits;
  model.models = data.models;

  // Per-model statistics and cost models.
  size_t observed = 0;
  for (size_t m = 0; m < m_count; ++m) {
    double ss = 0, sc = 0, cnt = 0, sx = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; ++i) {
      const float y = data.scoreAt(i, m), c = data.costAt(i, m);
      if (std::isnan(y)) continue;
      if (y < 0 || y > 1) return fail(ErrorCode::kInvalidArgument, "score out of [0, 1] for " + data.ids[i]);
      const double cc = std::isnan(c) ? 0.0 : std::max(0.0f, c);
      const double x = static_cast<double>(data.asks[i].size());
      ss += y, sc += cc, cnt += 1, sx += x, sxx += x * x, sxy += x * cc;
    }
    if (cnt == 0) return fail(ErrorCode::kInvalidArgument, "model '" + data.models[m] + "' has no outcomes");
    observed += static_cast<size_t>(cnt);
    model.mean_score.push_back(ss / cnt);
    model.mean_cost_usd.push_back(sc / cnt);
    CostModel cm;
    const double var = sxx / cnt - (sx / cnt) * (sx / cnt);
    const double cov = sxy / cnt - (sx / cnt) * (sc / cnt);
    cm.per_byte_usd = var > 1e-9 ? std::max(0.0, cov / var) : 0.0;
    cm.base_usd = sc / cnt - cm.per_byte_usd * (sx / cnt);
    if (cm.base_usd < 0) {  // keep costs positive for short prompts: refit through the origin
      cm.base_usd = 0;
      cm.per_byte_usd = sxx > 0 ? sxy / sxx : 0;
    }
    model.costs.push_back(cm);
  }
  model.best_single_quality = *std::max_element(model.mean_score.begin(), model.mean_score.end());
  model.cost_scale_usd = std::max(1e-12, *std::max_element(model.mean_cost_usd.begin(), model.mean_cost_usd.end()));

  // Features.
  Matrix x;
  x.bits = opt.hash_bits;
  {
    std::vector<std::vector<uint32_t>> buckets(n), hashes(n);
    std::vector<float> scale(n);
    std::vector<std::array<float, kDenseFeatures>> dense(n);
    Progress prog(opt, "features", (n + 255) / 256);
    parallelFor(n, threads, [&](size_t i) {
      thread_local PromptFeatures f;
      extractFeatures(data.asks[i], opt.hash_bits, f);
      buckets[i].assign(f.buckets().begin(), f.buckets().end());
      hashes[i].assign(f.hashes().begin(), f.hashes().end());
      scale[i] = f.sparse_scale;
      dense[i] = f.dense;
      if (i % 256 == 0) prog.step();
    });
    x.offsets.push_back(0);
    x.hash_offsets.push_back(0);
    std::array<double, kDenseFeatures> mean{}, sq{};
    for (const auto& dv : dense)
      for (size_t d = 0; d < kDenseFeatures; ++d) mean[d] += dv[d], sq[d] += double(dv[d]) * dv[d];
    for (size_t d = 0; d < kDenseFeatures; ++d) {
      mean[d] /= static_cast<double>(n);
      const double var = sq[d] / static_cast<double>(n) - mean[d] * mean[d];
      model.dense_mean[d] = static_cast<float>(mean[d]);
      model.dense_inv_std[d] = var > 1e-12 ? static_cast<float>(kDenseScale / std::sqrt(var)) : 0.0f;
    }
    size_t total = 0;
    for (const auto& b : buckets) total += b.size();
    x.buckets.reserve(total);
    x.hashes.reserve(total);
    for (size_t i = 0; i < n; ++i) {
      x.buckets.insert(x.buckets.end(), buckets[i].begin(), buckets[i].end());
      x.hashes.insert(x.hashes.end(), hashes[i].begin(), hashes[i].end());
      std::vector<uint32_t>().swap(buckets[i]);
      std::vector<uint32_t>().swap(hashes[i]);
      x.offsets.push_back(x.buckets.size());
      x.hash_offsets.push_back(x.hashes.size());
      x.scale.push_back(scale[i]);
      for (size_t d = 0; d < kDenseFeatures; ++d)
        x.dense.push_back((dense[i][d] - model.dense_mean[d]) * model.dense_inv_std[d]);
      x.bytes.push_back(static_cast<uint32_t>(data.asks[i].size()));
    }
  }
  std::vector<double> est_cost(n * m_count);
  for (size_t i = 0; i < n; ++i)
    for (size_t m = 0; m < m_count; ++m) est_cost[i * m_count + m] = model.costs[m].estimate(x.bytes[i]);

  // Inner cross-validation: every (learner setting, fold) is one job writing its fold's logits.
  std::vector<uint32_t> fold(n);
  for (size_t i = 0; i < n; ++i) fold[i] = foldOf(data.ids[i], opt.seed, opt.folds);
  std::vector<std::vector<uint32_t>> train_rows(opt.folds), test_rows(opt.folds);
  for (size_t i = 0; i < n; ++i)
    for (uint32_t k = 0; k < opt.folds; ++k) (fold[i] == k ? test_rows[k] : train_rows[k]).push_back(uint32_t(i));
  for (uint32_t k = 0; k < opt.folds; ++k)
    if (test_rows[k].empty() || train_rows[k].empty())
      return fail(ErrorCode::kInvalidArgument, "a cross-validation fold is empty: too few prompts");

  // Tasks (optional): a learned task prior needs at least two named tasks.
  std::vector<std::string> task_names;
  std::vector<int> task_of(n, -1);
  if (data.tasks.size() == n) {
    std::map<std::string, int> ids;
    for (const auto& t : data.tasks)
      if (!t.empty()) ids.emplace(t, 0);
    if (ids.size() >= 2 && ids.size() <= kMaxTasks) {
      for (auto& [name, id] : ids) {
        id = static_cast<int>(task_names.size());
        task_names.push_back(name);
      }
      for (size_t i = 0; i < n; ++i)
        if (!data.tasks[i].empty()) task_of[i] = ids.at(data.tasks[i]);
    }
  }
  const size_t t_count = task_names.size();
  const std::string& L = opt.learner;
  const bool want_lr = L == "auto" || L == "lr" || L == "blend";
  const bool want_mf = L == "auto" || L == "mf" || L == "blend";
  const bool want_task = (L == "auto" || L == "task" || L == "blend") && t_count > 0;
  // The tf-idf baseline (learner "tfidf-lr"): per-model logistic regression on tf-idf weighted
  // n-grams alone, its raw probabilities (no stacking, anchor bonus or shrinkage), the same knob
  // calibration and decision rule. Stacked as a fifth component of auto it lowered the held-out
  // log loss but cost RouterBench 0.005 AIQ (5-fold; docs/router.md), so it is only the baseline.
  const bool baseline = L == "tfidf-lr";
  const bool want_tfidf = baseline;
  if (L == "task" && t_count == 0)
    return fail(ErrorCode::kInvalidArgument, "learner 'task' needs at least two tasks in the data");
  if ((size_t{1} << opt.hash_bits) * ((m_count + t_count + 3) / 4 * 4) > kMaxTableFloats)
    return fail(ErrorCode::kInvalidArgument,
                "hash_bits=" + std::to_string(opt.hash_bits) + " with " + std::to_string(m_count + t_count) +
                    " models and tasks needs a predictor table over the router file limit; lower hash_bits");
  enum class Kind { kLr, kMf, kTask, kTfidf };
  struct Setting {
    Kind kind;
    double lambda;
  };
  std::vector<Setting> settings;
  if (want_lr)
    for (double l : kLrLambdas) settings.push_back({Kind::kLr, l});
  if (want_mf)
    for (double l : kMfLambdas) settings.push_back({Kind::kMf, l});
  if (want_task)
    for (double l : kTaskLambdas) settings.push_back({Kind::kTask, l});
  if (want_tfidf)
    for (double l : kLrLambdas) settings.push_back({Kind::kTfidf, l});
  std::vector<std::vector<float>> fold_idf(want_tfidf ? opt.folds : 0);
  for (size_t k = 0; k < fold_idf.size(); ++k) fold_idf[k] = idfWeights(x, train_rows[k]);
  std::vector<std::vector<float>> oof(settings.size(), std::vector<float>(n * m_count, 0.0f));
  {
    Progress prog(opt, "cross-validation", settings.size() * opt.folds);
    parallelFor(settings.size() * opt.folds, threads, [&](size_t job) {
      const size_t s = job / opt.folds;
      const uint32_t k = static_cast<uint32_t>(job % opt.folds);
      const uint64_t seed = opt.seed * 1000003ULL + k;
      auto& out = oof[s];
      switch (settings[s].kind) {
        case Kind::kLr: {
          LrFit fit = fitLr(x, data, train_rows[k], settings[s].lambda, opt.epochs, seed);
          for (uint32_t i : test_rows[k]) lrLogits(fit, x, m_count, i, &out[i * m_count]);
          break;
        }
        case Kind::kMf: {
          MfFit fit = fitMf(x, data, train_rows[k], settings[s].lambda, opt.epochs, seed);
          for (uint32_t i : test_rows[k]) mfLogits(fit, x, m_count, i, &out[i * m_count]);
          break;
        }
        case Kind::kTask: {
          TaskFit fit = fitTask(x, task_of, t_count, train_rows[k], settings[s].lambda, opt.epochs, seed);
          const auto mu = taskMeans(data, task_of, t_count, train_rows[k]);
          std::vector<double> probs(t_count);
          for (uint32_t i : test_rows[k]) {
            taskProbs(fit, x, t_count, i, probs.data());
            for (size_t m = 0; m < m_count; ++m) out[i * m_count + m] = priorLogit(probs.data(), mu.data(), t_count, m_count, m);
          }
          break;
        }
        case Kind::kTfidf: {
          LrFit fit = fitLr(x, data, train_rows[k], settings[s].lambda, opt.epochs, seed, &fold_idf[k], false);
          for (uint32_t i : test_rows[k]) lrLogits(fit, x, m_count, i, &out[i * m_count], &fold_idf[k]);
          break;
        }
      }
      prog.step();
    });
  }

  TrainReport rep;
  rep.prompts = n;
  rep.observed = observed;
  auto settingName = [&](const Setting& st) {
    switch (st.kind) {
      case Kind::kLr: return "lr(lambda=" + fmtLambda(st.lambda) + ")";
      case Kind::kMf: return "mf(rank=" + std::to_string(kMfRank) + ",lambda=" + fmtLambda(st.lambda) + ")";
      case Kind::kTask: return "task(tasks=" + std::to_string(t_count) + ",lambda=" + fmtLambda(st.lambda) + ")";
      case Kind::kTfidf: return "tfidf-lr(lambda=" + fmtLambda(st.lambda) + ")";
    }
    return std::string();
  };
  // Best setting per component, by held-out log loss after per-model calibration.
  // The baseline is not calibrated: its stack is the identity (its logits as they are).
  auto identityStack = [&](size_t inputs) {
    Stack st;
    st.a.assign(inputs, std::vector<double>(m_count, 1.0));
    st.c.assign(m_count, 0.0);
    return st;
  };
  int best[4] = {-1, -1, -1, -1};
  double best_ll[4] = {1e300, 1e300, 1e300, 1e300};
  for (size_t s = 0; s < settings.size(); ++s) {
    Stack st = baseline ? identityStack(1) : fitStack(data, {&oof[s]});
    auto p = applyStack(st, n, m_count, {&oof[s]});
    LearnerScore ls;
    ls.name = settingName(settings[s]);
    lossOf(data, p, ls.log_loss, ls.brier);
    rep.tried.push_back(ls);
    const int c = static_cast<int>(settings[s].kind);
    if (ls.log_loss < best_ll[c]) best_ll[c] = ls.log_loss, best[c] = static_cast<int>(s);
  }

  // Finalists: every non-empty combination of the components, stacked and calibrated per model
  // on the held-out logits. "blend" is all of them.
  struct Finalist {
    std::vector<Kind> parts;
    Stack stack;
    std::vector<float> p;
    std::string name;
  };
  std::vector<Kind> avail;
  for (Kind k : {Kind::kLr, Kind::kMf, Kind::kTask, Kind::kTfidf})
    if (best[static_cast<int>(k)] >= 0) avail.push_back(k);
  std::vector<Finalist> finalists;
  for (unsigned mask = 1; mask < (1u << avail.size()); ++mask) {
    Finalist f;
    Inputs in;
    for (size_t j = 0; j < avail.size(); ++j)
      if (mask & (1u << j)) {
        f.parts.push_back(avail[j]);
        in.push_back(&oof[static_cast<size_t>(best[static_cast<int>(avail[j])])]);
        f.name += (f.name.empty() ? "" : " + ") + settingName(settings[static_cast<size_t>(best[static_cast<int>(avail[j])])]);
      }
    if (f.parts.size() > 1) f.name = "blend: " + f.name;
    f.stack = baseline ? identityStack(in.size()) : fitStack(data, in);
    f.p = applyStack(f.stack, n, m_count, in);
    finalists.push_back(std::move(f));
  }
  // kNN, for comparison only (never kept).
  std::vector<float> knn_p;
  std::string knn_name;
  if (opt.compare_knn) {
    const std::vector<int> ks = {5, 10, 20, 50, 100};
    auto z = knnOutOfFold(x, data, train_rows, test_rows, ks, threads);
    double best_knn = 1e300;
    for (size_t kk = 0; kk < ks.size(); ++kk) {
      Stack st = fitStack(data, {&z[kk]});
      auto p = applyStack(st, n, m_count, {&z[kk]});
      LearnerScore ls;
      ls.name = "knn(k=" + std::to_string(ks[kk]) + ")";
      lossOf(data, p, ls.log_loss, ls.brier);
      rep.tried.push_back(ls);
      if (ls.log_loss < best_knn) best_knn = ls.log_loss, knn_p = std::move(p), knn_name = ls.name;
    }
  }
  // Keep the best held-out log loss (auto), or the forced learner's combination.
  int chosen = -1;
  double chosen_ll = 1e300;
  std::vector<std::vector<SweepPoint>> sweeps;
  for (size_t f = 0; f < finalists.size(); ++f) {
    LearnerScore ls;
    ls.name = finalists[f].name;
    lossOf(data, finalists[f].p, ls.log_loss, ls.brier);
    sweeps.push_back(sweep(model, data, finalists[f].p, est_cost));
    for (const auto& sp : sweeps.back()) ls.curve.emplace_back(sp.real_cost, sp.quality);
    rep.finalists.push_back(ls);
    const bool eligible = L == "auto" || finalists[f].parts.size() == avail.size();
    if (eligible && ls.log_loss < chosen_ll) {
      chosen = static_cast<int>(f);
      chosen_ll = ls.log_loss;
    }
  }
  if (!knn_p.empty()) {
    LearnerScore ls;
    ls.name = knn_name + " [comparison only]";
    lossOf(data, knn_p, ls.log_loss, ls.brier);
    for (const auto& sp : sweep(model, data, knn_p, est_cost)) ls.curve.emplace_back(sp.real_cost, sp.quality);
    rep.finalists.push_back(ls);
  }
  if (chosen < 0) return fail(ErrorCode::kInternal, "no learner was trained");
  const Finalist& fin = finalists[static_cast<size_t>(chosen)];
  rep.chosen = fin.name;

  // Out-of-distribution shrinkage (RouterModel::ood). The random folds above only ever hold out
  // prompts like the training data; here whole groups of tasks (when the data names two or
  // more) are held out too, and the chosen learner's predictions p are shrunk towards each
  // model's mean score: p' = lam p + (1 - lam) mean, lam = clamp(a + b s, 0, 1), s = the prompt's
  // coverage by the training prompts' bigrams; (a, b) maximize the held-out decision value of
  // the random folds plus that of the held-out groups, so that where the router extrapolates
  // badly it falls back towards the zero router. Everything after (anchor, knob table) is
  // calibrated on the shrunk random-fold predictions, as the router will predict.
  std::vector<float> fin_p = fin.p;
  {
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
    for (uint32_t k = 0; k < opt.folds; ++k) {
      size_t n_in = 0;
      const auto cnt = countsOf([&](size_t i) { return fold[i] != k; }, n_in);
      for (size_t o = 0; o < n_opts; ++o) {
        const auto bits = bitsOf(cnt, seenAt(o, n_in), commonAt(o, n_in));
        for (uint32_t i : test_rows[k]) s_rnd[o][i] = cov(i, bits);
      }
    }
    // Held-out groups.
    std::vector<uint32_t> grp(n, 0);
    size_t g_count = 0;
    std::string grouping;
    if (t_count >= 2 && !baseline) {
      g_count = std::min(t_count, kMaxGroups);
      for (size_t i = 0; i < n; ++i)
        grp[i] = task_of[i] >= 0 ? static_cast<uint32_t>(task_of[i]) % static_cast<uint32_t>(g_count)
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
          const Kind kind = fin.parts[j];
          const double lambda = settings[static_cast<size_t>(best[static_cast<int>(kind)])].lambda;
          const uint64_t seed = opt.seed * 1000003ULL + 500 + g;
          auto& out = gz[j];
          switch (kind) {
            case Kind::kLr: {
              LrFit f = fitLr(x, data, g_train[g], lambda, opt.epochs, seed);
              for (uint32_t i : g_test[g]) lrLogits(f, x, m_count, i, &out[i * m_count]);
              break;
            }
            case Kind::kMf: {
              MfFit f = fitMf(x, data, g_train[g], lambda, opt.epochs, seed);
              for (uint32_t i : g_test[g]) mfLogits(f, x, m_count, i, &out[i * m_count]);
              break;
            }
            case Kind::kTask: {
              TaskFit f = fitTask(x, task_of, t_count, g_train[g], lambda, opt.epochs, seed);
              const auto mu = taskMeans(data, task_of, t_count, g_train[g]);
              std::vector<double> probs(t_count);
              for (uint32_t i : g_test[g]) {
                taskProbs(f, x, t_count, i, probs.data());
                for (size_t m = 0; m < m_count; ++m)
                  out[i * m_count + m] = priorLogit(probs.data(), mu.data(), t_count, m_count, m);
              }
              break;
            }
            case Kind::kTfidf: {
              const auto idf = idfWeights(x, g_train[g]);
              LrFit f = fitLr(x, data, g_train[g], lambda, opt.epochs, seed, &idf, false);
              for (uint32_t i : g_test[g]) lrLogits(f, x, m_count, i, &out[i * m_count], &idf);
              break;
            }
          }
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
      // Stacked logits of both held-out sets; rows [0, n) random folds, [n, 2n) held-out groups.
      TrainingData both;
      both.models = data.models;
      both.ids.assign(2 * n, std::string());
      both.score = data.score;
      both.score.insert(both.score.end(), data.score.begin(), data.score.end());
      // zz: the stacked logit of the chosen learner.
      std::vector<float> zz(2 * n * m_count);
      std::vector<bool> in_group(n, false);
      for (const auto& te : g_test)
        for (uint32_t i : te) in_group[i] = true;
      for (size_t i = 0; i < n; ++i)
        for (size_t m = 0; m < m_count; ++m) {
          double zr = fin.stack.c[m], zg = fin.stack.c[m];
          for (size_t j = 0; j < parts; ++j) {
            const auto& o = oof[static_cast<size_t>(best[static_cast<int>(fin.parts[j])])];
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
      double c_min = *std::min_element(model.mean_cost_usd.begin(), model.mean_cost_usd.end());
      double c_max = *std::max_element(model.mean_cost_usd.begin(), model.mean_cost_usd.end());
      size_t bm = 0;
      for (size_t m = 1; m < m_count; ++m)
        if (model.mean_score[m] > model.mean_score[bm] ||
            (model.mean_score[m] == model.mean_score[bm] && model.mean_cost_usd[m] < model.mean_cost_usd[bm]))
          bm = m;
      model.anchor_model = static_cast<int>(bm);
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
      model.ood = {static_cast<float>(grid[gbest].first), static_cast<float>(grid[gbest].second)};
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
      rep.ood = buf;
      fin_p = part(shrunk, 0);
      model.sketch_bits = sbits;
      size_t n_all = 0;
      const auto cnt_all = countsOf([](size_t) { return true; }, n_all);
      model.sketch = bitsOf(cnt_all, seenAt(best_o, n_all), commonAt(best_o, n_all));
      sweeps[static_cast<size_t>(chosen)] = sweep(model, data, fin_p, est_cost);
    } else {
      rep.ood = baseline ? "none (the tf-idf baseline is not shrunk)"
                         : "none (the data names fewer than two tasks to hold out)";
    }
  }

  // Anchor bonus for the best single model, chosen on the held-out predictions (0 allowed).
  {
    size_t b = 0;
    for (size_t m = 1; m < m_count; ++m)
      if (model.mean_score[m] > model.mean_score[b] ||
          (model.mean_score[m] == model.mean_score[b] && model.mean_cost_usd[m] < model.mean_cost_usd[b]))
        b = m;
    const double c_min = *std::min_element(model.mean_cost_usd.begin(), model.mean_cost_usd.end());
    const double c_max = *std::max_element(model.mean_cost_usd.begin(), model.mean_cost_usd.end());
    model.anchor_model = static_cast<int>(b);
    double best_value = sweepValue(sweeps[static_cast<size_t>(chosen)], c_min, c_max, model.mean_cost_usd[b]);
    rep.anchor_values.push_back({0.0, best_value});
    for (double bonus : kAnchorBonuses) {
      if (baseline) break;  // the baseline decides by its probabilities as they are
      model.anchor_bonus = bonus;
      auto sw = sweep(model, data, fin_p, est_cost);
      const double v = sweepValue(sw, c_min, c_max, model.mean_cost_usd[b]);
      rep.anchor_values.push_back({bonus, v});
      if (v > best_value + 1e-9) {
        best_value = v;
        rep.anchor_bonus = bonus;
        sweeps[static_cast<size_t>(chosen)] = std::move(sw);
      }
    }
    model.anchor_bonus = rep.anchor_bonus;
  }

  // Knob calibration from the chosen learner's held-out sweep (cheapest first).
  {
    const std::vector<SweepPoint>& sw = sweeps[static_cast<size_t>(chosen)];
    const double lo = sw.front().pred_cost;  // largest weight: (nearly) always the cheapest
    const double hi = sw.back().pred_cost;   // weight 0: best predicted quality
    const double q_star = model.best_single_quality > 0 ? model.best_single_quality : 1.0;
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
      if (!model.knobs.empty()) knob = std::max(knob, model.knobs.back().knob);
      model.knobs.push_back({knob, sp.weight, sp.real_cost, sp.quality / q_star});
    }
    const auto& top = sw.back();
    model.knobs.push_back({1.0, 0.0, top.real_cost, top.quality / q_star});
  }

  // Refit the kept components on all the data and fold them into the router's one table.
  std::vector<uint32_t> all(n);
  std::iota(all.begin(), all.end(), 0u);
  auto uses = [&](Kind k) { return std::find(fin.parts.begin(), fin.parts.end(), k) != fin.parts.end(); };
  auto weightOf = [&](Kind k) -> const std::vector<double>* {
    for (size_t j = 0; j < fin.parts.size(); ++j)
      if (fin.parts[j] == k) return &fin.stack.a[j];
    return nullptr;
  };
  const bool use_lr = uses(Kind::kLr), use_mf = uses(Kind::kMf), use_task = uses(Kind::kTask);
  const bool use_tfidf = uses(Kind::kTfidf);
  const size_t tc = use_task ? t_count : 0;
  {
    Progress prog(opt, "final fit", (use_lr ? 1 : 0) + (use_mf ? 1 : 0) + (use_task ? 1 : 0) + (use_tfidf ? 1 : 0));
    LrFit lr_fit;
    MfFit mf_fit;
    TaskFit task_fit;
    LrFit tfidf_fit;
    const std::vector<float> idf_all = use_tfidf ? idfWeights(x, all) : std::vector<float>();
    parallelFor(4, threads, [&](size_t job) {
      const uint64_t seed = opt.seed * 1000003ULL + 999;
      if (job == 0 && use_lr) {
        lr_fit = fitLr(x, data, all, settings[static_cast<size_t>(best[0])].lambda, opt.epochs, seed);
        prog.step();
      }
      if (job == 1 && use_mf) {
        mf_fit = fitMf(x, data, all, settings[static_cast<size_t>(best[1])].lambda, opt.epochs, seed);
        prog.step();
      }
      if (job == 2 && use_task) {
        task_fit = fitTask(x, task_of, t_count, all, settings[static_cast<size_t>(best[2])].lambda, opt.epochs, seed);
        prog.step();
      }
      if (job == 3 && use_tfidf) {
        tfidf_fit = fitLr(x, data, all, settings[static_cast<size_t>(best[3])].lambda, opt.epochs, seed, &idf_all, false);
        prog.step();
      }
    });
    // Columns 0..M-1: the stacked lr/mf logits (linear, so folded exactly); M..M+T-1: the task
    // classifier's logits, whose softmax weighs the per-task means (LinearHead, RouterModel).
    const size_t outs = m_count + tc;
    const size_t d_size = size_t{1} << opt.hash_bits;
    model.head.reset(opt.hash_bits, static_cast<uint32_t>(outs));
    const std::vector<double>* a_lr = weightOf(Kind::kLr);
    const std::vector<double>* a_mf = weightOf(Kind::kMf);
    const std::vector<double>* a_task = weightOf(Kind::kTask);
    const std::vector<double>* a_tfidf = weightOf(Kind::kTfidf);
    std::vector<double> merged(outs);
    for (size_t b = 0; b < d_size; ++b) {
      std::fill(merged.begin(), merged.end(), 0.0);
      bool any = false;
      if (use_lr)
        for (size_t m = 0; m < m_count; ++m) {
          const float v = lr_fit.table[b * m_count + m];
          if (v != 0) merged[m] += (*a_lr)[m] * v, any = true;
        }
      if (use_tfidf)  // the idf is folded into the weights: the decision reads plain counts
        for (size_t m = 0; m < m_count; ++m) {
          const float v = tfidf_fit.table[b * m_count + m];
          if (v != 0) merged[m] += (*a_tfidf)[m] * v * idf_all[b], any = true;
        }
      if (use_mf)
        for (size_t k = 0; k < kMfRank; ++k) {
          const float e = mf_fit.emb[b * kMfRank + k];
          if (e == 0) continue;
          any = true;
          for (size_t m = 0; m < m_count; ++m) merged[m] += (*a_mf)[m] * e * mf_fit.out[k * m_count + m];
        }
      if (use_task)
        for (size_t t = 0; t < tc; ++t) {
          const float v = task_fit.table[b * tc + t];
          if (v != 0) merged[m_count + t] = v, any = true;
        }
      if (!any) continue;
      float* row = model.head.row(static_cast<uint32_t>(b));
      for (size_t c = 0; c < outs; ++c) row[c] = static_cast<float>(merged[c]);
    }
    for (size_t m = 0; m < m_count; ++m) {
      double bias = fin.stack.c[m];
      if (use_lr) bias += (*a_lr)[m] * lr_fit.bias[m];
      if (use_mf) bias += (*a_mf)[m] * mf_fit.bias[m];
      if (use_tfidf) bias += (*a_tfidf)[m] * tfidf_fit.bias[m];
      model.head.bias[m] = static_cast<float>(bias);
      for (size_t d = 0; d < kDenseFeatures; ++d) {
        double w = 0;
        if (use_lr) w += (*a_lr)[m] * lr_fit.dense_w[d * m_count + m];
        if (use_mf) w += (*a_mf)[m] * mf_fit.dense_w[d * m_count + m];
        model.head.dense_w[d * outs + m] = static_cast<float>(w);
      }
    }
    if (use_task) {
      model.tasks = task_names;
      model.task_mu = taskMeans(data, task_of, t_count, all);
      model.task_weight.assign(a_task->begin(), a_task->end());
      for (size_t t = 0; t < tc; ++t) {
        model.head.bias[m_count + t] = task_fit.bias[t];
        for (size_t d = 0; d < kDenseFeatures; ++d)
          model.head.dense_w[d * outs + m_count + t] = task_fit.dense_w[d * tc + t];
      }
    }
  }
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
