#include "pipeline/chat_chain.h"

#include "pipeline/account_stage.h"
#include "pipeline/admit_stage.h"
#include "pipeline/auth_stage.h"
#include "pipeline/decide_stage.h"
#include "pipeline/dispatch_stage.h"
#include "pipeline/privacy_stage.h"
#include "pipeline/route_stage.h"
#include "pipeline/shape_stage.h"

namespace rightsize::pipeline {

Chain makeChatChain(const Services& s) {
  Chain chain;
  chain.add(std::make_unique<AuthStage>(s))        // 401 before anything else
      .add(std::make_unique<ShapeStage>(s))        // client API -> parsed OpenAI request, header overrides
      .add(std::make_unique<RouteStage>(s))        // model name -> route (or a model), 404
      .add(std::make_unique<PrivacyStage>(s))      // sensitive -> on-prem only, 403; before any policy
      .add(std::make_unique<DecideStage>(s))       // policy, rules re-hop, max_cost_usd
      .add(std::make_unique<AdmitStage>(s))        // session pins, key budgets and rate limits
      .add(std::make_unique<DispatchStage>(s));    // direct / retrying / cascade, the answer
  chain.addFinal(std::make_unique<AccountStage>(s));  // key settlement + ledger row, every exit
  return chain;
}

}  // namespace rightsize::pipeline
