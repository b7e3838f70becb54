#include "server/gateway.h"

#include <fmt/format.h>

#include "api/anthropic_common.h"
#include "api/errors.h"
#include "common/ids.h"
#include "common/strings.h"
#include "http/client.h"
#include "pipeline/chat_chain.h"
#include "pipeline/dispatch.h"
#include "pipeline/embeddings_chain.h"
#include "pipeline/response_sink.h"
#include "routing/session_pins.h"
#include "server/dashboard.h"
#include "server/feedback_endpoint.h"
#include "server/redis_session_pins.h"

namespace rightsize::server {

namespace bhttp = http::bhttp;

namespace {

// The client's x-request-id when it is a sane one, else a new id.
std::string requestIdOf(const http::Request& req) {
  std::string_view client_id = req["x-request-id"];
  return validRequestId(client_id) ? std::string(client_id) : newRequestId();
}

// The session pin store, chosen once: shared by replicas in Redis when limits.kind is redis,
// else in this process.
Result<std::unique_ptr<routing::SessionPins>> makeSessionPins(const config::Config& cfg) {
  if (cfg.limits.kind == config::LimitsKind::kRedis) {
    auto rp = RedisSessionPins::make(cfg.limits, cfg.sessions.ttl);
    if (!rp) return fail(rp.error());
    return std::unique_ptr<routing::SessionPins>(std::move(*rp));
  }
  return std::unique_ptr<routing::SessionPins>(
      std::make_unique<routing::MemorySessionPins>(cfg.sessions.ttl, cfg.sessions.max_entries));
}

}  // namespace

// -------------------------------------------------------------------------------------------
Gateway::Gateway(std::shared_ptr<const config::Config> cfg) : cfg_(std::move(cfg)) {
  // A shadow job keeps the gateway it started on alive, like a request in flight does; empty when
  // the gateway is not owned by a shared_ptr (tests), which then outlives its jobs.
  services_.hold = [this]() -> std::shared_ptr<const void> { return weak_from_this().lock(); };
}

void Gateway::setShadow(pipeline::ShadowRunner* runner) { services_.shadow = runner; }

void Gateway::setAccounting(Accounting* acc) {
  accounting_ = acc;
  recorder_ = acc ? std::make_unique<RecorderOf>(*acc) : nullptr;
  services_.recorder = recorder_.get();
  services_.metrics = acc ? &acc->metrics() : nullptr;
}

void Gateway::setKeyAuth(KeyAuth* ka) {
  key_auth_ = ka;
  key_gate_ = ka ? std::make_unique<KeyGateOf>(*ka) : nullptr;
  services_.keys = key_gate_.get();
}

Result<std::unique_ptr<Gateway>> Gateway::make(std::shared_ptr<const config::Config> cfg) {
  std::unique_ptr<Gateway> gw(new Gateway(cfg));
  gw->tls_ = http::makeClientTlsContext();
  pipeline::Services& sv = gw->services_;
  sv.cfg = cfg;
  for (const auto& [name, pc] : cfg->providers) {
    auto p = upstream::makeProvider(pc, *gw->tls_);
    if (!p) return fail(p.error());
    upstream::GuardedProvider gp;
    gp.provider = std::move(*p);
    gp.breaker = std::make_unique<upstream::CircuitBreaker>(name, pc.breaker);
    sv.providers.emplace(name, std::move(gp));
  }
  for (const auto& [name, rc] : cfg->routes) {
    auto rs = pipeline::makeRouteState(*cfg, rc);
    if (!rs) return fail(rs.error());
    sv.routes.emplace(name, std::move(*rs));
  }
  sv.direct = std::make_unique<pipeline::DirectDispatch>();
  auto pins = makeSessionPins(*cfg);
  if (!pins) return fail(pins.error());
  auto policy = pipeline::PolicyServices::make(*cfg, std::move(*pins));
  if (!policy) return fail(policy.error());
  sv.policy = std::move(*policy);
  gw->chain_ = pipeline::makeChatChain(sv);
  gw->embeddings_chain_ = pipeline::makeEmbeddingsChain(sv);
  // GET /v1/models is static for a config: build it once.
  std::string body = R"({"object":"list","data":[)";
  bool first = true;
  for (const auto& [name, m] : cfg->models) {
    body += fmt::format(R"({}{{"id":{},"object":"model","created":0,"owned_by":{},"rightsize":{{"kind":"model","provider":{}}}}})",
                        first ? "" : ",", jsonString(name), jsonString(m.provider), jsonString(m.provider));
    first = false;
  }
  for (const auto& [name, r] : cfg->routes) {
    std::string cands;
    for (const auto& c : r.candidates) cands += (cands.empty() ? "" : ",") + jsonString(c);
    body += fmt::format(R"({}{{"id":{},"object":"model","created":0,"owned_by":"rightsize","rightsize":{{"kind":"route","policy":{},"candidates":[{}]}}}})",
                        first ? "" : ",", jsonString(name), jsonString(r.policy), cands);
    first = false;
  }
  body += "]}";
  gw->models_body_ = std::move(body);
  return gw;
}

http::Response Gateway::errorResponse(int status, std::string message, std::string_view target) const {
  ErrorCode code = status == 413   ? ErrorCode::kPayloadTooLarge
                   : status == 404 ? ErrorCode::kNotFound
                   : status == 405 ? ErrorCode::kMethodNotAllowed
                   : status == 503 ? ErrorCode::kUnavailable
                   : status >= 500 ? ErrorCode::kInternal
                                   : ErrorCode::kInvalidArgument;
  Error e{code, std::move(message), 0};
  if (target.starts_with("/v1/messages")) return http::jsonResponse(static_cast<unsigned>(status), api::anthropicErrorBody(e));
  return http::jsonResponse(static_cast<unsigned>(status), api::errorBody(e));
}

http::Response Gateway::models() const { return http::jsonResponse(200, models_body_); }

http::Response Gateway::ready() const {
  std::string providers;
  bool any_up = false;
  for (const auto& [name, st] : services_.providers) {
    auto s = st.breaker->state();
    if (s != upstream::CircuitBreaker::State::kOpen) any_up = true;
    providers += fmt::format(R"({}{}:{{"circuit":"{}"}})", providers.empty() ? "" : ",", jsonString(name),
                             upstream::CircuitBreaker::stateName(s));
  }
  bool ok = any_up && !draining_;
  std::string status = draining_ ? "draining" : (any_up ? "ready" : "no_provider_available");
  return http::jsonResponse(ok ? 200 : 503, fmt::format(R"({{"status":"{}","providers":{{{}}}}})", status, providers));
}

asio::awaitable<void> Gateway::handle(http::Request& req, http::ResponseWriter& w) {
  std::string_view target = req.target();
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  const bool get = req.method() == bhttp::verb::get || req.method() == bhttp::verb::head;
  if (target == "/v1/chat/completions" || target == "/chat/completions") {
    if (req.method() != bhttp::verb::post) {
      auto res = errorResponse(405, "use POST for " + std::string(target));
      co_await w.send(std::move(res));
      co_return;
    }
    co_await chat(req, w);
    co_return;
  }
  if (target == "/v1/messages") {  // Anthropic Messages API (anthropic_ingress.cc)
    co_await messages(req, w);
    co_return;
  }
  if (target == "/v1/messages/count_tokens") {
    co_await countTokens(req, w);
    co_return;
  }
  if (target == "/v1/responses" || target == "/responses") {  // OpenAI Responses API (responses_ingress.cc)
    co_await responses(req, w);
    co_return;
  }
  if (target.starts_with("/v1/responses/")) {
    co_await storedResponse(req, w, target.substr(std::string_view("/v1/responses/").size()));
    co_return;
  }
  if (target == "/v1/embeddings" || target == "/embeddings") {
    co_await embeddings(req, w);
    co_return;
  }
  // GCC 12 can destroy temporaries of a co_await full-expression twice: responses are built into
  // named locals first, everywhere in this file.
  if (target.starts_with("/admin/") && key_auth_) {
    auto op = key_auth_->admin(req, target);
    http::Response admin_res = co_await std::move(op);
    co_await w.send(std::move(admin_res));
    co_return;
  }
  http::Response res;
  if (target == "/metrics" && get && accounting_) {
    for (const auto& [name, st] : services_.providers) {
      auto state = st.breaker->state();
      accounting_->metrics().setCircuitState(
          name, state == upstream::CircuitBreaker::State::kOpen       ? metrics::CircuitGaugeValue::kOpen
                : state == upstream::CircuitBreaker::State::kHalfOpen ? metrics::CircuitGaugeValue::kHalfOpen
                                                                      : metrics::CircuitGaugeValue::kClosed);
    }
    std::string text = accounting_->renderMetrics();
    res = http::jsonResponse(200, std::move(text));
    res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  } else if (target == "/" && get) {
    res = dashboardResponse();
  } else if (target == "/api/stats" && get) {
    res = accounting_ ? statsResponse(accounting_->stats()) : errorResponse(404, "no statistics: nothing is recorded");
  } else if (target == "/v1/feedback") {
    res = req.method() == bhttp::verb::post ? feedbackResponse(req.body(), accounting_)
                                            : errorResponse(405, "use POST for /v1/feedback");
  } else if (target == "/healthz" && get) {
    res = http::jsonResponse(200, R"({"status":"ok"})");
  } else if (target == "/readyz" && get) {
    res = ready();
  } else if ((target == "/v1/models" || target == "/models") && get) {
    res = models();
  } else if (target == "/healthz" || target == "/readyz" || target == "/v1/models" || target == "/" ||
             target == "/api/stats") {
    res = errorResponse(405, "use GET for " + std::string(target));
  } else {
    res = errorResponse(404, "no such endpoint: " + std::string(req.method_string()) + " " + std::string(target));
  }
  co_await w.send(std::move(res));
}

asio::awaitable<void> Gateway::chat(http::Request& req, http::ResponseWriter& w, const ResponseShape* shape) {
  pipeline::HttpResponseSink sink(w);
  pipeline::RequestContext ctx(req, sink, shape);
  ctx.info.request_id = requestIdOf(req);
  co_await chain_.run(ctx);
}

asio::awaitable<void> Gateway::embeddings(http::Request& req, http::ResponseWriter& w) {
  if (req.method() != bhttp::verb::post) {
    auto res = errorResponse(405, "use POST for /v1/embeddings");
    co_await w.send(std::move(res));
    co_return;
  }
  pipeline::HttpResponseSink sink(w);
  pipeline::RequestContext ctx(req, sink, nullptr);
  ctx.info.request_id = requestIdOf(req);
  co_await embeddings_chain_.run(ctx);
}

}  // namespace rightsize::server
