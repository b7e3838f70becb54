#include "routing/learned_policy.h"

#include <algorithm>
#include <cstdio>

namespace rightsize::routing {
namespace {

constexpr size_t kMaxInline = 64;  // candidates handled without heap scratch

class LearnedPolicy final : public Policy {
 public:
  LearnedPolicy(std::shared_ptr<const RouterModel> router, std::vector<std::string> names, std::vector<int> to_model,
                double default_quality)
      : router_(std::move(router)),
        names_(std::move(names)),
        to_model_(std::move(to_model)),
        default_quality_(default_quality),
        default_knob_(router_->knobForQuality(default_quality)) {}

  Result<Decision> decide(const DecisionInput& in) const override {
    const size_t n = in.candidates.size();
    const size_t m_count = router_->modelCount();
    thread_local std::vector<double> probs, p, cost, learned;
    thread_local std::vector<uint8_t> allowed;
    probs.resize(m_count);
    p.resize(n);
    cost.resize(n);
    learned.resize(n);
    allowed.resize(n);
    router_->predict(in.ask, probs);

    double sum_cfg = 0, sum_learned = 0;
    bool all_priced = true, any = false;
    int anchor = -1;
    for (size_t i = 0; i < n; ++i) {
      const int m = modelOf(in.candidates[i], i);
      if (m < 0) return fail(ErrorCode::kInternal, "learned: candidate is not a router model");
      if (m == router_->anchor_model && anchor < 0) anchor = static_cast<int>(i);
      p[i] = probs[static_cast<size_t>(m)];
      learned[i] = router_->estimateCostUsd(static_cast<size_t>(m), in.ask.size());
      allowed[i] = in.candidates[i].available ? 1 : 0;
      if (!allowed[i]) continue;
      any = true;
      if (in.candidates[i].est_cost > 0) sum_cfg += static_cast<double>(in.candidates[i].est_cost);
      else all_priced = false;
      sum_learned += learned[i];
    }
    if (!any) return fail(ErrorCode::kUnavailable, "no candidate available (all circuits open)");
    const bool use_cfg = all_priced && sum_cfg > 0 && sum_learned > 0;
    const double factor = use_cfg ? sum_learned / sum_cfg : 1.0;
    for (size_t i = 0; i < n; ++i) cost[i] = use_cfg ? static_cast<double>(in.candidates[i].est_cost) * factor : learned[i];

    const double quality = in.quality ? *in.quality : default_quality_;
    const double knob = in.quality ? router_->knobForQuality(*in.quality) : default_knob_;
    const int chosen = router_->choose(p, cost, allowed, knob, anchor);

    Decision d;
    d.knob = knob;
    d.predicted_quality.assign(p.begin(), p.end());
    d.order.reserve(n);
    d.order.push_back(static_cast<size_t>(chosen));
    // Fallbacks: the other available candidates, most likely to succeed first (cheaper on ties).
    size_t rest[kMaxInline];
    std::vector<size_t> rest_heap;
    size_t* r = rest;
    if (n > kMaxInline) {
      rest_heap.resize(n);
      r = rest_heap.data();
    }
    size_t k = 0;
    for (size_t i = 0; i < n; ++i)
      if (allowed[i] && i != static_cast<size_t>(chosen)) r[k++] = i;
    std::sort(r, r + k, [&](size_t a, size_t b) { return p[a] > p[b] || (p[a] == p[b] && cost[a] < cost[b]); });
    d.order.insert(d.order.end(), r, r + k);
    char buf[160];
    std::snprintf(buf, sizeof(buf), "learned: quality %.3g -> knob %.3f; %s p=%.3f%s", quality, knob,
                  in.candidates[static_cast<size_t>(chosen)].model->name.c_str(), p[static_cast<size_t>(chosen)],
                  use_cfg ? " (config prices)" : " (learned costs)");
    d.reason = buf;
    return d;
  }

  std::string_view name() const override { return "learned"; }

 private:
  // Router model index of a candidate: by position when the input is the route's list (the
  // usual case), else by name.
  int modelOf(const CandidateState& c, size_t i) const {
    if (i < names_.size() && c.model && c.model->name == names_[i]) return to_model_[i];
    if (!c.model) return -1;
    for (size_t j = 0; j < names_.size(); ++j)
      if (names_[j] == c.model->name) return to_model_[j];
    return router_->modelIndex(c.model->name) >= 0 ? router_->modelIndex(c.model->name)
                                                   : router_->modelIndex(c.model->id);
  }

  std::shared_ptr<const RouterModel> router_;
  std::vector<std::string> names_;  // the route's candidates (config model names)
  std::vector<int> to_model_;       // their router model indices
  double default_quality_;
  double default_knob_;
};

}  // namespace

Result<std::unique_ptr<Policy>> makeLearnedPolicyFromRouter(const PolicyContext& ctx,
                                                            std::shared_ptr<const RouterModel> router) {
  const auto& route = ctx.route;
  std::vector<int> to_model;
  for (const auto& name : route.candidates) {
    int m = router->modelIndex(name);
    auto it = ctx.config.models.find(name);
    if (m < 0 && it != ctx.config.models.end()) m = router->modelIndex(it->second.id);
    if (m < 0) {
      std::string known;
      for (const auto& k : router->models) known += (known.empty() ? "" : ", ") + k;
      return fail(ErrorCode::kInvalidArgument,
                  "route '" + route.name + "': candidate '" + name + "'" +
                      (it != ctx.config.models.end() ? " (id '" + it->second.id + "')" : "") +
                      " is not a model of router file " + route.router + " (its models: " + known + ")");
    }
    to_model.push_back(m);
  }
  if (route.quality && !(*route.quality > 0 && *route.quality <= 1))
    return fail(ErrorCode::kInvalidArgument, "route '" + route.name + "': quality must be in (0, 1]");
  // Without a target, keep the best single model's quality (at the least cost the router can).
  const double q = route.quality.value_or(1.0);
  return std::unique_ptr<Policy>(std::make_unique<LearnedPolicy>(std::move(router), route.candidates,
                                                                 std::move(to_model), q));
}

Result<std::unique_ptr<Policy>> makeLearnedPolicy(const PolicyContext& ctx) {
  if (ctx.route.router.empty())
    return fail(ErrorCode::kInvalidArgument, "route '" + ctx.route.name + "': policy learned needs `router:`");
  auto router = RouterModel::load(ctx.route.router);
  if (!router) {
    Error e = router.error();
    e.message = "route '" + ctx.route.name + "': " + e.message;
    return fail(std::move(e));
  }
  return makeLearnedPolicyFromRouter(ctx, std::make_shared<const RouterModel>(std::move(*router)));
}

}  // namespace rightsize::routing
