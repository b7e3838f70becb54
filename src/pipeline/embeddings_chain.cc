#include "pipeline/embeddings_chain.h"

#include "pipeline/account_stage.h"
#include "pipeline/admit_stage.h"
#include "pipeline/auth_stage.h"
#include "pipeline/decide_stage.h"
#include "pipeline/embeddings_stages.h"
#include "pipeline/privacy_stage.h"
#include "pipeline/route_stage.h"

namespace rightsize::pipeline {

Chain makeEmbeddingsChain(const Services& s) {
  Chain chain;
  chain.add(std::make_unique<AuthStage>(s))                 // 401 before anything else
      .add(std::make_unique<EmbeddingsShapeStage>(s))       // body -> ctx.chat (inputs as messages), 400
      .add(std::make_unique<RouteStage>(s))                 // model name -> route (or a model), 404
      .add(std::make_unique<EmbeddingsRouteStage>(s))       // fixed routes and embedding providers only, 400
      .add(std::make_unique<PrivacyStage>(s))               // sensitive -> on-prem only, 403
      .add(std::make_unique<DecideStage>(s))                // fixed: candidates in order, then fallbacks
      .add(std::make_unique<AdmitStage>(s, false))          // key budgets and rate limits; no session pins
      .add(std::make_unique<EmbeddingsDispatchStage>(s));   // targets in order with retries, the answer
  chain.addFinal(std::make_unique<AccountStage>(s));       // key settlement + ledger row, every exit
  return chain;
}

}  // namespace rightsize::pipeline
