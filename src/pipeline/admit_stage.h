#pragma once
// Stage "admit": the request's place on a model and in its key's budgets, before anything is
// dispatched.
//  - Session pins (routes with pin_sessions): the request's session (PolicyServices::sessionOf) is
//    looked up in the pin store chosen at startup (memory or Redis); a pinned model among the
//    decided targets moves to the front, else the first decided target becomes the pin.
//  - Keys: a keyed request reserves the first target's estimated tokens and cost against its
//    budgets and rate limits; a refusal (429 + Retry-After, or 503 when the limits store is down
//    and limits.on_error is closed) is answered here and nothing is dispatched. The reservation
//    (ctx.admission) is settled by the account stage, once, on every exit path.
// Suspends only when there is a session or a key: an open gateway without pins pays nothing.

#include "pipeline/services.h"
#include "pipeline/stage.h"

namespace rightsize::pipeline {

class AdmitStage final : public Stage {
 public:
  // `session_pins` false: never pins (embeddings: a session must not move a fixed route's order).
  explicit AdmitStage(const Services& s, bool session_pins = true) : s_(s), session_pins_(session_pins) {}
  std::string_view name() const override { return "admit"; }
  Flow run(RequestContext& ctx) override;
  asio::awaitable<Flow> runAsync(RequestContext& ctx) override;

 private:
  bool keyed(const RequestContext& ctx) const { return s_.keys && ctx.key && !ctx.targets.empty(); }
  const Services& s_;
  const bool session_pins_;
};

// Applies a looked-up pin to ctx.targets[0, ctx.decided): `pinned` among them moves to the
// front; otherwise (no pin, or its model is not available for this request) the first decided
// target becomes the session's pin.
void applyPin(RequestContext& ctx, const PolicyServices& policy, const std::optional<std::string>& pinned);

}  // namespace rightsize::pipeline
