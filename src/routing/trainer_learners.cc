// The learners train() cross-validates and stacks (routing/trainer_steps.h): their SGD fits,
// read-outs, the per-model calibration/stacking fit and the losses.
#include <algorithm>
#include <cmath>

#include "routing/trainer_steps.h"

namespace rightsize::routing::train_steps {
namespace {

constexpr double kClipP = 1e-6;
constexpr double kTaskPriorStrength = 2.0;
// SGD steps: the inputs have norm ~1.4 and the logistic curvature is <= 1/4, so 0.5 is stable
// for the convex learners; the factorization (a product of two learned matrices) needs smaller
// steps and a small random start for its read-out.
constexpr double kEtaLr = 0.5;
constexpr double kEtaMf = 0.05;
constexpr double kMfInit = 0.1;


void shuffle(std::vector<uint32_t>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}


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

// The lazy L2 decay: the weights are kept divided by `scale`; folds it into them (both
// vectors when `also` is given) and resets it to 1.
void foldDecay(double& scale, std::vector<float>& weights, std::vector<float>* also = nullptr) {
  for (auto& v : weights) v = static_cast<float>(v * scale);
  if (also)
    for (auto& v : *also) v = static_cast<float>(v * scale);
  scale = 1.0;
}

// Prompt i's row of the features: its buckets, their count, the sparse scale, the dense cues.
struct PromptView {
  const uint32_t* buckets;
  size_t count;
  float scale;
  const float* dense;
};
PromptView viewOf(const Matrix& x, uint32_t i) {
  return {&x.buckets[x.offsets[i]], x.offsets[i + 1] - x.offsets[i], x.scale[i], &x.dense[i * kDenseFeatures]};
}

// `epochs` passes over `order`, each in a fresh shuffle by `rng`; step(i, eta) updates for
// prompt i with the step size eta0 / (1 + lambda * eta0 * t) of the t-th step.
template <typename Step>
void sgdPasses(std::vector<uint32_t>& order, Rng& rng, uint32_t epochs, double lambda, double eta0, Step&& step) {
  double t = 0;
  for (uint32_t e = 0; e < epochs; ++e) {
    shuffle(order, rng);
    for (uint32_t i : order) {
      const double eta = eta0 / (1.0 + lambda * eta0 * t);
      t += 1;
      step(i, eta);
    }
  }
}

}  // namespace

// SGD on mean log loss + lambda/2 |w|^2 (all outputs at once: they share the features).
// The L2 decay of the sparse table is a shared scale factor, so a step touches only the
// prompt's buckets. `idf` (optional, one weight per bucket) multiplies each n-gram's value
// (the tf-idf baseline); `use_dense` false leaves the dense cues out.
LrFit fitLr(const Matrix& x, const TrainingData& data, const std::vector<uint32_t>& rows, double lambda,
            uint32_t epochs, uint64_t seed, const std::vector<float>* idf, bool use_dense) {
  const size_t m_count = data.models.size();
  const size_t d_size = size_t{1} << x.bits;
  LrFit fit;
  fit.table.assign(d_size * m_count, 0.0f);
  fit.bias = meanLogits(data, rows);
  fit.dense_w.assign(kDenseFeatures * m_count, 0.0f);
  std::vector<uint32_t> order = rows;
  Rng rng(seed);
  double wscale = 1.0;
  std::vector<float> acc(m_count);
  std::vector<double> coef(m_count);
  sgdPasses(order, rng, epochs, lambda, kEtaLr, [&](uint32_t i, double eta) {
    const auto [b, nb, s, xd] = viewOf(x, i);
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
    if (wscale < 1e-4) foldDecay(wscale, fit.table, &fit.dense_w);
  });
  foldDecay(wscale, fit.table, &fit.dense_w);
  return fit;
}

void lrLogits(const LrFit& fit, const Matrix& x, size_t m_count, uint32_t i, float* z,
              const std::vector<float>* idf) {
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

MfFit fitMf(const Matrix& x, const TrainingData& data, const std::vector<uint32_t>& rows, double lambda,
            uint32_t epochs, uint64_t seed) {
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
  std::vector<float> acc(r);
  std::vector<double> h(r), gh(r), g(m_count);
  sgdPasses(order, rng, epochs, lambda, kEtaMf, [&](uint32_t i, double eta) {
    const auto [b, nb, s, xd] = viewOf(x, i);
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
    if (escale < 1e-4) foldDecay(escale, fit.emb);
  });
  foldDecay(escale, fit.emb);
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

Stack identityStack(size_t inputs, size_t m_count) {
  Stack st;
  st.a.assign(inputs, std::vector<double>(m_count, 1.0));
  st.c.assign(m_count, 0.0);
  return st;
}

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
  double wscale = 1.0;
  std::vector<double> z(t_count), coef(t_count);
  std::vector<float> acc(t_count);
  sgdPasses(order, rng, epochs, lambda, kEtaLr, [&](uint32_t i, double eta) {
    const auto [b, nb, s, xd] = viewOf(x, i);
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
    if (wscale < 1e-4) foldDecay(wscale, fit.table, &fit.dense_w);
  });
  foldDecay(wscale, fit.table, &fit.dense_w);
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
float priorLogit(const double* probs, const float* mu, size_t t_count, size_t m_count, size_t m) {
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

}  // namespace rightsize::routing::train_steps
