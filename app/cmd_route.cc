// `rightsize route`: explain the routing decision for one prompt, without calling any upstream.
#include <chrono>
#include <iostream>

#include <fmt/core.h>

#include "api/chat_request.h"
#include "app/commands.h"
#include "common/money.h"
#include "config/config.h"
#include "routing/cost_estimate.h"
#include "routing/policy.h"

namespace rightsize::app {
namespace {

struct RouteArgs {
  std::string config, route, text;
  double quality = -1;
};

int runRoute(const RouteArgs& a) {
  auto cfg = config::loadConfigFile(a.config, config::processEnv());
  if (!cfg) {
    std::cerr << "rightsize: invalid configuration: " << cfg.error().message << "\n";
    return 2;
  }
  const config::RouteConfig* route = nullptr;
  if (!a.route.empty()) {
    auto it = cfg->routes.find(a.route);
    if (it == cfg->routes.end()) {
      std::cerr << "rightsize: no route '" << a.route << "' in " << a.config << "\n";
      return 2;
    }
    route = &it->second;
  } else {
    for (const auto& [name, r] : cfg->routes)
      if (r.policy == "learned") {
        route = &r;
        break;
      }
    if (!route && !cfg->routes.empty()) route = &cfg->routes.begin()->second;
    if (!route) {
      std::cerr << "rightsize: " << a.config << " has no routes\n";
      return 2;
    }
  }
  auto policy = routing::makePolicy({*cfg, *route});
  if (!policy) {
    std::cerr << "rightsize: " << policy.error().message << "\n";
    return 2;
  }
  std::vector<routing::CandidateState> cands;
  const int64_t in_tokens = api::estimateTokens(a.text.size());
  for (const auto& name : route->candidates) {
    const auto& m = cfg->models.at(name);
    routing::CandidateState c;
    c.model = &m;
    c.est_cost = routing::estimateCost(m, in_tokens, std::nullopt);  // as the gateway estimates
    auto p = cfg->providers.find(m.provider);
    c.on_prem = p != cfg->providers.end() && p->second.locality == config::Locality::kOnPrem;
    cands.push_back(c);
  }
  routing::DecisionInput in;
  in.ask = a.text;
  in.candidates = cands;
  if (a.quality >= 0) in.quality = a.quality;
  // First call warms the thread's buffers; the second is the one timed (as on a busy io thread).
  (void)(*policy)->decide(in);
  const auto t0 = std::chrono::steady_clock::now();
  auto d = (*policy)->decide(in);
  const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  if (!d) {
    std::cerr << "rightsize: " << d.error().message << "\n";
    return 1;
  }
  if (!d->route.empty()) {  // a rules route handed the prompt to another route
    fmt::print("route: {}  policy: {}\nreason: {}\nhanded to route '{}' (see: rightsize route --route {} ...)\n",
               route->name, (*policy)->name(), d->reason, d->route, d->route);
    return 0;
  }
  fmt::print("route: {}  policy: {}  prompt: {} bytes (~{} tokens)\n", route->name, (*policy)->name(), a.text.size(),
             in_tokens);
  fmt::print("{:<3} {:<36} {:>12} {:>16}\n", "", "candidate", "P(success)", "est. cost $");
  for (size_t i = 0; i < cands.size(); ++i) {
    const bool chosen = d->order[0] == i;
    std::string pq = d->predicted_quality.size() > i ? fmt::format("{:.3f}", d->predicted_quality[i]) : "-";
    fmt::print("{:<3} {:<36} {:>12} {:>16}\n", chosen ? "->" : "", cands[i].model->name, pq,
               formatUsd(cands[i].est_cost));
  }
  std::string order;
  for (size_t i : d->order) order += (order.empty() ? "" : ", ") + cands[i].model->name;
  fmt::print("chosen: {}\n", cands[d->order[0]].model->name);
  if (d->knob >= 0) fmt::print("knob: {:.3f}\n", d->knob);
  fmt::print("try order: {}\nreason: {}\ndecision time: {:.1f} us\n", order, d->reason, us);
  return 0;
}

}  // namespace

void addRouteCommand(CLI::App& root, int& exit_code) {
  auto a = std::make_shared<RouteArgs>();
  auto* cmd = root.add_subcommand("route", "explain the routing decision for a prompt (no upstream call)");
  cmd->add_option("--config", a->config, "configuration file")->required();
  cmd->add_option("--route", a->route, "route name (default: the first learned route, else the first route)");
  cmd->add_option("--quality", a->quality, "per-request quality target, as rightsize.quality")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("text", a->text, "the prompt (the human's ask)")->required();
  cmd->callback([a, &exit_code] { exit_code = runRoute(*a); });
}

}  // namespace rightsize::app
