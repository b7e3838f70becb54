#pragma once
// How a request's targets are called: one interface, one strategy per route chosen at startup
// from its policy kind (makeRouteState, services.h) — never by inspecting the policy per request.
//  - DirectDispatch: a model named directly: its one target, with its provider's retries.
//  - RetryingDispatch: the targets in order, each with its provider's retries and backoff
//    (upstream/retry.h), the next one when a target fails or its circuit is open.
//  - CascadeDispatch (cascade_dispatch.h): policy cascade — cheapest first, non-streaming, until
//    an answer passes the route's checks.
// Every attempt goes through the provider's breaker (its permit reports every outcome) and is
// counted in info.attempts; the last model tried is info.chosen.

#include "pipeline/request_context.h"
#include "pipeline/services.h"

namespace rightsize::pipeline {

class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  virtual std::string_view name() const = 0;
  // Calls ctx.targets (possibly none) and answers the client (a whole completion or a relayed
  // stream); when no target answered, sets ctx.error for the chain to answer instead. Thread-safe.
  virtual asio::awaitable<void> dispatch(RequestContext& ctx, const Services& s) const = 0;
};

class DirectDispatch final : public Dispatcher {
 public:
  std::string_view name() const override { return "direct"; }
  asio::awaitable<void> dispatch(RequestContext& ctx, const Services& s) const override;
};

class RetryingDispatch final : public Dispatcher {
 public:
  std::string_view name() const override { return "retrying"; }
  asio::awaitable<void> dispatch(RequestContext& ctx, const Services& s) const override;
};

// POST /v1/embeddings (embeddings_stages.h): ctx.targets in order like RetryingDispatch, each
// with Provider::embed and its provider's retries; the first answer is relayed as the upstream
// sent it (usage: its prompt_tokens, no output tokens; estimated when absent). A request the
// upstream rejects as bad (a non-retryable 4xx) is answered with that status at once.
asio::awaitable<void> dispatchEmbeddings(RequestContext& ctx, const Services& s);

}  // namespace rightsize::pipeline
