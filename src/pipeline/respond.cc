#include "pipeline/respond.h"

#include <spdlog/spdlog.h>

#include <mutex>
#include <set>

#include "api/errors.h"
#include "api/sse.h"
#include "pipeline/services.h"
#include "pipeline/shadow.h"
#include "routing/checks.h"
#include "routing/cost_estimate.h"

namespace rightsize::pipeline {

Nanos answerCost(const RequestInfo& info) {
  return (info.chosen ? routing::callCost(*info.chosen, info.usage) : 0) + info.extra_cost;
}

Nanos referenceCost(const RequestInfo& info) {
  return info.reference ? routing::callCost(*info.reference, info.usage) : 0;
}

void estimateUsage(RequestInfo& info, const api::ChatRequest& chat, int64_t output_tokens) {
  info.usage = api::Usage{api::estimateTokens(chat.content_chars), output_tokens};
  info.usage_estimated = true;
  // Logged once per model (a local server that never sends usage would fill the log); every
  // occurrence is counted in rightsize_usage_estimated_total and marked in the ledger row.
  static std::mutex mu;
  static std::set<std::string, std::less<>> warned;
  const std::string_view model = info.chosen ? std::string_view(info.chosen->name) : std::string_view("?");
  std::lock_guard lock(mu);
  if (warned.size() < 1024 && warned.insert(std::string(model)).second)
    spdlog::warn("[{}] {} sent no usage: tokens and cost are estimated (ledger usage_estimated, "
                 "rightsize_usage_estimated_total); logged once per model",
                 info.request_id, model);
}

void settleAdmission(RequestContext& ctx) {
  if (!ctx.keys || !ctx.admission.reserved) return;
  const RequestInfo& info = ctx.info;
  const bool known = info.status == 200 || info.usage_known;
  const int64_t tokens = known ? info.usage.prompt_tokens + info.usage.completion_tokens : 0;
  ctx.keys->settle(ctx.admission, info.status == 200, tokens, known ? answerCost(info) : info.extra_cost);
  ctx.admission.reserved = false;
}

asio::awaitable<void> sendError(RequestContext& ctx, const Error& e) {
  ctx.info.status = api::httpStatus(e);
  ctx.info.error = e.message;
  settleAdmission(ctx);
  auto res = http::jsonResponse(static_cast<unsigned>(ctx.info.status),
                                ctx.shape ? ctx.shape->errorBody(e) : api::errorBody(e));
  setInfoHeaders(res, ctx.info, false);
  co_await ctx.w.send(std::move(res));
}

asio::awaitable<void> sendCompletion(RequestContext& ctx, std::string body) {
  if (ctx.info.shadow) {  // kept for the shadow (shadow.h), in OpenAI's shape
    if (auto view = routing::parseAnswer(body)) ctx.info.answer = std::move(view->text);
  }
  if (ctx.shape) {  // the client's API: an answer that cannot be translated is a bad gateway
    auto shaped = ctx.shape->completion(body, ctx.info.usage);
    if (!shaped) {
      co_await sendError(ctx, shaped.error());
      co_return;
    }
    body = std::move(*shaped);
  }
  // The hot path: the head goes straight to bytes (http::HeadFields), the same fields in the
  // same order as http::jsonResponse() + setInfoHeaders() would give.
  http::HeadFields head;
  head.insert(bhttp::field::content_type, "application/json");
  head.insert(bhttp::field::server, "rightsize");
  setInfoHeaders(head, ctx.info, true);
  ctx.info.status = 200;
  settleAdmission(ctx);
  co_await ctx.w.send(200, head, body);
}

asio::awaitable<void> relayStream(RequestContext& ctx, std::unique_ptr<upstream::ChatStream> s,
                                  std::optional<std::string> first) {
  RequestInfo& info = ctx.info;
  const api::ChatRequest& chat = ctx.chat;
  ResponseSink& w = ctx.w;
  std::unique_ptr<StreamShape> shape = ctx.shape ? ctx.shape->stream() : nullptr;
  bhttp::response<bhttp::empty_body> head{bhttp::status::ok, 11};
  head.set(bhttp::field::content_type, "text/event-stream");
  head.set(bhttp::field::cache_control, "no-cache");
  head.set(bhttp::field::server, "rightsize");
  head.set(bhttp::field::trailer, "x-rightsize-cost-usd, x-rightsize-reference-cost-usd");
  setInfoHeaders(head, info, false);
  const bool started = co_await w.beginChunked(std::move(head));
  info.status = 200;
  if (!started) {
    info.error = "client went away before the stream started";
    co_return;
  }

  int64_t chunks = 0;
  auto finish = [&]() -> asio::awaitable<void> {
    if (!info.usage_known && !info.usage_estimated) estimateUsage(info, chat, chunks);  // ~1 token per chunk
    bhttp::fields trailer;
    if (info.chosen) {
      trailer.set("x-rightsize-cost-usd", formatUsd(answerCost(info)));
      if (info.reference)
        trailer.set("x-rightsize-reference-cost-usd", formatUsd(referenceCost(info)));
    }
    settleAdmission(ctx);
    co_await w.endChunked(&trailer);
  };

  std::optional<std::string> ev = std::move(first);
  while (true) {
    if (!ev) {
      auto n = co_await s->next();
      if (!n) {
        spdlog::warn("[{}] upstream stream of {} broke after the response started: {}", info.request_id,
                     info.chosen ? info.chosen->name : "?", n.error().message);
        Error e{n.error().code == ErrorCode::kTimeout ? ErrorCode::kTimeout : ErrorCode::kUpstreamError,
                "upstream stream failed after the response started: " + n.error().message, 0};
        info.error = e.message;
        const std::string event = shape ? shape->errorEvent(e) : api::errorEvent(e);
        const bool sent = co_await w.sendChunk(event);
        if (sent) co_await finish();
        co_return;
      }
      if (!*n) break;
      ev = std::move(**n);
    }
    auto c = api::inspectChunk(*ev);
    if (info.shadow) appendDeltaText(info.answer, *ev);
    if (c.usage) {
      info.usage = *c.usage;
      info.usage_known = true;
    }
    // The gateway asked for usage on the client's behalf: don't show the client a chunk it
    // did not ask for.
    bool drop = c.usage && c.empty_choices && !chat.include_usage;
    std::string event;
    if (!drop && shape) {
      if (auto shaped = shape->chunk(*ev, event); !shaped) {
        spdlog::warn("[{}] upstream stream of {} sent a chunk that cannot be relayed: {}", info.request_id,
                     info.chosen ? info.chosen->name : "?", shaped.error().message);
        info.error = shaped.error().message;
        event = shape->errorEvent(shaped.error());
        const bool sent = co_await w.sendChunk(event);
        if (sent) co_await finish();
        co_return;
      }
      drop = event.empty();  // e.g. the usage chunk: reported by the final events
    }
    if (!drop) {
      ++chunks;
      if (!shape) event = api::sseEvent(*ev);
      const bool sent = co_await w.sendChunk(event);
      if (!sent) {
        spdlog::info("[{}] client went away mid-stream; cancelling the upstream request", info.request_id);
        info.error = "client went away mid-stream";
        co_return;
      }
      if (info.ttft.count() < 0)
        info.ttft = std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - info.start);
    }
    ev.reset();
  }
  std::string tail;
  if (shape) {
    if (!info.usage_known) estimateUsage(info, chat, chunks);
    shape->done(info.usage, tail);
  }
  const std::string_view last_event = shape ? std::string_view(tail) : api::kSseDone;
  const bool sent = co_await w.sendChunk(last_event);
  if (sent) co_await finish();
}

}  // namespace rightsize::pipeline
