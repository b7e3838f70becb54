#include "pipeline/decide_stage.h"

#include <fmt/format.h>

#include "common/money.h"
#include "pipeline/route_stage.h"
#include "routing/cost_estimate.h"

namespace rightsize::pipeline {

Nanos estimateCost(const config::ModelConfig& m, const api::ChatRequest& chat) {
  return routing::estimateCost(m, api::estimateTokens(chat.content_chars), chat.max_tokens);
}

namespace {

void addTarget(RequestContext& ctx, const Services& s, const config::ModelConfig* m) {
  for (const auto& t : ctx.targets)
    if (t.model == m) return;
  ctx.targets.push_back(Target{m, &s.providers.at(m->provider)});
}

}  // namespace

Flow DecideStage::run(RequestContext& ctx) {
  if (!ctx.route) {  // a model named directly: no policy
    addTarget(ctx, s_, ctx.candidates[0]);
    return Flow::kNext;
  }
  const api::ChatRequest& chat = ctx.chat;
  // rightsize.max_cost_usd bounds every model the request may reach, fallbacks included.
  auto fits = [&](const config::ModelConfig& m) {
    return !chat.rightsize.max_cost_usd || estimateCost(m, chat) <= usdToNanos(*chat.rightsize.max_cost_usd);
  };
  std::vector<routing::CandidateState> states;
  bool any_cost_ok = false;
  auto build_states = [&] {
    states.clear();
    any_cost_ok = false;
    for (const auto* m : ctx.candidates) {
      routing::CandidateState st;
      st.model = m;
      const auto& gp = s_.providers.at(m->provider);
      st.available = gp.breaker->available();
      st.on_prem = gp.provider->config().locality == config::Locality::kOnPrem;
      st.est_cost = estimateCost(*m, chat);
      if (ctx.info.sensitive && !st.on_prem) st.available = false;  // privacy: never a remote model
      if (!fits(*m)) st.available = false;
      else any_cost_ok = true;
      states.push_back(st);
    }
  };
  build_states();
  routing::RequestFacts facts;
  facts.metadata = chat.metadata;
  if (chat.user) facts.user = *chat.user;
  facts.sensitive = ctx.info.sensitive;
  facts.prompt_tokens = api::estimateTokens(chat.content_chars);
  const http::Request& req = ctx.req;
  facts.header = [&req](std::string_view name) -> std::optional<std::string_view> {
    auto it = req.find(name);
    if (it == req.end()) return std::nullopt;
    return it->value();
  };
  const auto t0 = SteadyClock::now();
  auto decision = ctx.route->policy->decide(routing::DecisionInput{ctx.ask(), states, chat.rightsize.quality, &facts});
  if (decision && !decision->route.empty()) {
    // rules: the request belongs to another route (one hop: the config allows no chains).
    useRoute(ctx, *s_.cfg, decision->route, s_.routes.at(decision->route));
    if (auto denied = s_.policy->restrictSensitive(chat, ctx.route->route, ctx.info.route, ctx.candidates,
                                                   ctx.fallback, ctx.info.sensitive, s_.metrics, false)) {
      ctx.error = std::move(*denied);
      return Flow::kStop;
    }
    build_states();
    decision = ctx.route->policy->decide(routing::DecisionInput{ctx.ask(), states, chat.rightsize.quality, &facts});
  }
  if (!any_cost_ok) {
    ctx.error = Error{ErrorCode::kRateLimited,
                      fmt::format("no candidate of route '{}' fits rightsize.max_cost_usd = {} for this request",
                                  ctx.info.route, *chat.rightsize.max_cost_usd), 0};
    return Flow::kStop;
  }
  ctx.info.decision_us = std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - t0).count();
  if (decision) {
    ctx.info.knob = decision->knob;
    for (size_t i : decision->order) addTarget(ctx, s_, ctx.candidates[i]);
    ctx.decided = ctx.targets.size();
  } else if (decision.error().code != ErrorCode::kUnavailable) {
    ctx.error = std::move(decision.error());
    return Flow::kStop;
  }
  for (const auto* m : ctx.fallback)
    if (fits(*m)) addTarget(ctx, s_, m);
  return Flow::kNext;
}

}  // namespace rightsize::pipeline
