#include "config/config_builder.h"

#include <algorithm>

#include <fmt/format.h>

namespace rightsize::config::detail {

Status ConfigBuilder::checkModelExists(const Config& cfg, const std::string& name, int line,
                                       std::string_view path) const {
  if (cfg.models.count(name) == 0) return fail(errorAt(line, path, fmt::format("unknown model '{}'", name)));
  return {};
}

Status ConfigBuilder::checkProviderExists(const Config& cfg, const std::string& name, int line,
                                          std::string_view path) const {
  if (cfg.providers.count(name) == 0) {
    return fail(errorAt(line, path, fmt::format("unknown provider '{}'", name)));
  }
  return {};
}

Status ConfigBuilder::checkRouteNameIsFree(const Config& cfg, const Entry& n, std::string_view route_path) const {
  // Clients name a model or a route in the same `model` field: one name, one meaning.
  if (cfg.models.count(n.key) != 0) {
    return fail(errorAt(n.line, route_path, fmt::format("route name '{}' is also a model name", n.key)));
  }
  return {};
}

Status ConfigBuilder::checkRuleModel(const Config& cfg, const RouteConfig& r, const RouteRule& rule,
                                     const std::vector<Entry>& entries, const std::string& path) const {
  if (!rule.model.empty() && std::find(r.candidates.begin(), r.candidates.end(), rule.model) == r.candidates.end()) {
    const bool is_model = cfg.models.count(rule.model) != 0;
    return fail(errorAt(find(entries, "model")->line, child(path, "model"),
                        fmt::format("'{}' is not {} of this route's candidates", rule.model,
                                    is_model ? "one" : "a model, nor one")));
  }
  return {};
}

Status ConfigBuilder::checkStagesAreCandidates(const RouteConfig& r, const std::string& path) const {
  // A staged cascade calls only the route's candidates (so privacy and circuits filter them).
  for (size_t si = 0; si < r.cascade.stages.size(); ++si) {
    for (const std::string& m : r.cascade.stages[si].models) {
      if (!contains(r.candidates, m)) {
        return fail(errorAt(r.cascade.stages[si].line, fmt::format("{}.cascade.stages[{}]", path, si),
                            fmt::format("model '{}' is not a candidate of the route", m)));
      }
    }
  }
  return {};
}

Status ConfigBuilder::checkRuleHops(const Config& cfg, const std::string& path) const {
  // A rule may hand a request to another route, one hop: the target must exist and not be
  // a rules route itself (so no cycles).
  for (const auto& [name, r] : cfg.routes) {
    for (size_t i = 0; i < r.rules.size(); ++i) {
      const RouteRule& rule = r.rules[i];
      if (rule.route.empty()) continue;
      const std::string rp = fmt::format("{}.{}.rules[{}].route", path, name, i);
      auto target = cfg.routes.find(rule.route);
      if (target == cfg.routes.end()) return fail(errorAt(rule.line, rp, fmt::format("unknown route '{}'", rule.route)));
      if (!target->second.rules.empty() || target->second.policy == "rules") {
        return fail(errorAt(rule.line, rp, fmt::format("route '{}' is itself a rules route (one hop only)", rule.route)));
      }
    }
  }
  return {};
}

Status ConfigBuilder::checkHasModels(const Config& cfg, const std::vector<Entry>& top) const {
  if (cfg.models.empty()) {
    const Entry* models = find(top, "models");
    return fail(errorAt(models ? models->line : 1, "models", "at least one model is required"));
  }
  return {};
}

}  // namespace rightsize::config::detail
