#include "pipeline/dispatch.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/chat_request.h"
#include "api/embeddings.h"
#include "pipeline/cascade_dispatch.h"
#include "pipeline/respond.h"

namespace rightsize::pipeline {

namespace {

// Counts each attempt of one target in the request's record and the metrics.
class AttemptCounter final : public upstream::RetryObserver {
 public:
  AttemptCounter(RequestContext& ctx, const Services& s, const Target& t, bool fallback)
      : ctx_(ctx), s_(s), t_(t), fallback_(fallback) {}
  void onAttempt(int attempt_no) override {
    if (attempt_no == 1 && fallback_ && s_.metrics) s_.metrics->fallbacks->labels({ctx_.info.route}).inc();
    if (attempt_no > 1 && s_.metrics) s_.metrics->retries->labels({t_.provider->provider->config().name}).inc();
    ++ctx_.info.attempts;
    ctx_.info.chosen = t_.model;
  }
  void onFailedAttempt(int attempt_no, const upstream::CallError& e) override {
    const auto& pname = t_.provider->provider->config().name;
    spdlog::warn("[{}] {} via {} attempt {} failed: {}", ctx_.info.request_id, t_.model->name, pname, attempt_no,
                 e.error.message);
    if (s_.metrics) s_.metrics->upstream_errors->labels({pname, upstream::failureKind(e)}).inc();
  }

 private:
  RequestContext& ctx_;
  const Services& s_;
  const Target& t_;
  const bool fallback_;
};

enum class TargetOutcome { kAnswered, kFailed, kSkipped, kFinal };

// Calls one target with its provider's retries and answers the client on success. kFailed:
// *last_error holds why (try the next target); kFinal: ctx.error is set (the request itself
// is bad: no other target would do better); kSkipped: its circuit was open, nothing was sent.
asio::awaitable<TargetOutcome> callTarget(RequestContext& ctx, const Services& s, const Target& t, bool fallback,
                                          std::optional<upstream::CallError>& last_error) {
  const api::ChatRequest& chat = ctx.chat;
  upstream::ChatCall call;
  call.request = &chat;
  call.model_id = t.model->id;
  api::Rewrite rw;
  rw.model_id = t.model->id;
  rw.force_include_usage = chat.stream && !chat.include_usage;
  // The model's max_output_tokens and the route's budget caps (policy_services.cc).
  if (applyBudget(ctx.route ? ctx.route->route : nullptr, *t.model, rw))
    appendDetail(ctx.info.attempts_detail, budgetDetail(*t.model, rw));
  auto body = api::rewriteChatRequest(ctx.req.body(), rw);
  if (!body) {
    ctx.error = std::move(body.error());
    co_return TargetOutcome::kFinal;
  }
  call.body = std::move(*body);
  AttemptCounter counter(ctx, s, t, fallback);
  if (!chat.stream) {
    auto r = co_await upstream::completeWithRetries(*t.provider, call, counter);
    if (!r.attempted) co_return TargetOutcome::kSkipped;
    if (r.result) {
      upstream::Completion& c = *r.result;
      if (c.usage) {
        ctx.info.usage = *c.usage;
        ctx.info.usage_known = true;
      } else {
        estimateUsage(ctx.info, chat, api::estimateTokens(c.body.size()));
      }
      co_await sendCompletion(ctx, std::move(c.body));
      co_return TargetOutcome::kAnswered;
    }
    last_error = std::move(r.result.error());
  } else {
    auto r = co_await upstream::streamWithRetries(*t.provider, call, counter);
    if (!r.attempted) co_return TargetOutcome::kSkipped;
    if (r.result) {
      co_await relayStream(ctx, std::move(r.result->stream), std::move(r.result->first_event));
      co_return TargetOutcome::kAnswered;
    }
    last_error = std::move(r.result.error());
  }
  if (!last_error->fallback_ok) {
    ctx.error = last_error->error;
    co_return TargetOutcome::kFinal;
  }
  co_return TargetOutcome::kFailed;
}

// The error of a dispatch where no target answered: the last error, except that a run where
// every target's circuit was open (or there was no target) is 503.
Error finalError(const std::optional<upstream::CallError>& last, bool all_skipped) {
  if (!last || all_skipped)
    return Error{ErrorCode::kUnavailable, "no upstream available for this request: every candidate's circuit is open", 0};
  return last->error;
}

// Calls `targets` in order until one answers or fails for good: `call_one(target, fallback,
// last_error)` is callTarget or callEmbeddingsTarget. Leaves ctx.error when none answered.
template <class CallOne>
asio::awaitable<void> callInOrder(RequestContext& ctx, CallOne call_one) {
  // Nothing has been sent to the client yet, so every failure here may be retried.
  std::optional<upstream::CallError> last_error;
  bool all_skipped = true;
  for (const Target& t : ctx.targets) {
    const TargetOutcome out = co_await call_one(t, !all_skipped, last_error);
    if (out == TargetOutcome::kAnswered || out == TargetOutcome::kFinal) co_return;
    if (out == TargetOutcome::kSkipped) {
      spdlog::debug("[{}] skipping {}: circuit open", ctx.info.request_id, t.model->name);
      continue;
    }
    all_skipped = false;
  }
  Error e = finalError(last_error, all_skipped);
  if (ctx.targets.size() > 1 && last_error && !all_skipped)
    e.message = fmt::format("all {} upstream attempt(s) failed; last: {}", ctx.info.attempts, e.message);
  ctx.error = std::move(e);
}

// One Embeddings target with its provider's retries; the answer relayed as it is.
asio::awaitable<TargetOutcome> callEmbeddingsTarget(RequestContext& ctx, const Services& s, const Target& t,
                                                    bool fallback, std::optional<upstream::CallError>& last_error) {
  upstream::EmbeddingsCall call;
  call.model_id = t.model->id;
  auto body = api::rewriteEmbeddingsRequest(ctx.req.body(), t.model->id);
  if (!body) {
    ctx.error = std::move(body.error());
    co_return TargetOutcome::kFinal;
  }
  call.body = std::move(*body);
  AttemptCounter counter(ctx, s, t, fallback);
  auto r = co_await upstream::embedWithRetries(*t.provider, call, counter);
  if (!r.attempted) co_return TargetOutcome::kSkipped;
  if (r.result) {
    upstream::Completion& c = *r.result;
    if (c.usage) {
      ctx.info.usage = *c.usage;
      ctx.info.usage.completion_tokens = 0;  // an embedding has no output tokens, whatever was reported
      ctx.info.usage_known = true;
    } else {
      estimateUsage(ctx.info, ctx.chat, 0);
    }
    co_await sendCompletion(ctx, std::move(c.body));
    co_return TargetOutcome::kAnswered;
  }
  last_error = std::move(r.result.error());
  if (!last_error->fallback_ok) {
    ctx.error = last_error->error;
    co_return TargetOutcome::kFinal;
  }
  co_return TargetOutcome::kFailed;
}

}  // namespace

asio::awaitable<void> DirectDispatch::dispatch(RequestContext& ctx, const Services& s) const {
  std::optional<upstream::CallError> last_error;
  TargetOutcome out = TargetOutcome::kSkipped;
  if (!ctx.targets.empty()) out = co_await callTarget(ctx, s, ctx.targets.front(), false, last_error);
  if (out == TargetOutcome::kAnswered || out == TargetOutcome::kFinal) co_return;
  ctx.error = finalError(last_error, out == TargetOutcome::kSkipped);
}

asio::awaitable<void> RetryingDispatch::dispatch(RequestContext& ctx, const Services& s) const {
  co_await callInOrder(ctx, [&ctx, &s](const Target& t, bool fallback, std::optional<upstream::CallError>& last) {
    return callTarget(ctx, s, t, fallback, last);
  });
}

asio::awaitable<void> dispatchEmbeddings(RequestContext& ctx, const Services& s) {
  co_await callInOrder(ctx, [&ctx, &s](const Target& t, bool fallback, std::optional<upstream::CallError>& last) {
    return callEmbeddingsTarget(ctx, s, t, fallback, last);
  });
}

Services::Services() = default;
Services::~Services() = default;

Result<RouteState> makeRouteState(const config::Config& cfg, const config::RouteConfig& rc) {
  RouteState rs;
  rs.route = &rc;
  for (const auto& c : rc.candidates) rs.candidates_joined += (rs.candidates_joined.empty() ? "" : ",") + c;
  const routing::PolicyContext pctx{cfg, rc};
  if (rc.policy == "cascade") {
    // The cascade runs its attempts in the dispatch: its checks are kept from here.
    auto cascade = routing::makeCascade(pctx);
    if (!cascade) return fail(cascade.error());
    rs.dispatcher = std::make_unique<CascadeDispatch>(**cascade);
    rs.policy = std::move(*cascade);
  } else {
    auto pol = routing::makePolicy(pctx);
    if (!pol) return fail(pol.error());
    rs.policy = std::move(*pol);
    rs.dispatcher = std::make_unique<RetryingDispatch>();
  }
  if (rc.shadow && rc.shadow->grade.kind == config::ShadowGradeConfig::Kind::kAgree) {
    auto ex = routing::Extractor::parse(rc.shadow->grade.extract);
    if (!ex) {
      return fail(ErrorCode::kInvalidArgument, fmt::format("{}:{}: routes.{}.shadow.grade.extract: {}", cfg.source,
                                                           rc.shadow->grade.line, rc.name, ex.error().message));
    }
    rs.shadow_extract = std::move(*ex);
  }
  return rs;
}

}  // namespace rightsize::pipeline
