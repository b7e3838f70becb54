#pragma once
// The request context: everything one chat request carries through the stages (chain.h). Each
// field says which stage fills it; a stage reads only what earlier stages filled. One context per
// request, on the request's coroutine frame; never shared between threads.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/chat_request.h"
#include "api/chat_response.h"
#include "common/result.h"
#include "config/config.h"
#include "http/server.h"
#include "limits/limiter.h"
#include "limits/keys.h"
#include "pipeline/response_shape.h"
#include "pipeline/response_sink.h"
#include "upstream/retry.h"

namespace rightsize::pipeline {

using SteadyClock = std::chrono::steady_clock;
class Dispatcher;
class KeyGate;
struct RouteState;

// What the response headers and the ledger row need, filled in as the request goes.
struct RequestInfo {
  SteadyClock::time_point start = SteadyClock::now();
  std::chrono::system_clock::time_point arrived = std::chrono::system_clock::now();
  int status = 0;                    // sent to the client (0: nothing sent)
  std::string error;                 // sent to the client (or what broke a started stream)
  std::chrono::microseconds ttft{-1};
  double knob = -1;
  std::string_view candidates;       // the route's joined candidate list (or the model's name)
  bool sensitive = false;
  bool stream = false;
  std::string request_id;
  std::string route;                 // route name, or the model's name for a direct model request
  const config::ModelConfig* chosen = nullptr;
  const config::ModelConfig* reference = nullptr;
  int attempts = 0;                  // answer calls made (cascade judge calls not included)
  int64_t decision_us = -1;
  api::Usage usage;
  bool usage_known = false;
  bool usage_estimated = false;      // the upstream sent no usage: `usage` is the gateway's estimate
  std::string key_id;                // the caller's virtual key id (never the key itself)
  Nanos extra_cost = 0;              // cascade: rejected answers and judge calls (paid for too)
  std::string attempts_detail;       // ledger attempts_detail (cascade attempts, budgets)
  std::string prompt;                // the human's ask, only with ledger.store_prompts
  bool shadow = false;               // dispatch: sampled for a shadow (shadow.h): keep the answer's text
  std::string answer;                // with `shadow`: the served answer's text (whole or streamed)
};

// A model to call and its provider (with its breaker).
struct Target {
  const config::ModelConfig* model = nullptr;
  const upstream::GuardedProvider* provider = nullptr;  // its members are thread-safe
};

struct RequestContext {
  RequestContext(http::Request& r, ResponseSink& sink, const ResponseShape* s) : req(r), w(sink), shape(s) {}
  RequestContext(const RequestContext&) = delete;
  RequestContext& operator=(const RequestContext&) = delete;

  http::Request& req;
  ResponseSink& w;
  const ResponseShape* shape;        // null: OpenAI in and out
  RequestInfo info;

  // auth: the caller's key; null when the gateway has no keys.
  std::shared_ptr<const limits::KeyRecord> key;
  // shape: the parsed request, header overrides folded in.
  api::ChatRequest chat;
  // route: the route the model name resolved to (null: a model named directly), its candidates
  // in configured order and its fallbacks (privacy removes remote fallbacks), and how the
  // targets will be called (chosen per route at startup).
  const RouteState* route = nullptr;
  std::vector<const config::ModelConfig*> candidates;
  std::vector<const config::ModelConfig*> fallback;
  const Dispatcher* dispatcher = nullptr;
  // decide: what to call, in order; the first `decided` came from the policy's order (a session
  // pin may reorder those), the rest are fallbacks.
  std::vector<Target> targets;
  size_t decided = 0;
  // admit: the session pinned ("" = none), the key's reservation and the gate that made it
  // (settled once by settleAdmission(): before the answer's last bytes, or by account).
  std::string session;
  limits::Admission admission;
  KeyGate* keys = nullptr;

  // Set by a stage that stops the chain with an error: the chain answers it (errorBody of the
  // shape) before the final stages run.
  std::optional<Error> error;

  // The human's ask (api::humanAsk), built at most once: routing, the cascade's judge and
  // store_prompts all read it.
  const std::string& ask() {
    if (!ask_) ask_ = api::humanAsk(chat.messages);
    return *ask_;
  }

 private:
  std::optional<std::string> ask_;
};

}  // namespace rightsize::pipeline
