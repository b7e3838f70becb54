#pragma once
// Stage "account" (final: the chain runs it exactly once on every exit path — answered, refused,
// failed, broken stream, client gone, cancelled). Two explicit steps, in this order:
//  1. settleKey(): a key's reservation (ctx.admission, when reserved) is settled with the real
//     tokens and cost (the chosen model's usage plus every other paid call), success meaning the
//     client got a 200 — unless the answer's sender already did, before its last bytes
//     (settleAdmission in respond.h);
//  2. the request's shape is told it is finished (ResponseShape::finished: the Responses API
//     stores its answer);
//  3. a request kept for a shadow is offered to the shadow runner (shadow.h: never waits);
//  4. writeLedgerRow(): one ledger row and one metrics sample (Services::recorder).
// Usage counts when the answer was a 200 or the upstream reported it; a sensitive request's
// prompt is never stored.

#include "pipeline/services.h"
#include "pipeline/stage.h"

namespace rightsize::pipeline {

class AccountStage final : public Stage {
 public:
  explicit AccountStage(const Services& s) : s_(s) {}
  std::string_view name() const override { return "account"; }
  Flow run(RequestContext& ctx) override;

  void settleKey(RequestContext& ctx) const;
  void writeLedgerRow(RequestContext& ctx) const;

 private:
  const Services& s_;
};

}  // namespace rightsize::pipeline
