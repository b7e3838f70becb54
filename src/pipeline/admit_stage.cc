#include "pipeline/admit_stage.h"

#include <algorithm>

#include "pipeline/decide_stage.h"
#include "pipeline/respond.h"
#include "routing/cost_estimate.h"

namespace rightsize::pipeline {

void applyPin(RequestContext& ctx, const PolicyServices& policy, const std::optional<std::string>& pinned) {
  if (ctx.session.empty() || ctx.decided == 0) return;
  if (pinned) {
    for (size_t i = 0; i < ctx.decided; ++i) {
      if (ctx.targets[i].model->name != *pinned) continue;
      const auto at = ctx.targets.begin() + static_cast<std::ptrdiff_t>(i);
      std::rotate(ctx.targets.begin(), at, at + 1);
      return;
    }
    // The pinned model is not available for this request (circuit open, privacy, cost cap):
    // the first choice serves it, and becomes the pin.
  }
  policy.repin(ctx.info.route, ctx.session, ctx.targets.front().model->name);
}

Flow AdmitStage::run(RequestContext& ctx) {
  if (session_pins_ && ctx.route && ctx.route->route->pin_sessions && ctx.decided > 0)
    ctx.session = s_.policy->sessionOf(ctx.chat, ctx.req);
  // No session and no key: no lookup and no coroutine frame on the hot path.
  return ctx.session.empty() && !keyed(ctx) ? Flow::kNext : Flow::kSuspend;
}

asio::awaitable<Flow> AdmitStage::runAsync(RequestContext& ctx) {
  if (!ctx.session.empty()) {
    auto op = s_.policy->pins().lookup(ctx.info.route, ctx.session);
    const std::optional<std::string> pinned = co_await std::move(op);
    applyPin(ctx, *s_.policy, pinned);
  }
  if (!keyed(ctx)) co_return Flow::kNext;
  const config::ModelConfig& m = *ctx.targets.front().model;
  const int64_t est_tokens =
      api::estimateTokens(ctx.chat.content_chars) + routing::expectedOutputTokens(m, ctx.chat.max_tokens);
  auto op = s_.keys->admit(*ctx.key, est_tokens, estimateCost(m, ctx.chat));
  ctx.admission = co_await std::move(op);
  ctx.keys = s_.keys;
  if (ctx.admission.admitted) co_return Flow::kNext;
  http::Response res = s_.keys->refusal(ctx.admission, ctx.shape);
  setInfoHeaders(res, ctx.info, false);
  ctx.info.status = static_cast<int>(res.result_int());
  ctx.info.error = ctx.admission.message;
  co_await ctx.w.send(std::move(res));
  co_return Flow::kStop;
}

}  // namespace rightsize::pipeline
