#include "pipeline/account_stage.h"

#include "pipeline/respond.h"
#include "pipeline/shadow.h"

namespace rightsize::pipeline {

Flow AccountStage::run(RequestContext& ctx) {
  settleKey(ctx);
  if (ctx.shape) ctx.shape->finished(ctx.info);
  if (s_.shadow) s_.shadow->offer(ctx, s_);  // the answer is complete; never waits
  writeLedgerRow(ctx);  // last: it moves strings out of ctx.info
  return Flow::kNext;
}

void AccountStage::settleKey(RequestContext& ctx) const {
  settleAdmission(ctx);  // a no-op when the answer's sender already settled it
}

void AccountStage::writeLedgerRow(RequestContext& ctx) const {
  if (!s_.recorder) return;
  RequestInfo& info = ctx.info;
  ledger::LedgerRecord r;
  r.time = info.arrived;
  r.request_id = std::move(info.request_id);
  r.key_id = std::move(info.key_id);
  r.route = std::move(info.route);
  if (info.chosen) {
    r.model = info.chosen->name;
    r.provider = info.chosen->provider;
  }
  r.candidates = info.candidates;
  r.knob = info.knob;
  const bool routed = info.decision_us >= 0;
  r.decision = std::chrono::microseconds(routed ? info.decision_us : 0);
  // Every paid call is in cost_nanos, even when the answer itself failed (a cascade's rejected
  // answers); the answer's own tokens only when its usage is known.
  if (info.status == 200 || info.usage_known) {
    r.tokens_in = info.usage.prompt_tokens;
    r.tokens_out = info.usage.completion_tokens;
    r.cached_tokens = info.usage.cached_tokens;
    r.cache_write_tokens = info.usage.cache_write_tokens;
    r.reasoning_tokens = info.usage.reasoning_tokens;
    r.usage_estimated = info.usage_estimated;
    r.cost_nanos = answerCost(info);
    r.reference_cost_nanos = referenceCost(info);
  } else {
    r.cost_nanos = info.extra_cost;
  }
  if (info.reference) r.reference_model = info.reference->name;
  r.latency = std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - info.start);
  r.ttft = info.ttft;
  r.status = info.status;
  r.error = std::move(info.error);
  r.attempts = info.attempts;
  r.sensitive = info.sensitive;
  r.attempts_detail = std::move(info.attempts_detail);
  if (!info.sensitive) r.prompt = std::move(info.prompt);  // privacy: a sensitive prompt is never stored
  r.stream = info.stream;
  s_.recorder->record(std::move(r), routed);
}

}  // namespace rightsize::pipeline
