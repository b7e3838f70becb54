#include "pipeline/embeddings_stages.h"

#include <fmt/format.h>

#include "api/embeddings.h"
#include "common/strings.h"
#include "pipeline/dispatch.h"

namespace rightsize::pipeline {

Flow EmbeddingsShapeStage::run(RequestContext& ctx) {
  auto parsed = api::parseEmbeddingsRequest(ctx.req.body());
  if (!parsed) {
    ctx.error = std::move(parsed.error());
    return Flow::kStop;
  }
  api::EmbeddingsRequest& e = *parsed;
  api::ChatRequest& chat = ctx.chat;
  chat.model = std::move(e.model);
  chat.messages.reserve(e.texts.size());
  for (auto& t : e.texts) chat.messages.push_back(api::ChatMessage{"user", std::move(t)});
  // Token inputs: 4 characters a token, so api::estimateTokens gives them back.
  chat.content_chars = e.content_chars + static_cast<size_t>(e.input_tokens) * 4;
  chat.max_tokens = 0;  // an embedding has no output tokens
  chat.user = std::move(e.user);
  chat.rightsize.sensitive = e.sensitive;
  if (auto h = ctx.req["x-rightsize-sensitive"]; !h.empty()) chat.rightsize.sensitive = h == "1" || iequals(h, "true");
  ctx.info.sensitive = chat.rightsize.sensitive;
  return Flow::kNext;
}

Flow EmbeddingsRouteStage::run(RequestContext& ctx) {
  if (ctx.route && ctx.route->route->policy != "fixed") {
    ctx.error = Error{ErrorCode::kInvalidArgument,
                      fmt::format("route '{}' uses policy '{}': /v1/embeddings needs a model or a route with policy "
                                  "'fixed', because an embedding model cannot be chosen per request (vectors from "
                                  "different models are not comparable)",
                                  ctx.info.route, ctx.route->route->policy),
                      0};
    return Flow::kStop;
  }
  auto check = [&](const config::ModelConfig* m) {
    const config::ProviderKind kind = s_.providers.at(m->provider).provider->config().kind;
    if (upstream::hasEmbeddings(kind)) return true;
    Error e = upstream::noEmbeddings(kind).error;
    e.message += fmt::format(" (model '{}' of '{}')", m->name, ctx.info.route);
    ctx.error = std::move(e);
    return false;
  };
  for (const auto* m : ctx.candidates)
    if (!check(m)) return Flow::kStop;
  for (const auto* m : ctx.fallback)
    if (!check(m)) return Flow::kStop;
  return Flow::kNext;
}

asio::awaitable<Flow> EmbeddingsDispatchStage::runAsync(RequestContext& ctx) {
  co_await dispatchEmbeddings(ctx, s_);
  co_return Flow::kStop;
}

}  // namespace rightsize::pipeline
