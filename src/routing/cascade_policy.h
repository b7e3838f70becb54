#pragma once
// policy: cascade — "default to small, escalate only when necessary". decide() orders the
// available candidates cheapest first; the gateway (src/pipeline/cascade_dispatch.cc) calls them
// in that order and stops at the first answer whose checks() pass. A route with cascade.stages
// has a plan() instead: its stages (a model, or an agree group) run in order (cascade_plan.h).

#include <memory>

#include "routing/cascade_plan.h"
#include "routing/checks.h"
#include "routing/policy.h"
#include "routing/router_model.h"

namespace rightsize::routing {

// A staged cascade's learned pre-routing (cascade.pre_route): the router, the thresholds and
// where each plan model is in the router. Immutable, thread-safe.
class CascadePreRouter {
 public:
  // Fails (kInvalidArgument naming the model and the router file) when a model of the plan is
  // not a model of the router (looked up by route model name, then by provider id).
  static Result<CascadePreRouter> make(std::shared_ptr<const RouterModel> router, const CascadePlan& plan,
                                       PreRouteThresholds thresholds, const config::Config& cfg,
                                       const std::string& route_name, const std::string& router_path);
  // The pass probability of each of plan.models() (in that order) for `ask`; out is resized.
  void probabilities(std::string_view ask, std::vector<double>& out) const;
  // decidePreRoute over probabilities(ask).
  PreRouteChoice decide(const CascadePlan& plan, std::string_view ask) const;
  const PreRouteThresholds& thresholds() const { return thresholds_; }

 private:
  std::shared_ptr<const RouterModel> router_;
  PreRouteThresholds thresholds_;
  std::vector<size_t> to_router_;  // per plan.models() entry, its router model index
};

class CascadePolicy final : public Policy {
 public:
  CascadePolicy(std::unique_ptr<AnswerChecks> checks, uint32_t max_attempts,
                std::optional<CascadePlan> plan = std::nullopt, std::optional<CascadePreRouter> pre_router = std::nullopt)
      : checks_(std::move(checks)), max_attempts_(max_attempts), plan_(std::move(plan)),
        pre_router_(std::move(pre_router)) {}
  Result<Decision> decide(const DecisionInput& in) const override;
  std::string_view name() const override { return "cascade"; }

  const AnswerChecks& checks() const { return *checks_; }
  // Upper bound on answered attempts per request; 0 = no bound beyond the targets.
  uint32_t maxAttempts() const { return max_attempts_; }
  // The staged cascade (cascade.stages), or null: candidates cheapest first.
  const CascadePlan* plan() const { return plan_ ? &*plan_ : nullptr; }
  // The staged cascade's pre-routing (cascade.pre_route), or null.
  const CascadePreRouter* preRouter() const { return pre_router_ ? &*pre_router_ : nullptr; }

 private:
  std::unique_ptr<AnswerChecks> checks_;
  uint32_t max_attempts_ = 0;
  std::optional<CascadePlan> plan_;
  std::optional<CascadePreRouter> pre_router_;
};

// Builds a route's cascade policy as its own type (the registry's makePolicy() gives a Policy):
// the gateway picks the cascade dispatch for a `policy: cascade` route at startup and keeps this
// object for its checks. Fails like makePolicy() (a bad schema file is kInvalidArgument, ...; a
// pre_route router file that cannot be read is the loader's error, prefixed with the route).
Result<std::unique_ptr<CascadePolicy>> makeCascade(const PolicyContext& ctx);

}  // namespace rightsize::routing
