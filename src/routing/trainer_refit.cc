// Step 6 of train() (routing/trainer_steps.h): refit the chosen components on all the data and
// fold them into the router's one linear head.
#include <algorithm>
#include <numeric>

#include "routing/trainer_steps.h"

namespace rightsize::routing::train_steps {

FoldedHead refitAndFold(const Matrix& x, const TrainingData& data, const Tasks& tasks,
                        const std::vector<Setting>& settings, const BestSettings& best, const Finalist& fin,
                        const TrainOptions& opt, uint32_t threads) {
  const size_t n = data.size(), m_count = data.models.size(), t_count = tasks.count();
  FoldedHead out;
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
  Progress prog(opt, "final fit", (use_lr ? 1 : 0) + (use_mf ? 1 : 0) + (use_task ? 1 : 0) + (use_tfidf ? 1 : 0));
  LrFit lr_fit;
  MfFit mf_fit;
  TaskFit task_fit;
  LrFit tfidf_fit;
  const std::vector<float> idf_all = use_tfidf ? idfWeights(x, all) : std::vector<float>();
  parallelFor(4, threads, [&](size_t job) {
    const uint64_t seed = opt.seed * 1000003ULL + 999;
    if (job == 0 && use_lr) {
      lr_fit = fitLr(x, data, all, settings[static_cast<size_t>(best.best[0])].lambda, opt.epochs, seed);
      prog.step();
    }
    if (job == 1 && use_mf) {
      mf_fit = fitMf(x, data, all, settings[static_cast<size_t>(best.best[1])].lambda, opt.epochs, seed);
      prog.step();
    }
    if (job == 2 && use_task) {
      task_fit = fitTask(x, tasks.of, t_count, all, settings[static_cast<size_t>(best.best[2])].lambda, opt.epochs, seed);
      prog.step();
    }
    if (job == 3 && use_tfidf) {
      tfidf_fit = fitLr(x, data, all, settings[static_cast<size_t>(best.best[3])].lambda, opt.epochs, seed, &idf_all, false);
      prog.step();
    }
  });
  // Columns 0..M-1: the stacked lr/mf logits (linear, so folded exactly); M..M+T-1: the task
  // classifier's logits, whose softmax weighs the per-task means (LinearHead, RouterModel).
  const size_t outs = m_count + tc;
  const size_t d_size = size_t{1} << opt.hash_bits;
  out.head.reset(opt.hash_bits, static_cast<uint32_t>(outs));
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
    float* row = out.head.row(static_cast<uint32_t>(b));
    for (size_t c = 0; c < outs; ++c) row[c] = static_cast<float>(merged[c]);
  }
  for (size_t m = 0; m < m_count; ++m) {
    double bias = fin.stack.c[m];
    if (use_lr) bias += (*a_lr)[m] * lr_fit.bias[m];
    if (use_mf) bias += (*a_mf)[m] * mf_fit.bias[m];
    if (use_tfidf) bias += (*a_tfidf)[m] * tfidf_fit.bias[m];
    out.head.bias[m] = static_cast<float>(bias);
    for (size_t d = 0; d < kDenseFeatures; ++d) {
      double w = 0;
      if (use_lr) w += (*a_lr)[m] * lr_fit.dense_w[d * m_count + m];
      if (use_mf) w += (*a_mf)[m] * mf_fit.dense_w[d * m_count + m];
      out.head.dense_w[d * outs + m] = static_cast<float>(w);
    }
  }
  if (use_task) {
    out.tasks = tasks.names;
    out.task_mu = taskMeans(data, tasks.of, t_count, all);
    out.task_weight.assign(a_task->begin(), a_task->end());
    for (size_t t = 0; t < tc; ++t) {
      out.head.bias[m_count + t] = task_fit.bias[t];
      for (size_t d = 0; d < kDenseFeatures; ++d)
        out.head.dense_w[d * outs + m_count + t] = task_fit.dense_w[d * tc + t];
    }
  }
  return out;
}

}  // namespace rightsize::routing::train_steps
