#pragma once
// Stage "shape": the body becomes a parsed OpenAI request. Another client API (ctx.shape, e.g.
// Anthropic Messages) is translated first; then api::parseChatRequest (400 on a bad body), then
// the header overrides: x-rightsize-quality (a number in (0, 1]; the body's rightsize.quality
// wins; anything else is 400) and x-rightsize-sensitive ("1"/"true"). Fills ctx.chat,
// info.stream, info.sensitive, and info.prompt when the ledger stores prompts.

#include "pipeline/services.h"
#include "pipeline/stage.h"

namespace rightsize::pipeline {

class ShapeStage final : public Stage {
 public:
  explicit ShapeStage(const Services& s) : s_(s) {}
  std::string_view name() const override { return "shape"; }
  Flow run(RequestContext& ctx) override;

 private:
  const Services& s_;
};

}  // namespace rightsize::pipeline
