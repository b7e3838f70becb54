#pragma once
// policy: cascade — "default to small, escalate only when necessary". decide() orders the
// available candidates cheapest first; the gateway (src/server/cascade_dispatch.cc) calls them
// in that order and stops at the first answer whose checks() pass.

#include <memory>

#include "routing/checks.h"
#include "routing/policy.h"

namespace rightsize::routing {

class CascadePolicy final : public Policy {
 public:
  explicit CascadePolicy(std::unique_ptr<AnswerChecks> checks, uint32_t max_attempts)
      : checks_(std::move(checks)), max_attempts_(max_attempts) {}
  Result<Decision> decide(const DecisionInput& in) const override;
  std::string_view name() const override { return "cascade"; }

  const AnswerChecks& checks() const { return *checks_; }
  // Upper bound on answered attempts per request; 0 = no bound beyond the targets.
  uint32_t maxAttempts() const { return max_attempts_; }

 private:
  std::unique_ptr<AnswerChecks> checks_;
  uint32_t max_attempts_ = 0;
};

// Builds a route's cascade policy as its own type (the registry's makePolicy() gives a Policy):
// the gateway picks the cascade dispatch for a `policy: cascade` route at startup and keeps this
// object for its checks. Fails like makePolicy() (a bad schema file is kInvalidArgument, ...).
Result<std::unique_ptr<CascadePolicy>> makeCascade(const PolicyContext& ctx);

}  // namespace rightsize::routing
