#include "routing/cascade_policy.h"

#include <fmt/format.h>

namespace rightsize::routing {

Result<Decision> CascadePolicy::decide(const DecisionInput& in) const {
  Decision d;
  d.order = availableByCost(in.candidates);
  if (d.order.empty()) return fail(ErrorCode::kUnavailable, "no candidate available (all circuits open)");
  d.reason = "cascade: cheapest first, escalate when an answer fails its checks";
  return d;
}

Result<CascadePreRouter> CascadePreRouter::make(std::shared_ptr<const RouterModel> router, const CascadePlan& plan,
                                                PreRouteThresholds thresholds, const config::Config& cfg,
                                                const std::string& route_name, const std::string& router_path) {
  CascadePreRouter pr;
  for (const std::string& name : plan.models()) {
    int m = router->modelIndex(name);
    auto it = cfg.models.find(name);
    if (m < 0 && it != cfg.models.end()) m = router->modelIndex(it->second.id);
    if (m < 0) {
      std::string known;
      for (const auto& k : router->models) known += (known.empty() ? "" : ", ") + k;
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("route '{}': cascade.pre_route: stage model '{}' is not a model of router file {} (its models: {})",
                              route_name, name, router_path, known));
    }
    pr.to_router_.push_back(static_cast<size_t>(m));
  }
  pr.router_ = std::move(router);
  pr.thresholds_ = thresholds;
  return pr;
}

void CascadePreRouter::probabilities(std::string_view ask, std::vector<double>& out) const {
  thread_local std::vector<double> all;
  all.resize(router_->modelCount());
  router_->predict(ask, all);
  out.resize(to_router_.size());
  for (size_t i = 0; i < to_router_.size(); ++i) out[i] = all[to_router_[i]];
}

PreRouteChoice CascadePreRouter::decide(const CascadePlan& plan, std::string_view ask) const {
  std::vector<double> p;
  probabilities(ask, p);
  return decidePreRoute(plan, thresholds_, p);
}

Result<std::unique_ptr<CascadePolicy>> makeCascade(const PolicyContext& ctx) {
  auto checks = AnswerChecks::make(ctx.route.cascade, ctx.config.source, ctx.route.name);
  if (!checks) return fail(checks.error());
  std::optional<CascadePlan> plan;
  if (!ctx.route.cascade.stages.empty()) {
    auto p = CascadePlan::make(ctx.route.cascade, ctx.config.source, ctx.route.name);
    if (!p) return fail(p.error());
    plan = std::move(*p);
  }
  std::optional<CascadePreRouter> pre_router;
  if (plan && ctx.route.cascade.pre_route) {
    const config::CascadePreRoute& pr = *ctx.route.cascade.pre_route;
    auto router = RouterModel::load(pr.router);
    if (!router) {
      Error e = router.error();
      e.message = "route '" + ctx.route.name + "': cascade.pre_route: " + e.message;
      return fail(std::move(e));
    }
    auto made = CascadePreRouter::make(std::make_shared<const RouterModel>(std::move(*router)), *plan,
                                       PreRouteThresholds{pr.direct_above, pr.escalate_below}, ctx.config,
                                       ctx.route.name, pr.router);
    if (!made) return fail(made.error());
    pre_router = std::move(*made);
  }
  return std::make_unique<CascadePolicy>(std::move(*checks), ctx.route.cascade.max_attempts, std::move(plan),
                                         std::move(pre_router));
}

Result<std::unique_ptr<Policy>> makeCascadePolicy(const PolicyContext& ctx) {
  auto c = makeCascade(ctx);
  if (!c) return fail(c.error());
  return std::unique_ptr<Policy>(std::move(*c));
}

}  // namespace rightsize::routing
