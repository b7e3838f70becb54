#pragma once
// The chain of stages one chat request runs through (Envoy's filter chain is the model): the
// in-order stages run one after the other until one stops; if it stopped with ctx.error, the
// chain answers that error (the shape's error body, the x-rightsize-* headers); then the final
// stages run — exactly once, on every exit path: answered, refused, failed, a broken stream, a
// vanished client, and a coroutine destroyed while suspended (cancellation: a guard on the
// chain's frame runs them). Final stages must finish in run() (never kSuspend).
//
// Built once (pipeline/chat_chain.cc registers the stages), then run concurrently by every
// request: stages hold no per-request state.

#include <memory>
#include <string_view>
#include <vector>

#include "pipeline/stage.h"

namespace rightsize::pipeline {

class Chain {
 public:
  // Appends an in-order stage.
  Chain& add(std::unique_ptr<Stage> stage);
  // Appends a final stage (runs once on every exit path, after the in-order stages).
  Chain& addFinal(std::unique_ptr<Stage> stage);

  // Runs `ctx` through the chain. Never throws; every outcome is written to ctx.w.
  asio::awaitable<void> run(RequestContext& ctx) const;

  // The stage names in the order they run: in-order stages, then final ones.
  std::vector<std::string_view> names() const;

 private:
  std::vector<std::unique_ptr<Stage>> stages_;
  std::vector<std::unique_ptr<Stage>> finals_;
};

}  // namespace rightsize::pipeline
