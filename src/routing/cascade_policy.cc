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
  return std::make_unique<CascadePolicy>(std::move(*checks), ctx.route.cascade.max_attempts);
}

Result<std::unique_ptr<Policy>> makeCascadePolicy(const PolicyContext& ctx) {
  auto c = makeCascade(ctx);
  if (!c) return fail(c.error());
  return std::unique_ptr<Policy>(std::move(*c));
}

}  // namespace rightsize::routing
