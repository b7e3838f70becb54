#pragma once
// Stage "route": the request's model name resolved. A configured route gives its candidates,
// fallbacks, reference model and dispatch strategy; a configured model named directly is its
// own one-candidate route (direct dispatch); anything else is 404. Fills ctx.route,
// ctx.candidates, ctx.fallback, ctx.dispatcher, info.route/candidates/reference.

#include "pipeline/services.h"
#include "pipeline/stage.h"

namespace rightsize::pipeline {

class RouteStage final : public Stage {
 public:
  explicit RouteStage(const Services& s) : s_(s) {}
  std::string_view name() const override { return "route"; }
  Flow run(RequestContext& ctx) override;

 private:
  const Services& s_;
};

// Points ctx at route `name` (also run by the decide stage when a rules policy hands the request
// to another route).
void useRoute(RequestContext& ctx, const config::Config& cfg, const std::string& name, const RouteState& rs);

}  // namespace rightsize::pipeline
