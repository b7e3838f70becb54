#include "pipeline/policy_services.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/strings.h"

namespace rightsize::pipeline {

Result<std::unique_ptr<PolicyServices>> PolicyServices::make(const config::Config& cfg,
                                                             std::unique_ptr<routing::SessionPins> pins) {
  std::unique_ptr<PolicyServices> s(new PolicyServices());
  s->cfg_ = &cfg;
  std::vector<routing::PiiKind> kinds;
  for (const auto& name : cfg.privacy.kinds) {
    auto k = routing::piiKindFromName(name);
    if (!k) return fail(ErrorCode::kInvalidArgument, "privacy.kinds: unknown kind '" + name + "'");
    kinds.push_back(*k);
  }
  auto det = routing::PiiDetector::make(kinds);
  if (!det) return fail(det.error());
  s->pii_ = std::move(*det);
  s->pins_ = std::move(pins);
  return s;
}

bool PolicyServices::isOnPrem(const config::ModelConfig& model) const {
  return cfg_->providers.at(model.provider).locality == config::Locality::kOnPrem;
}

std::optional<Error> PolicyServices::restrictSensitive(const api::ChatRequest& chat, const config::RouteConfig* route,
                                                       std::string_view route_name,
                                                       std::span<const config::ModelConfig* const> candidates,
                                                       std::vector<const config::ModelConfig*>& fallback,
                                                       bool& sensitive, metrics::GatewayMetrics* m,
                                                       bool scan_again) const {
  bool flagged = scan_again ? chat.rightsize.sensitive : sensitive;
  const bool scan = scan_again && (route && route->pii_detection ? *route->pii_detection : cfg_->privacy.pii_detection);
  std::string kinds;  // for the error message: kinds only, never the data
  if (scan) {
    routing::PiiScan found;
    for (const auto& msg : chat.messages) pii_->scanInto(msg.text, found);
    for (size_t k = 0; k < routing::kPiiKindCount; ++k) {
      if (!found.counts[k]) continue;
      const std::string_view name = routing::piiKindName(static_cast<routing::PiiKind>(k));
      if (m) m->pii_detections->labels({name}).inc();
      kinds += kinds.empty() ? "" : ", ";
      kinds += name;
    }
    flagged = flagged || found.any();
  }
  sensitive = flagged;
  if (!flagged) return std::nullopt;
  auto remote = [&](const config::ModelConfig* model) { return !isOnPrem(*model); };
  fallback.erase(std::remove_if(fallback.begin(), fallback.end(), remote), fallback.end());
  const bool any = !fallback.empty() || std::any_of(candidates.begin(), candidates.end(),
                                                    [&](const config::ModelConfig* c) { return isOnPrem(*c); });
  if (m && (scan_again || !any)) m->privacy_restricted->labels({route_name, any ? "on_prem" : "rejected"}).inc();
  if (any) return std::nullopt;
  const std::string why = kinds.empty() ? std::string("it is flagged sensitive")
                                        : fmt::format("personal data was detected in it ({}; detection is set by "
                                                      "privacy.pii_detection and routes' pii_detection)",
                                                      kinds);
  return Error{ErrorCode::kForbidden,
               fmt::format("this request may only go to on-prem models because {}, and '{}' has none "
                           "(providers with locality: on_prem); it was not sent anywhere",
                           why, route_name),
               0};
}

std::string PolicyServices::sessionOf(const api::ChatRequest& chat, const http::Request& req) const {
  if (!chat.rightsize.session.empty()) return chat.rightsize.session;
  if (auto h = req["x-rightsize-session"]; !h.empty()) return std::string(h.substr(0, 256));
  if (cfg_->sessions.use_openai_user && chat.user && !chat.user->empty()) return chat.user->substr(0, 256);
  return {};
}

void PolicyServices::repin(std::string_view route, std::string_view session, std::string_view model) const {
  if (session.empty()) return;
  pins_->put(route, session, model);
}

bool applyBudget(const config::RouteConfig* route, const config::ModelConfig& model, api::Rewrite& rw) {
  if (model.max_output_tokens) rw.max_tokens_cap = *model.max_output_tokens;
  if (!route) return false;
  config::BudgetCaps caps = route->budget;
  if (auto it = route->model_budgets.find(model.name); it != route->model_budgets.end()) {
    if (it->second.max_completion_tokens) caps.max_completion_tokens = it->second.max_completion_tokens;
    if (!it->second.reasoning_effort.empty()) caps.reasoning_effort = it->second.reasoning_effort;
  }
  bool applied = false;
  if (caps.max_completion_tokens) {
    rw.max_tokens_cap = rw.max_tokens_cap ? std::min(*rw.max_tokens_cap, *caps.max_completion_tokens)
                                          : *caps.max_completion_tokens;
    applied = true;
  }
  if (!caps.reasoning_effort.empty()) {
    // The view points into the Config snapshot, which outlives the request.
    if (auto it = route->model_budgets.find(model.name);
        it != route->model_budgets.end() && !it->second.reasoning_effort.empty())
      rw.reasoning_effort_cap = it->second.reasoning_effort;
    else
      rw.reasoning_effort_cap = route->budget.reasoning_effort;
    applied = true;
  }
  return applied;
}

void appendDetail(std::string& detail, std::string_view object_json) {
  if (detail.empty()) {
    detail = "[";
  } else {
    detail.pop_back();  // the closing ']'
    detail.push_back(',');
  }
  detail += object_json;
  detail.push_back(']');
}

std::string budgetDetail(const config::ModelConfig& model, const api::Rewrite& rw) {
  std::string out = fmt::format(R"({{"model":{},"budget":{{)", jsonString(model.name));
  bool first = true;
  if (rw.max_tokens_cap) {
    out += fmt::format(R"("max_completion_tokens":{})", *rw.max_tokens_cap);
    first = false;
  }
  if (!rw.reasoning_effort_cap.empty())
    out += fmt::format(R"({}"reasoning_effort":{})", first ? "" : ",", jsonString(rw.reasoning_effort_cap));
  out += "}}";
  return out;
}

}  // namespace rightsize::pipeline
