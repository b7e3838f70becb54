#pragma once
// Stage "dispatch": calls the targets with the route's dispatch strategy (dispatch.h: direct,
// retrying-with-fallbacks, cascade — chosen at startup) and answers the client, or leaves
// ctx.error for the chain to answer when no target could.

#include "pipeline/services.h"
#include "pipeline/stage.h"

namespace rightsize::pipeline {

class DispatchStage final : public Stage {
 public:
  explicit DispatchStage(const Services& s) : s_(s) {}
  std::string_view name() const override { return "dispatch"; }
  Flow run(RequestContext&) override { return Flow::kSuspend; }
  asio::awaitable<Flow> runAsync(RequestContext& ctx) override;

 private:
  const Services& s_;
};

}  // namespace rightsize::pipeline
