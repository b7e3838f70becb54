#pragma once
// The gateway: turns one client request into a routing decision and upstream calls with
// retries, fallbacks and circuit breakers, and answers in OpenAI's shapes. Built once from a
// validated Config; handle() runs concurrently on every worker thread.

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "http/server.h"
#include "routing/cascade_policy.h"
#include "routing/policy.h"
#include "server/accounting.h"
#include "server/policy_services.h"
#include "server/response_shape.h"
#include "server/auth.h"
#include "upstream/breaker.h"
#include "upstream/provider.h"

namespace rightsize::server {

namespace asio = boost::asio;

class Gateway {
 public:
  // Builds providers (replay data is loaded here), breakers and route policies. Any failure —
  // a bad replay file, an unknown policy, a bad router file — is returned; nothing half-starts.
  static Result<std::unique_ptr<Gateway>> make(std::shared_ptr<const config::Config> cfg);

  // The http::Handler.
  asio::awaitable<void> handle(http::Request& req, http::ResponseWriter& w);
  // The http::ErrorResponder: an OpenAI error body with the given status.
  http::Response errorResponse(int status, std::string message, std::string_view target = {}) const;

  // /readyz answers 503 from now on.
  void setDraining() { draining_ = true; }
  // Where answered requests are recorded (ledger + /metrics); null: not recorded, /metrics
  // answers 404. Set once, before serving. Not owned.
  void setAccounting(Accounting* acc) { accounting_ = acc; }
  // Virtual keys, budgets and rate limits (src/server/auth.h); null: none. Set once, before
  // serving. Not owned.
  void setKeyAuth(KeyAuth* ka) { key_auth_ = ka; }
  // After the worker threads stopped: releases upstream connection pools.
  void shutdown() {
    for (auto& [_, p] : providers_) p.provider->shutdown();
  }

  struct ProviderState {
    std::unique_ptr<upstream::Provider> provider;
    std::unique_ptr<upstream::CircuitBreaker> breaker;
  };
  struct RouteState {
    const config::RouteConfig* route = nullptr;
    std::unique_ptr<routing::Policy> policy;
    std::string candidates_joined;  // "a,b,c": the ledger's candidates column, joined once
    const routing::CascadePolicy* cascade = nullptr;  // `policy` when it is a cascade
  };

 private:
  explicit Gateway(std::shared_ptr<const config::Config> cfg);

  // The chat pipeline. `shape` null: OpenAI in and out; else the client's API (response_shape.h).
  asio::awaitable<void> chat(http::Request& req, http::ResponseWriter& w, const ResponseShape* shape = nullptr);
  // POST /v1/messages (server/anthropic_ingress.cc): chat() with the Anthropic shape.
  asio::awaitable<void> messages(http::Request& req, http::ResponseWriter& w);
  http::Response models() const;
  http::Response ready() const;

  std::shared_ptr<const config::Config> cfg_;
  std::unique_ptr<asio::ssl::context> tls_;
  std::map<std::string, ProviderState> providers_;
  std::map<std::string, RouteState> routes_;
  std::string models_body_;
  std::atomic<bool> draining_{false};
  Accounting* accounting_ = nullptr;
  std::unique_ptr<PolicyServices> policy_services_;  // privacy, session pins (policy_services.h)
  KeyAuth* key_auth_ = nullptr;
};

}  // namespace rightsize::server
