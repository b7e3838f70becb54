#include "routing/cascade_policy.h"

namespace rightsize::routing {

Result<Decision> CascadePolicy::decide(const DecisionInput& in) const {
  Decision d;
  d.order = availableByCost(in.candidates);
  if (d.order.empty()) return fail(ErrorCode::kUnavailable, "no candidate available (all circuits open)");
  d.reason = "cascade: cheapest first, escalate when an answer fails its checks";
  return d;
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
  return std::make_unique<CascadePolicy>(std::move(*checks), ctx.route.cascade.max_attempts, std::move(plan));
}

Result<std::unique_ptr<Policy>> makeCascadePolicy(const PolicyContext& ctx) {
  auto c = makeCascade(ctx);
  if (!c) return fail(c.error());
  return std::unique_ptr<Policy>(std::move(*c));
}

}  // namespace rightsize::routing
