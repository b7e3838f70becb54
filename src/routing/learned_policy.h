#pragma once
// `policy: learned`: the router file of the route (loaded once at construction) predicts each
// candidate's success probability; the route's `quality` (or the request's) picks the knob
// calibrated for it; the chosen model maximizes predicted quality minus weighted cost.
//
// Candidates map to router models by config model name, else by the provider's model `id`.
// Costs: the request's config-priced estimate (CandidateState::est_cost) when every
// available candidate has one, rescaled so their total matches the router's learned costs for
// this prompt (config prices set the ratios, the learned scale keeps the knob calibrated);
// otherwise the router's learned cost per model.

#include <memory>

#include "routing/policy.h"
#include "routing/router_model.h"

namespace rightsize::routing {

// Builds the policy from an already loaded router (tests, `rightsize route`). Fails with
// kInvalidArgument when a candidate is not one of the router's models.
Result<std::unique_ptr<Policy>> makeLearnedPolicyFromRouter(const PolicyContext& ctx,
                                                            std::shared_ptr<const RouterModel> router);

// The registered factory: loads ctx.route.router. kInvalidArgument when the route has no
// router path, kIo/kCorruptData (message names the path) when the file is missing or bad.
Result<std::unique_ptr<Policy>> makeLearnedPolicy(const PolicyContext& ctx);

}  // namespace rightsize::routing
