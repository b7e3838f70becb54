// Steps 1 and 2 of train() (routing/trainer_steps.h): the prompts' features and the per-model
// cost models; the machinery the other steps share.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <thread>

#include "routing/trainer_steps.h"

namespace rightsize::routing::train_steps {

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

Progress::Progress(const TrainOptions& o, std::string stage, size_t total)
    : o_(o), stage_(std::move(stage)), total_(total) {
  if (o_.progress) o_.progress(stage_, 0, total_);
}

void Progress::step() {
  std::lock_guard<std::mutex> lock(mu_);
  ++done_;
  if (o_.progress) o_.progress(stage_, done_, total_);
}

std::string fmtLambda(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

Features buildFeatures(const TrainingData& data, uint32_t hash_bits, uint32_t threads, const TrainOptions& progress) {
  const size_t n = data.size();
  Features out;
  Matrix& x = out.x;
  x.bits = hash_bits;
  std::vector<std::vector<uint32_t>> buckets(n), hashes(n);
  std::vector<float> scale(n);
  std::vector<std::array<float, kDenseFeatures>> dense(n);
  Progress prog(progress, "features", (n + 255) / 256);
  parallelFor(n, threads, [&](size_t i) {
    thread_local PromptFeatures f;
    extractFeatures(data.asks[i], hash_bits, f);
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
    out.dense_mean[d] = static_cast<float>(mean[d]);
    out.dense_inv_std[d] = var > 1e-12 ? static_cast<float>(kDenseScale / std::sqrt(var)) : 0.0f;
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
      x.dense.push_back((dense[i][d] - out.dense_mean[d]) * out.dense_inv_std[d]);
    x.bytes.push_back(static_cast<uint32_t>(data.asks[i].size()));
  }
  return out;
}

Result<CostFit> fitCosts(const TrainingData& data) {
  const size_t n = data.size();
  const size_t m_count = data.models.size();
  CostFit out;
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
    out.observed += static_cast<size_t>(cnt);
    out.mean_score.push_back(ss / cnt);
    out.mean_cost_usd.push_back(sc / cnt);
    CostModel cm;
    const double var = sxx / cnt - (sx / cnt) * (sx / cnt);
    const double cov = sxy / cnt - (sx / cnt) * (sc / cnt);
    cm.per_byte_usd = var > 1e-9 ? std::max(0.0, cov / var) : 0.0;
    cm.base_usd = sc / cnt - cm.per_byte_usd * (sx / cnt);
    if (cm.base_usd < 0) {  // keep costs positive for short prompts: refit through the origin
      cm.base_usd = 0;
      cm.per_byte_usd = sxx > 0 ? sxy / sxx : 0;
    }
    out.costs.push_back(cm);
  }
  return out;
}

std::vector<double> estimatedCosts(const std::vector<CostModel>& costs, const Matrix& x) {
  const size_t n = x.rows(), m_count = costs.size();
  std::vector<double> est(n * m_count);
  for (size_t i = 0; i < n; ++i)
    for (size_t m = 0; m < m_count; ++m) est[i * m_count + m] = costs[m].estimate(x.bytes[i]);
  return est;
}

}  // namespace rightsize::routing::train_steps
