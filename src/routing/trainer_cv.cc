// Step 3 of train() (routing/trainer_steps.h): the inner cross-validation of every component
// and hyperparameter, their calibration, and kNN for comparison.
#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

#include "routing/trainer_steps.h"

namespace rightsize::routing::train_steps {
namespace {

// Hyperparameter grids searched by the inner cross-validation (train keeps the best on held-out
// folds; the grids only bound the search).
const std::vector<double> kLrLambdas = {1e-4, 3e-4, 1e-3, 3e-3, 1e-2};
const std::vector<double> kMfLambdas = {1e-4, 1e-3, 1e-2};
const std::vector<double> kTaskLambdas = {1e-6, 1e-5, 1e-4};

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

Result<Folds> splitFolds(const TrainingData& data, uint64_t seed, uint32_t folds) {
  const size_t n = data.size();
  Folds out;
  out.fold.resize(n);
  for (size_t i = 0; i < n; ++i) out.fold[i] = foldOf(data.ids[i], seed, folds);
  out.train_rows.resize(folds);
  out.test_rows.resize(folds);
  for (size_t i = 0; i < n; ++i)
    for (uint32_t k = 0; k < folds; ++k) (out.fold[i] == k ? out.test_rows[k] : out.train_rows[k]).push_back(uint32_t(i));
  for (uint32_t k = 0; k < folds; ++k)
    if (out.test_rows[k].empty() || out.train_rows[k].empty())
      return fail(ErrorCode::kInvalidArgument, "a cross-validation fold is empty: too few prompts");
  return out;
}

Tasks indexTasks(const TrainingData& data) {
  const size_t n = data.size();
  Tasks out;
  out.of.assign(n, -1);
  if (data.tasks.size() != n) return out;
  std::map<std::string, int> ids;
  for (const auto& t : data.tasks)
    if (!t.empty()) ids.emplace(t, 0);
  if (ids.size() < 2 || ids.size() > kMaxTasks) return out;
  for (auto& [name, id] : ids) {
    id = static_cast<int>(out.names.size());
    out.names.push_back(name);
  }
  for (size_t i = 0; i < n; ++i)
    if (!data.tasks[i].empty()) out.of[i] = ids.at(data.tasks[i]);
  return out;
}

std::vector<Setting> settingGrid(bool lr, bool mf, bool task, bool tfidf) {
  std::vector<Setting> settings;
  if (lr)
    for (double l : kLrLambdas) settings.push_back({Kind::kLr, l});
  if (mf)
    for (double l : kMfLambdas) settings.push_back({Kind::kMf, l});
  if (task)
    for (double l : kTaskLambdas) settings.push_back({Kind::kTask, l});
  if (tfidf)
    for (double l : kLrLambdas) settings.push_back({Kind::kTfidf, l});
  return settings;
}

std::string settingName(const Setting& st, size_t t_count) {
  switch (st.kind) {
    case Kind::kLr: return "lr(lambda=" + fmtLambda(st.lambda) + ")";
    case Kind::kMf: return "mf(rank=" + std::to_string(kMfRank) + ",lambda=" + fmtLambda(st.lambda) + ")";
    case Kind::kTask: return "task(tasks=" + std::to_string(t_count) + ",lambda=" + fmtLambda(st.lambda) + ")";
    case Kind::kTfidf: return "tfidf-lr(lambda=" + fmtLambda(st.lambda) + ")";
  }
  return std::string();
}

void predictHeldOut(const Setting& st, const Matrix& x, const TrainingData& data, const Tasks& tasks,
                    const std::vector<uint32_t>& train, const std::vector<uint32_t>& test, uint32_t epochs,
                    uint64_t seed, const std::vector<float>* idf, std::vector<float>& out) {
  const size_t m_count = data.models.size();
  switch (st.kind) {
    case Kind::kLr: {
      LrFit fit = fitLr(x, data, train, st.lambda, epochs, seed);
      for (uint32_t i : test) lrLogits(fit, x, m_count, i, &out[i * m_count]);
      break;
    }
    case Kind::kMf: {
      MfFit fit = fitMf(x, data, train, st.lambda, epochs, seed);
      for (uint32_t i : test) mfLogits(fit, x, m_count, i, &out[i * m_count]);
      break;
    }
    case Kind::kTask: {
      const size_t t_count = tasks.count();
      TaskFit fit = fitTask(x, tasks.of, t_count, train, st.lambda, epochs, seed);
      const auto mu = taskMeans(data, tasks.of, t_count, train);
      std::vector<double> probs(t_count);
      for (uint32_t i : test) {
        taskProbs(fit, x, t_count, i, probs.data());
        for (size_t m = 0; m < m_count; ++m) out[i * m_count + m] = priorLogit(probs.data(), mu.data(), t_count, m_count, m);
      }
      break;
    }
    case Kind::kTfidf: {
      LrFit fit = fitLr(x, data, train, st.lambda, epochs, seed, idf, false);
      for (uint32_t i : test) lrLogits(fit, x, m_count, i, &out[i * m_count], idf);
      break;
    }
  }
}

std::vector<std::vector<float>> crossValidate(const Matrix& x, const TrainingData& data, const Tasks& tasks,
                                              const Folds& folds, const std::vector<Setting>& settings,
                                              const TrainOptions& options, uint32_t threads) {
  const size_t n = data.size(), m_count = data.models.size();
  const uint32_t k_count = static_cast<uint32_t>(folds.test_rows.size());
  const bool any_tfidf =
      std::any_of(settings.begin(), settings.end(), [](const Setting& s) { return s.kind == Kind::kTfidf; });
  // One idf per fold, shared by the tf-idf settings.
  std::vector<std::vector<float>> fold_idf(any_tfidf ? k_count : 0);
  for (size_t k = 0; k < fold_idf.size(); ++k) fold_idf[k] = idfWeights(x, folds.train_rows[k]);
  std::vector<std::vector<float>> oof(settings.size(), std::vector<float>(n * m_count, 0.0f));
  Progress prog(options, "cross-validation", settings.size() * k_count);
  parallelFor(settings.size() * k_count, threads, [&](size_t job) {
    const size_t s = job / k_count;
    const uint32_t k = static_cast<uint32_t>(job % k_count);
    const uint64_t seed = options.seed * 1000003ULL + k;
    predictHeldOut(settings[s], x, data, tasks, folds.train_rows[k], folds.test_rows[k], options.epochs, seed,
                   settings[s].kind == Kind::kTfidf ? &fold_idf[k] : nullptr, oof[s]);
    prog.step();
  });
  return oof;
}

BestSettings pickBestSettings(const TrainingData& data, const std::vector<Setting>& settings,
                              const std::vector<std::vector<float>>& oof, bool calibrate, size_t t_count) {
  const size_t n = data.size(), m_count = data.models.size();
  BestSettings out;
  std::array<double, kKinds> best_ll = {1e300, 1e300, 1e300, 1e300};
  for (size_t s = 0; s < settings.size(); ++s) {
    const bool platt = calibrate && settings[s].kind != Kind::kTfidf;  // tf-idf: as the baseline decides
    Stack st = platt ? fitStack(data, {&oof[s]}) : identityStack(1, m_count);
    auto p = applyStack(st, n, m_count, {&oof[s]});
    LearnerScore ls;
    ls.name = settingName(settings[s], t_count);
    lossOf(data, p, ls.log_loss, ls.brier);
    out.tried.push_back(ls);
    const size_t c = static_cast<size_t>(settings[s].kind);
    if (ls.log_loss < best_ll[c]) best_ll[c] = ls.log_loss, out.best[c] = static_cast<int>(s);
  }
  return out;
}

KnnComparison compareKnn(const Matrix& x, const TrainingData& data, const Folds& folds, uint32_t threads,
                         const RouterModel& shape, const std::vector<double>& est_cost) {
  const size_t n = data.size(), m_count = data.models.size();
  const std::vector<int> ks = {5, 10, 20, 50, 100};
  auto z = knnOutOfFold(x, data, folds.train_rows, folds.test_rows, ks, threads);
  KnnComparison out;
  std::vector<float> knn_p;
  std::string knn_name;
  double best_knn = 1e300;
  for (size_t kk = 0; kk < ks.size(); ++kk) {
    Stack st = fitStack(data, {&z[kk]});
    auto p = applyStack(st, n, m_count, {&z[kk]});
    LearnerScore ls;
    ls.name = "knn(k=" + std::to_string(ks[kk]) + ")";
    lossOf(data, p, ls.log_loss, ls.brier);
    out.tried.push_back(ls);
    if (ls.log_loss < best_knn) best_knn = ls.log_loss, knn_p = std::move(p), knn_name = ls.name;
  }
  if (knn_p.empty()) return out;  // no k had a finite loss: no finalist (empty name)
  out.finalist.name = knn_name + " [comparison only]";
  lossOf(data, knn_p, out.finalist.log_loss, out.finalist.brier);
  for (const auto& sp : sweep(shape, data, knn_p, est_cost)) out.finalist.curve.emplace_back(sp.real_cost, sp.quality);
  return out;
}

}  // namespace rightsize::routing::train_steps
