#pragma once
// The stages only POST /v1/embeddings runs (pipeline/embeddings_chain.cc puts them between the
// chat chain's own auth, route, privacy, decide, admit and account stages). docs/embeddings.md
// describes the behaviour.
//  - "embeddings-shape": the body parsed (api::parseEmbeddingsRequest; 400 naming the field) and
//    folded into ctx.chat so the shared stages read it as they read a chat request: the model
//    name, each string input as a user message (the privacy stage's PII scan), the characters
//    (token inputs count 4 each) for estimates, no output tokens, and the sensitive flag
//    (rightsize.sensitive or x-rightsize-sensitive).
//  - "embeddings-route", after "route": only a model named directly or a route whose policy is
//    `fixed` (its candidates in order, then its fallbacks) may serve embeddings — vectors from
//    different models are not comparable, so a model chosen per request (learned, cascade,
//    rules, cheapest) would mix them: 400 naming the route and its policy. Every model the
//    request may reach must be on a provider kind with an embeddings endpoint (openai): 400
//    "provider kind K has no embeddings endpoint" naming the model otherwise.
//  - "embeddings-dispatch": ctx.targets in order, each with its provider's retries and breaker
//    (dispatchEmbeddings, dispatch.h); the upstream's answer relayed as it is.

#include "pipeline/services.h"
#include "pipeline/stage.h"

namespace rightsize::pipeline {

class EmbeddingsShapeStage final : public Stage {
 public:
  explicit EmbeddingsShapeStage(const Services& s) : s_(s) {}
  std::string_view name() const override { return "embeddings-shape"; }
  Flow run(RequestContext& ctx) override;

 private:
  const Services& s_;
};

class EmbeddingsRouteStage final : public Stage {
 public:
  explicit EmbeddingsRouteStage(const Services& s) : s_(s) {}
  std::string_view name() const override { return "embeddings-route"; }
  Flow run(RequestContext& ctx) override;

 private:
  const Services& s_;
};

class EmbeddingsDispatchStage final : public Stage {
 public:
  explicit EmbeddingsDispatchStage(const Services& s) : s_(s) {}
  std::string_view name() const override { return "embeddings-dispatch"; }
  Flow run(RequestContext&) override { return Flow::kSuspend; }
  asio::awaitable<Flow> runAsync(RequestContext& ctx) override;

 private:
  const Services& s_;
};

}  // namespace rightsize::pipeline
