#include "pipeline/auth_stage.h"

namespace rightsize::pipeline {

Flow AuthStage::run(RequestContext& ctx) {
  if (!s_.keys) return Flow::kNext;
  auto k = s_.keys->authenticate(ctx.req);
  if (!k) {
    ctx.error = std::move(k.error());
    return Flow::kStop;
  }
  ctx.key = std::move(*k);
  if (ctx.key) ctx.info.key_id = ctx.key->id;
  return Flow::kNext;
}

}  // namespace rightsize::pipeline
