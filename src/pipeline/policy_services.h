#pragma once
// The per-request routing steps around a policy's decision that need state or config beyond
// one route's policy: privacy (sensitive flag + PII detector -> on-prem models only), session
// pinning, and per-route reasoning/length budgets. Built once per Config; thread-safe.
// docs/routing-policies.md describes the behaviour and the config.

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "api/chat_request.h"
#include "common/result.h"
#include "config/config.h"
#include "http/server.h"
#include "metrics/gateway_metrics.h"
#include "routing/pii.h"
#include "routing/session_pins.h"

namespace rightsize::pipeline {

class PolicyServices {
 public:
  // `pins` is the session pin store chosen at startup (memory, or Redis shared by replicas).
  static Result<std::unique_ptr<PolicyServices>> make(const config::Config& cfg,
                                                      std::unique_ptr<routing::SessionPins> pins);

  // Privacy, before any policy. The request is sensitive when flagged (rightsize.sensitive or
  // x-rightsize-sensitive, already folded into chat.rightsize.sensitive) or when PII detection is
  // on for `route` (route override, else privacy.pii_detection) and finds personal data in any
  // message. A sensitive request may only reach models whose provider is `locality: on_prem`:
  // remote models are removed from `fallback`, and the caller must treat remote `candidates` as
  // unavailable (isOnPrem) so a policy's indices stay valid. Returns the 403 (kForbidden) to send
  // when neither list has an on-prem model; sets `sensitive`. Counts detections by kind and
  // restricted requests in `m` (may be null). Never logs or copies message text. With
  // `scan_again` false (a rules hand-off to another route), `sensitive` is taken as already
  // decided and nothing is scanned or counted again.
  std::optional<Error> restrictSensitive(const api::ChatRequest& chat, const config::RouteConfig* route,
                                         std::string_view route_name,
                                         std::span<const config::ModelConfig* const> candidates,
                                         std::vector<const config::ModelConfig*>& fallback, bool& sensitive,
                                         metrics::GatewayMetrics* m, bool scan_again = true) const;
  bool isOnPrem(const config::ModelConfig& model) const;

  // The request's session ("" = none): rightsize.session, else the x-rightsize-session header,
  // else (sessions.use_openai_user) the body's "user".
  std::string sessionOf(const api::ChatRequest& chat, const http::Request& req) const;

  // (Re-)pins (route, session) to `model`: the first choice of an unpinned session, or the model
  // a cascade escalated to. No session (""): nothing.
  void repin(std::string_view route, std::string_view session, std::string_view model) const;

  // The session pin store (chosen at startup). The admit stage (pipeline/admit_stage.h) looks a
  // pin up and applies it to the decided targets.
  routing::SessionPins& pins() const { return *pins_; }
  const routing::PiiDetector* detector() const { return pii_.get(); }

 private:
  PolicyServices() = default;
  const config::Config* cfg_ = nullptr;
  std::unique_ptr<routing::PiiDetector> pii_;
  std::unique_ptr<routing::SessionPins> pins_;
};

// The route's budget caps for `model` (model_budgets entry key by key over `budget`), merged
// into `rw` with the model's own max_output_tokens: the lowest max-tokens cap wins. Returns
// true when a route budget applied. `route` may be null (a model named directly).
bool applyBudget(const config::RouteConfig* route, const config::ModelConfig& model, api::Rewrite& rw);

// Appends one JSON object to a JSON array held in `detail` ("" = empty array).
void appendDetail(std::string& detail, std::string_view object_json);

// The ledger/`attempts_detail` object describing the caps a rewrite carried to `model`.
std::string budgetDetail(const config::ModelConfig& model, const api::Rewrite& rw);

}  // namespace rightsize::pipeline
