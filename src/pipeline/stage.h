#pragma once
// A stage of the request pipeline: one concern (auth, shape, route, privacy, decide, admit,
// dispatch, account), one file, one header contract. The chain (chain.h) runs them in the order
// they were registered (pipeline/chat_chain.cc).
//
// A stage's synchronous work runs in run(); only a stage that must wait (a Redis lookup, a key
// admission, the upstream call) asks for runAsync() by returning kSuspend — so a request pays
// a coroutine frame only for the stages that suspend.

#include <string_view>

#include "http/asio.h"
#include "pipeline/request_context.h"

namespace rightsize::pipeline {

enum class Flow {
  kNext,     // on to the next stage
  kStop,     // the request is finished: answered by this stage, or ctx.error set for the chain
  kSuspend,  // (from run() only) call runAsync() now
};

class Stage {
 public:
  virtual ~Stage() = default;
  // The stage's name, as docs/architecture.md and the tests use it.
  virtual std::string_view name() const = 0;
  // The stage's work on `ctx`. Must not throw.
  virtual Flow run(RequestContext& ctx) = 0;
  // Called only after run() returned kSuspend; returns kNext or kStop. Default: kNext.
  virtual asio::awaitable<Flow> runAsync(RequestContext& ctx);
};

}  // namespace rightsize::pipeline
