#pragma once
// policy: cascade — "default to small, escalate only when necessary". decide() orders the
// available candidates cheapest first; the gateway (src/pipeline/cascade_dispatch.cc) calls them
// in that order and stops at the first answer whose checks() pass. A route with cascade.stages
// has a plan() instead: its stages (a model, or an agree group) run in order (cascade_plan.h).

#include <memory>

#include "routing/cascade_plan.h"
#include "routing/checks.h"
#include "routing/policy.h"

namespace rightsize::routing {

class CascadePolicy final : public Policy {
 public:
  CascadePolicy(std::unique_ptr<AnswerChecks> checks, uint32_t max_attempts,
                std::optional<CascadePlan> plan = std::nullopt)
      : checks_(std::move(checks)), max_attempts_(max_attempts), plan_(std::move(plan)) {}
  Result<Decision> decide(const DecisionInput& in) const override;
  std::string_view name() const override { return "cascade"; }

  const AnswerChecks& checks() const { return *checks_; }
  // Upper bound on answered attempts per request; 0 = no bound beyond the targets.
  uint32_t maxAttempts() const { return max_attempts_; }
  // The staged cascade (cascade.stages), or null: candidates cheapest first.
  const CascadePlan* plan() const { return plan_ ? &*plan_ : nullptr; }

 private:
  std::unique_ptr<AnswerChecks> checks_;
  uint32_t max_attempts_ = 0;
  std::optional<CascadePlan> plan_;
};

// Builds a route's cascade policy as its own type (the registry's makePolicy() gives a Policy):
// the gateway picks the cascade dispatch for a `policy: cascade` route at startup and keeps this
// object for its checks. Fails like makePolicy() (a bad schema file is kInvalidArgument, ...).
Result<std::unique_ptr<CascadePolicy>> makeCascade(const PolicyContext& ctx);

}  // namespace rightsize::routing
