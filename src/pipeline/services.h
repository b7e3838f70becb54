#pragma once
// What the stages share: the config snapshot, the providers with their breakers, the routes
// with their policies and dispatch strategies, privacy/pins/budgets, and the two outside
// services a request talks to — virtual keys (KeyGate) and the ledger/metrics (RequestRecorder).
// Built once per Config by server::Gateway (or a test); read concurrently by every request.

#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>

#include "config/config.h"
#include "common/result.h"
#include "http/server.h"
#include "ledger/record.h"
#include "limits/keys.h"
#include "limits/limiter.h"
#include "metrics/gateway_metrics.h"
#include "pipeline/policy_services.h"
#include "pipeline/response_shape.h"
#include "routing/cascade_policy.h"
#include "routing/extract.h"
#include "routing/policy.h"
#include "upstream/retry.h"

namespace rightsize::pipeline {

namespace asio = boost::asio;
class Dispatcher;
class ShadowRunner;

// Virtual keys, budgets and rate limits (implemented by server::KeyAuth). Thread-safe.
class KeyGate {
 public:
  virtual ~KeyGate() = default;
  // The caller's key; null when no key exists at all (the gateway is open). Errors: 401, 503.
  virtual Result<std::shared_ptr<const limits::KeyRecord>> authenticate(const http::Request& req) const = 0;
  // Reserves one request of `key` estimated at `est_tokens` and `est_cost`.
  virtual asio::awaitable<limits::Admission> admit(const limits::KeyRecord& key, int64_t est_tokens,
                                                   Nanos est_cost) = 0;
  // The answer for a refused admission (429 + Retry-After, or 503), in `shape`'s error body.
  virtual http::Response refusal(const limits::Admission& a, const ResponseShape* shape) const = 0;
  // Settles a reserved admission with what the request really used. Called once per admission.
  virtual void settle(const limits::Admission& a, bool success, int64_t tokens, Nanos cost) = 0;
};

// The ledger and the request metrics (implemented by server::Accounting). Thread-safe.
class RequestRecorder {
 public:
  virtual ~RequestRecorder() = default;
  // One finished request: a metrics sample and a ledger row. `routed`: a policy decided.
  virtual void record(ledger::LedgerRecord&& r, bool routed) = 0;
  // ledger.store_prompts: the ask is kept in the row.
  virtual bool storePrompts() const = 0;
  // One shadowed request's grade (pipeline/shadow.h), for the ledger. Default: not kept.
  virtual void recordShadow(ledger::ShadowGradeRecord&& g) { (void)g; }
};

// One configured route, ready to serve.
struct RouteState {
  const config::RouteConfig* route = nullptr;
  std::unique_ptr<routing::Policy> policy;
  std::string candidates_joined;           // "a,b,c": the ledger's candidates column, joined once
  std::unique_ptr<Dispatcher> dispatcher;  // chosen from the policy kind at startup
  std::optional<routing::Extractor> shadow_extract;  // shadow.grade agree: its extractor, compiled once
};

// Builds `rc`'s policy and picks its dispatch strategy from the policy kind: `cascade` gets the
// cascade dispatch (with the policy's checks), every other policy retrying-with-fallbacks.
// Fails like routing::makePolicy().
Result<RouteState> makeRouteState(const config::Config& cfg, const config::RouteConfig& rc);

struct Services {
  Services();
  ~Services();
  std::shared_ptr<const config::Config> cfg;
  std::map<std::string, upstream::GuardedProvider> providers;  // by provider name
  std::map<std::string, RouteState> routes;                    // by route name
  std::unique_ptr<PolicyServices> policy;                      // privacy, pins, budgets
  std::unique_ptr<Dispatcher> direct;                          // a model named directly
  // Set once before serving; null: none (no keys / nothing recorded).
  KeyGate* keys = nullptr;
  RequestRecorder* recorder = nullptr;
  metrics::GatewayMetrics* metrics = nullptr;
  ShadowRunner* shadow = nullptr;          // shadow evaluation (shadow.h); null: none
  // A reference that keeps whatever owns these services alive (the gateway), for work that
  // outlives a request (shadow jobs); unset or empty: the owner outlives that work anyway.
  std::function<std::shared_ptr<const void>()> hold;
};

}  // namespace rightsize::pipeline
