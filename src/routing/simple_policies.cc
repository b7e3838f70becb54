// `fixed` and `cheapest`: the policies that need no model of the prompt.
#include <algorithm>
#include <numeric>

#include "routing/policy.h"

namespace rightsize::routing {

std::vector<size_t> availableByCost(std::span<const CandidateState> candidates) {
  std::vector<size_t> idx;
  for (size_t i = 0; i < candidates.size(); ++i)
    if (candidates[i].available) idx.push_back(i);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    return candidates[a].est_cost < candidates[b].est_cost;
  });
  return idx;
}

namespace {

// fixed: always the first candidate; the others (in configured order) are the fallbacks.
class FixedPolicy final : public Policy {
 public:
  Result<Decision> decide(const DecisionInput& in) const override {
    Decision d;
    for (size_t i = 0; i < in.candidates.size(); ++i)
      if (in.candidates[i].available) d.order.push_back(i);
    if (d.order.empty()) return fail(ErrorCode::kUnavailable, "no candidate available (all circuits open)");
    d.reason = d.order[0] == 0 ? "fixed: first candidate" : "fixed: first candidate unavailable, next in order";
    return d;
  }
  std::string_view name() const override { return "fixed"; }
};

// cheapest: the cheapest available candidate by estimated cost of this request.
class CheapestPolicy final : public Policy {
 public:
  Result<Decision> decide(const DecisionInput& in) const override {
    Decision d;
    d.order = availableByCost(in.candidates);
    if (d.order.empty()) return fail(ErrorCode::kUnavailable, "no candidate available (all circuits open)");
    d.reason = "cheapest: lowest estimated cost among available candidates";
    return d;
  }
  std::string_view name() const override { return "cheapest"; }
};

}  // namespace

Result<std::unique_ptr<Policy>> makeFixedPolicy(const PolicyContext&) {
  return std::unique_ptr<Policy>(std::make_unique<FixedPolicy>());
}
Result<std::unique_ptr<Policy>> makeCheapestPolicy(const PolicyContext&) {
  return std::unique_ptr<Policy>(std::make_unique<CheapestPolicy>());
}

}  // namespace rightsize::routing
