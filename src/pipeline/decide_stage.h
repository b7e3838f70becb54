#pragma once
// Stage "decide": which models to call, in which order. A route's policy decides among the
// candidates that are available (circuit not open), allowed (on-prem for a sensitive request)
// and within rightsize.max_cost_usd; a rules policy may hand the request to another route once
// (privacy is re-checked there, then that route's policy decides). No candidate within the cost
// cap is 429; a policy error other than "none available" is answered as is. The route's
// fallbacks within the cost cap follow the decided order. A model named directly is its own only
// target. Fills ctx.targets, ctx.decided, info.knob and info.decision_us.

#include "pipeline/services.h"
#include "pipeline/stage.h"

namespace rightsize::pipeline {

// The advance cost of `chat` on `m` (routing/cost_estimate.h): prompt tokens estimated from
// its characters, output from max_tokens (or the typical length) within the model's cap.
Nanos estimateCost(const config::ModelConfig& m, const api::ChatRequest& chat);

class DecideStage final : public Stage {
 public:
  explicit DecideStage(const Services& s) : s_(s) {}
  std::string_view name() const override { return "decide"; }
  Flow run(RequestContext& ctx) override;

 private:
  const Services& s_;
};

}  // namespace rightsize::pipeline
