#include "pipeline/chain.h"

#include "pipeline/respond.h"

namespace rightsize::pipeline {

asio::awaitable<Flow> Stage::runAsync(RequestContext&) { co_return Flow::kNext; }

Chain& Chain::add(std::unique_ptr<Stage> stage) {
  stages_.push_back(std::move(stage));
  return *this;
}

Chain& Chain::addFinal(std::unique_ptr<Stage> stage) {
  finals_.push_back(std::move(stage));
  return *this;
}

std::vector<std::string_view> Chain::names() const {
  std::vector<std::string_view> out;
  for (const auto& s : stages_) out.push_back(s->name());
  for (const auto& s : finals_) out.push_back(s->name());
  return out;
}

namespace {

// Runs the final stages once: explicitly at the end of Chain::run, or — when the coroutine is
// destroyed while suspended (cancellation) — from the destructor.
class FinalStages {
 public:
  FinalStages(const std::vector<std::unique_ptr<Stage>>& finals, RequestContext& ctx) : finals_(finals), ctx_(ctx) {}
  FinalStages(const FinalStages&) = delete;
  FinalStages& operator=(const FinalStages&) = delete;
  ~FinalStages() { run(); }
  void run() {
    if (done_) return;
    done_ = true;
    for (const auto& s : finals_) (void)s->run(ctx_);
  }

 private:
  const std::vector<std::unique_ptr<Stage>>& finals_;
  RequestContext& ctx_;
  bool done_ = false;
};

}  // namespace

asio::awaitable<void> Chain::run(RequestContext& ctx) const {
  FinalStages finals(finals_, ctx);
  for (const auto& s : stages_) {
    Flow f = s->run(ctx);
    if (f == Flow::kSuspend) f = co_await s->runAsync(ctx);
    if (f == Flow::kStop) break;
  }
  if (ctx.error) co_await sendError(ctx, *ctx.error);
  finals.run();
}

}  // namespace rightsize::pipeline
