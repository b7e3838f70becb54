#include "evals/simulate.h"

namespace rightsize::evals {

std::vector<double> sweepKnobs(int n) {
  if (n <= 1) return {1.0};
  std::vector<double> k;
  for (int i = 0; i < n; ++i) k.push_back(static_cast<double>(i) / static_cast<double>(n - 1));
  return k;
}

std::vector<DecisionRecord> decideAll(const routing::RouterModel& router, const std::vector<PromptRecord>& prompts,
                                      const std::vector<double>& knobs,
                                      const std::function<void(size_t, size_t)>& progress) {
  const size_t m_count = router.modelCount();
  // Predict once per prompt; the knob only changes the choice.
  std::vector<double> p(prompts.size() * m_count), c(prompts.size() * m_count);
  for (size_t i = 0; i < prompts.size(); ++i) {
    router.predict(prompts[i].ask, std::span<double>(&p[i * m_count], m_count));
    for (size_t m = 0; m < m_count; ++m) c[i * m_count + m] = router.estimateCostUsd(m, prompts[i].ask.size());
    if (progress && (i % 512 == 0 || i + 1 == prompts.size())) progress(i + 1, prompts.size());
  }
  std::vector<DecisionRecord> out;
  out.reserve(prompts.size() * knobs.size());
  for (double k : knobs) {
    const double w = router.weightForKnob(k);
    for (size_t i = 0; i < prompts.size(); ++i) {
      const int m = router.chooseWithWeight(std::span<const double>(&p[i * m_count], m_count),
                                            std::span<const double>(&c[i * m_count], m_count), {}, w,
                                            router.anchor_model);
      out.push_back({prompts[i].id, router.models[static_cast<size_t>(m)], k, ""});
    }
  }
  return out;
}

std::vector<PromptRecord> promptsOf(const OutcomeSet& set) {
  std::vector<PromptRecord> out;
  out.reserve(set.size());
  for (size_t i = 0; i < set.size(); ++i) out.push_back({set.ids[i], set.asks[i]});
  return out;
}

}  // namespace rightsize::evals
