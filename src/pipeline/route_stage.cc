#include "pipeline/route_stage.h"

#include "pipeline/dispatch.h"

namespace rightsize::pipeline {

void useRoute(RequestContext& ctx, const config::Config& cfg, const std::string& name, const RouteState& rs) {
  ctx.route = &rs;
  ctx.dispatcher = rs.dispatcher.get();
  ctx.info.route = name;
  ctx.info.candidates = rs.candidates_joined;
  ctx.candidates.clear();
  ctx.fallback.clear();
  for (const auto& c : rs.route->candidates) ctx.candidates.push_back(&cfg.models.at(c));
  for (const auto& f : rs.route->fallback) ctx.fallback.push_back(&cfg.models.at(f));
  ctx.info.reference =
      &cfg.models.at(rs.route->reference.empty() ? rs.route->candidates.back() : rs.route->reference);
}

Flow RouteStage::run(RequestContext& ctx) {
  const config::Config& cfg = *s_.cfg;
  if (auto it = s_.routes.find(ctx.chat.model); it != s_.routes.end()) {
    useRoute(ctx, cfg, it->first, it->second);
    return Flow::kNext;
  }
  if (auto mt = cfg.models.find(ctx.chat.model); mt != cfg.models.end()) {
    // A model named directly is its own one-candidate route.
    ctx.info.route = mt->first;
    ctx.info.candidates = mt->first;
    ctx.candidates.push_back(&mt->second);
    ctx.info.reference = &mt->second;
    ctx.dispatcher = s_.direct.get();
    return Flow::kNext;
  }
  ctx.error = Error{ErrorCode::kNotFound,
                    "the model '" + ctx.chat.model + "' does not exist: it is neither a configured model nor a "
                    "route (see GET /v1/models)", 0};
  return Flow::kStop;
}

}  // namespace rightsize::pipeline
