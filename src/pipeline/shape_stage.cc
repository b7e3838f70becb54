#include "pipeline/shape_stage.h"

#include <charconv>

#include "common/strings.h"

namespace rightsize::pipeline {

Flow ShapeStage::run(RequestContext& ctx) {
  if (ctx.shape) {  // another client API: its body becomes an OpenAI one here
    auto translated = ctx.shape->request(ctx.req.body());
    if (!translated) {
      ctx.error = std::move(translated.error());
      return Flow::kStop;
    }
    ctx.req.body() = std::move(*translated);
  }
  auto parsed = api::parseChatRequest(ctx.req.body());
  if (!parsed) {
    ctx.error = std::move(parsed.error());
    return Flow::kStop;
  }
  ctx.chat = std::move(*parsed);
  api::ChatRequest& chat = ctx.chat;
  ctx.info.stream = chat.stream;
  if (s_.recorder && s_.recorder->storePrompts()) ctx.info.prompt = ctx.ask();
  if (auto h = ctx.req["x-rightsize-quality"]; !h.empty()) {
    double q = 0;
    auto r = std::from_chars(h.data(), h.data() + h.size(), q);
    if (r.ec != std::errc() || r.ptr != h.data() + h.size() || !(q > 0 && q <= 1)) {
      ctx.error = Error{ErrorCode::kInvalidArgument, "x-rightsize-quality: must be a number in (0, 1]", 0};
      return Flow::kStop;
    }
    if (!chat.rightsize.quality) chat.rightsize.quality = q;
  }
  if (auto h = ctx.req["x-rightsize-sensitive"]; !h.empty()) chat.rightsize.sensitive = h == "1" || iequals(h, "true");
  ctx.info.sensitive = chat.rightsize.sensitive;
  return Flow::kNext;
}

}  // namespace rightsize::pipeline
