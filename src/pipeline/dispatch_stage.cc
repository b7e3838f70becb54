#include "pipeline/dispatch_stage.h"

#include "pipeline/dispatch.h"
#include "pipeline/shadow.h"

namespace rightsize::pipeline {

asio::awaitable<Flow> DispatchStage::runAsync(RequestContext& ctx) {
  if (s_.shadow) s_.shadow->sample(ctx);  // decided before the answer, so the answer's text is kept
  co_await ctx.dispatcher->dispatch(ctx, s_);
  co_return Flow::kStop;
}

}  // namespace rightsize::pipeline
