#include "pipeline/dispatch_stage.h"

#include "pipeline/dispatch.h"

namespace rightsize::pipeline {

asio::awaitable<Flow> DispatchStage::runAsync(RequestContext& ctx) {
  co_await ctx.dispatcher->dispatch(ctx, s_);
  co_return Flow::kStop;
}

}  // namespace rightsize::pipeline
