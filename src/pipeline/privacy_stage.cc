#include "pipeline/privacy_stage.h"

namespace rightsize::pipeline {

Flow PrivacyStage::run(RequestContext& ctx) {
  auto denied = s_.policy->restrictSensitive(ctx.chat, ctx.route ? ctx.route->route : nullptr, ctx.info.route,
                                             ctx.candidates, ctx.fallback, ctx.info.sensitive, s_.metrics, true);
  if (!denied) return Flow::kNext;
  ctx.error = std::move(*denied);
  return Flow::kStop;
}

}  // namespace rightsize::pipeline
