#include "server/gateway.h"

#include <charconv>
#include <chrono>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/chat_request.h"
#include "api/chat_response.h"
#include "api/anthropic_common.h"
#include "api/errors.h"
#include "api/sse.h"
#include "common/ids.h"
#include "common/money.h"
#include "common/strings.h"
#include "http/client.h"
#include "server/cascade_dispatch.h"
#include "server/dashboard.h"
#include "server/feedback_endpoint.h"

namespace rightsize::server {

namespace bhttp = http::bhttp;
using SteadyClock = std::chrono::steady_clock;
using upstream::CallError;
using upstream::Millis;

namespace {

// Output length assumed for cost estimates when the request sets no max tokens.
constexpr int64_t kTypicalOutputTokens = 256;

struct Target {
  const config::ModelConfig* model = nullptr;
  Gateway::ProviderState* provider = nullptr;
};

struct Attempt {
  std::string model;
  std::string outcome;  // "ok" or the error
};

// Everything the response headers need, filled in as the request goes.
struct RequestInfo {
  SteadyClock::time_point start = SteadyClock::now();
  std::chrono::system_clock::time_point arrived = std::chrono::system_clock::now();
  int status = 0;                    // sent to the client
  std::string error;                 // sent to the client (or what broke a started stream)
  std::chrono::microseconds ttft{-1};
  double knob = -1;
  std::string_view candidates;       // the route's joined candidate list (or the model's name)
  bool sensitive = false;
  bool stream = false;
  std::string request_id;
  std::string route;                 // route name, or empty for a direct model request
  const config::ModelConfig* chosen = nullptr;
  const config::ModelConfig* reference = nullptr;
  int attempts = 0;
  int64_t decision_us = -1;
  api::Usage usage;
  bool usage_known = false;
  std::string key_id;                // the caller's virtual key id (never the key itself)
  double extra_cost_micros = 0;      // cascade: rejected answers and judge calls (paid for too)
  std::string attempts_detail;       // ledger attempts_detail (cascade attempts, budgets)
  std::string prompt;                // the human's ask, only with ledger.store_prompts
};

double costMicros(const config::ModelConfig& m, const api::Usage& u) {
  return tokenCostMicros(m.input_usd_per_mtok, u.prompt_tokens) + tokenCostMicros(m.output_usd_per_mtok, u.completion_tokens);
}

// Records a finished request (ledger row + metrics) when it goes out of scope: every way out
// of Gateway::chat — answers, errors, broken streams, vanished clients — is recorded once.
struct Recorder {
  Accounting* acc;
  RequestInfo& info;
  ~Recorder() {
    if (!acc) return;
    ledger::LedgerRecord r;
    r.time = info.arrived;
    r.request_id = std::move(info.request_id);
    r.key_id = std::move(info.key_id);
    r.route = std::move(info.route);
    if (info.chosen) {
      r.model = info.chosen->name;
      r.provider = info.chosen->provider;
    }
    r.candidates = info.candidates;
    r.knob = info.knob;
    const bool routed = info.decision_us >= 0;
    r.decision = std::chrono::microseconds(routed ? info.decision_us : 0);
    if (info.status == 200 || info.usage_known) {
      r.tokens_in = info.usage.prompt_tokens;
      r.tokens_out = info.usage.completion_tokens;
      if (info.chosen) r.cost_nanos = ledger::microsToNanos(costMicros(*info.chosen, info.usage));
      r.cost_nanos += ledger::microsToNanos(info.extra_cost_micros);
      if (info.reference) r.reference_cost_nanos = ledger::microsToNanos(costMicros(*info.reference, info.usage));
    }
    if (info.reference) r.reference_model = info.reference->name;
    r.latency = std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - info.start);
    r.ttft = info.ttft;
    r.status = info.status;
    r.error = std::move(info.error);
    r.attempts = info.attempts;
    r.sensitive = info.sensitive;
    r.attempts_detail = std::move(info.attempts_detail);
    if (!info.sensitive) r.prompt = std::move(info.prompt);  // privacy: a sensitive prompt is never stored
    r.stream = info.stream;
    acc->record(std::move(r), routed);
  }
};

// Settles a key's admission with the request's real usage when it goes out of scope. Declared
// after the Recorder, so it runs first, while `info` still holds everything.
struct KeySettle {
  KeyAuth* auth;
  const limits::Admission& admission;
  const RequestInfo& info;
  ~KeySettle() {
    if (!auth || !admission.reserved) return;
    const bool known = info.status == 200 || info.usage_known;
    const int64_t tokens = known ? info.usage.prompt_tokens + info.usage.completion_tokens : 0;
    const double cost = (known && info.chosen ? costMicros(*info.chosen, info.usage) : 0.0) + info.extra_cost_micros;
    auth->settle(admission, info.status == 200, tokens, cost);
  }
};

// `h` is a head built here that has none of these fields yet: insert (one tree search) rather than
// set (a search to erase, then the insert).
template <class Fields>
void setInfoHeaders(Fields& h, const RequestInfo& info, bool with_cost) {
  h.insert("x-request-id", info.request_id);
  if (!info.route.empty()) h.insert("x-rightsize-route", info.route);
  if (info.chosen) h.insert("x-rightsize-model", info.chosen->name);
  char num[24];
  if (info.decision_us >= 0) {
    auto r = std::to_chars(num, num + sizeof num, info.decision_us);
    h.insert("x-rightsize-decision-us", std::string_view(num, r.ptr - num));
  }
  auto r = std::to_chars(num, num + sizeof num, info.attempts);
  h.insert("x-rightsize-attempts", std::string_view(num, r.ptr - num));
  if (with_cost && info.chosen) {
    h.insert("x-rightsize-cost-usd", formatUsdPrecise(costMicros(*info.chosen, info.usage) + info.extra_cost_micros));
    if (info.reference)
      h.insert("x-rightsize-reference-cost-usd", formatUsdPrecise(costMicros(*info.reference, info.usage)));
  }
}

bool validRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' && c != ':') return false;
  return true;
}

Millis backoff(const config::RetryConfig& r, int attempt_no) {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  int64_t cap = std::min<int64_t>(r.max_backoff.count(), r.base_backoff.count() << std::min(attempt_no, 20));
  std::uniform_int_distribution<int64_t> dist(0, std::max<int64_t>(cap, 0));
  return Millis(dist(gen));  // full jitter
}

asio::awaitable<void> sleepFor(Millis d) {
  if (d.count() <= 0) co_return;
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(http::use_nothrow);
}

// The status an exhausted dispatch reports: the last error, except that a run where every
// provider's circuit was open is 503.
Error finalError(const std::optional<CallError>& last, bool all_skipped) {
  if (!last || all_skipped)
    return Error{ErrorCode::kUnavailable, "no upstream available for this request: every candidate's circuit is open", 0};
  return last->error;
}

// Relays an accepted stream to the client event by event as it arrives. After the head is
// sent nothing is retried: an upstream failure becomes an SSE error event and a clean end.
// Dropping `s` (client gone, or done) closes the upstream connection if it is still open,
// which cancels the upstream request. `shape` (null: OpenAI) turns the chunks into the client's events.
asio::awaitable<void> relayStream(std::unique_ptr<upstream::ChatStream> s, std::optional<std::string> first,
                                  const api::ChatRequest& chat, RequestInfo& info, http::ResponseWriter& w,
                                  StreamShape* shape = nullptr) {
  bhttp::response<bhttp::empty_body> head{bhttp::status::ok, 11};
  head.set(bhttp::field::content_type, "text/event-stream");
  head.set(bhttp::field::cache_control, "no-cache");
  head.set(bhttp::field::server, "rightsize");
  head.set(bhttp::field::trailer, "x-rightsize-cost-usd, x-rightsize-reference-cost-usd");
  setInfoHeaders(head, info, false);
  const bool started = co_await w.beginChunked(std::move(head));
  info.status = 200;
  if (!started) {
    info.error = "client went away before the stream started";
    co_return;
  }

  int64_t chunks = 0;
  auto finish = [&]() -> asio::awaitable<void> {
    if (!info.usage_known)
      info.usage = api::Usage{api::estimateTokens(chat.content_chars), chunks};  // ~1 token per chunk
    bhttp::fields trailer;
    if (info.chosen) {
      trailer.set("x-rightsize-cost-usd", formatUsdPrecise(costMicros(*info.chosen, info.usage) + info.extra_cost_micros));
      if (info.reference)
        trailer.set("x-rightsize-reference-cost-usd", formatUsdPrecise(costMicros(*info.reference, info.usage)));
    }
    co_await w.endChunked(&trailer);
  };

  std::optional<std::string> ev = std::move(first);
  while (true) {
    if (!ev) {
      auto n = co_await s->next();
      if (!n) {
        spdlog::warn("[{}] upstream stream of {} broke after the response started: {}", info.request_id,
                     info.chosen ? info.chosen->name : "?", n.error().message);
        Error e{n.error().code == ErrorCode::kTimeout ? ErrorCode::kTimeout : ErrorCode::kUpstreamError,
                "upstream stream failed after the response started: " + n.error().message, 0};
        info.error = e.message;
        const std::string event = shape ? shape->errorEvent(e) : api::errorEvent(e);
        const bool sent = co_await w.sendChunk(event);
        if (sent) co_await finish();
        co_return;
      }
      if (!*n) break;
      ev = std::move(**n);
    }
    auto c = api::inspectChunk(*ev);
    if (c.usage) {
      info.usage = *c.usage;
      info.usage_known = true;
    }
    // The gateway asked for usage on the client's behalf: don't show the client a chunk it
    // did not ask for.
    bool drop = c.usage && c.empty_choices && !chat.include_usage;
    std::string event;
    if (!drop && shape) {
      if (auto shaped = shape->chunk(*ev, event); !shaped) {
        spdlog::warn("[{}] upstream stream of {} sent a chunk that cannot be relayed: {}", info.request_id,
                     info.chosen ? info.chosen->name : "?", shaped.error().message);
        info.error = shaped.error().message;
        event = shape->errorEvent(shaped.error());
        const bool sent = co_await w.sendChunk(event);
        if (sent) co_await finish();
        co_return;
      }
      drop = event.empty();  // e.g. the usage chunk: reported by the final events
    }
    if (!drop) {
      ++chunks;
      if (!shape) event = api::sseEvent(*ev);
      const bool sent = co_await w.sendChunk(event);
      if (!sent) {
        spdlog::info("[{}] client went away mid-stream; cancelling the upstream request", info.request_id);
        info.error = "client went away mid-stream";
        co_return;
      }
      if (info.ttft.count() < 0)
        info.ttft = std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - info.start);
    }
    ev.reset();
  }
  std::string tail;
  if (shape) {
    if (!info.usage_known) info.usage = api::Usage{api::estimateTokens(chat.content_chars), chunks};
    shape->done(info.usage, tail);
  }
  const std::string_view last_event = shape ? std::string_view(tail) : api::kSseDone;
  const bool sent = co_await w.sendChunk(last_event);
  if (sent) co_await finish();
}

}  // namespace

// -------------------------------------------------------------------------------------------
Gateway::Gateway(std::shared_ptr<const config::Config> cfg) : cfg_(std::move(cfg)) {}

Result<std::unique_ptr<Gateway>> Gateway::make(std::shared_ptr<const config::Config> cfg) {
  std::unique_ptr<Gateway> gw(new Gateway(cfg));
  gw->tls_ = http::makeClientTlsContext();
  for (const auto& [name, pc] : cfg->providers) {
    auto p = upstream::makeProvider(pc, *gw->tls_);
    if (!p) return fail(p.error());
    ProviderState st;
    st.provider = std::move(*p);
    st.breaker = std::make_unique<upstream::CircuitBreaker>(name, pc.breaker);
    gw->providers_.emplace(name, std::move(st));
  }
  for (const auto& [name, rc] : cfg->routes) {
    auto pol = routing::makePolicy(routing::PolicyContext{*cfg, rc});
    if (!pol) return fail(pol.error());
    std::string joined;
    for (const auto& c : rc.candidates) joined += (joined.empty() ? "" : ",") + c;
    // The cascade runs attempts in the gateway (cascade_dispatch.cc): found once, here.
    const auto* cascade = dynamic_cast<const routing::CascadePolicy*>(pol->get());
    gw->routes_.emplace(name, RouteState{&rc, std::move(*pol), std::move(joined), cascade});
  }
  auto services = PolicyServices::make(*cfg);
  if (!services) return fail(services.error());
  gw->policy_services_ = std::move(*services);
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
  for (const auto& [name, st] : providers_) {
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
    for (const auto& [name, st] : providers_) {
      auto state = st.breaker->state();
      accounting_->metrics().setCircuitState(
          name, state == upstream::CircuitBreaker::State::kOpen       ? metrics::CircuitGaugeValue::kOpen
                : state == upstream::CircuitBreaker::State::kHalfOpen ? metrics::CircuitGaugeValue::kHalfOpen
                                                                      : metrics::CircuitGaugeValue::kClosed);
    }
    std::string text = accounting_->renderMetrics();
    if (key_auth_) text += key_auth_->metricsText();
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
  RequestInfo info;
  std::string_view client_id = req["x-request-id"];
  info.request_id = validRequestId(client_id) ? std::string(client_id) : newRequestId();
  Recorder recorder{accounting_, info};

  auto reply_error = [&](const Error& e) -> asio::awaitable<void> {
    info.status = api::httpStatus(e);
    info.error = e.message;
    auto res = http::jsonResponse(static_cast<unsigned>(api::httpStatus(e)), shape ? shape->errorBody(e) : api::errorBody(e));
    setInfoHeaders(res, info, false);
    co_await w.send(std::move(res));
  };

  // Virtual keys (server/auth.h): 401 before anything else when keys exist.
  std::shared_ptr<const limits::KeyRecord> key;
  if (key_auth_) {
    auto k = key_auth_->authenticate(req);
    if (!k) {
      co_await reply_error(k.error());
      co_return;
    }
    key = std::move(*k);
    if (key) info.key_id = key->id;
  }

  if (shape) {  // another client API: its body becomes an OpenAI one here
    auto translated = shape->request(req.body());
    if (!translated) {
      co_await reply_error(translated.error());
      co_return;
    }
    req.body() = std::move(*translated);
  }
  auto parsed = api::parseChatRequest(req.body());
  if (!parsed) {
    co_await reply_error(parsed.error());
    co_return;
  }
  api::ChatRequest& chat = *parsed;
  info.stream = chat.stream;
  // The human's ask (api::humanAsk), built at most once: routing, the cascade's judge and
  // store_prompts all read it.
  std::optional<std::string> ask_text;
  auto ask = [&]() -> const std::string& {
    if (!ask_text) ask_text = api::humanAsk(chat.messages);
    return *ask_text;
  };
  if (accounting_ && accounting_->storePrompts()) info.prompt = ask();
  if (auto h = req["x-rightsize-quality"]; !h.empty()) {
    double q = 0;
    auto r = std::from_chars(h.data(), h.data() + h.size(), q);
    if (r.ec != std::errc() || r.ptr != h.data() + h.size() || !(q > 0 && q <= 1)) {
      const Error err{ErrorCode::kInvalidArgument, "x-rightsize-quality: must be a number in (0, 1]", 0};
      co_await reply_error(err);
      co_return;
    }
    if (!chat.rightsize.quality) chat.rightsize.quality = q;
  }
  if (auto h = req["x-rightsize-sensitive"]; !h.empty()) chat.rightsize.sensitive = h == "1" || iequals(h, "true");
  info.sensitive = chat.rightsize.sensitive;

  // Resolve the model name: a route, or a single configured model.
  std::vector<const config::ModelConfig*> candidates;
  std::vector<const config::ModelConfig*> fallback;
  const RouteState* route = nullptr;
  // Also run when a rules route hands the request to another route.
  auto use_route = [&](const std::string& name, const RouteState& rs) {
    route = &rs;
    info.route = name;
    info.candidates = route->candidates_joined;
    candidates.clear();
    fallback.clear();
    for (const auto& c : route->route->candidates) candidates.push_back(&cfg_->models.at(c));
    for (const auto& f : route->route->fallback) fallback.push_back(&cfg_->models.at(f));
    info.reference = &cfg_->models.at(route->route->reference.empty() ? route->route->candidates.back()
                                                                       : route->route->reference);
  };
  if (auto it = routes_.find(chat.model); it != routes_.end()) {
    use_route(it->first, it->second);
  } else if (auto mt = cfg_->models.find(chat.model); mt != cfg_->models.end()) {
    // A model named directly is its own one-candidate route.
    info.route = mt->first;
    info.candidates = mt->first;
    candidates.push_back(&mt->second);
    info.reference = &mt->second;
  } else {
    const Error err{ErrorCode::kNotFound,
                    "the model '" + chat.model + "' does not exist: it is neither a configured model nor a "
                    "route (see GET /v1/models)", 0};
    co_await reply_error(err);
    co_return;
  }

  // Privacy (policy_services.cc), before any policy: a sensitive request (flagged, or with
  // personal data) may only reach on-prem models, fallbacks included; none: 403, sent nowhere.
  metrics::GatewayMetrics* gm = accounting_ ? &accounting_->metrics() : nullptr;
  auto restrict_private = [&](bool scan) -> std::optional<Error> {
    return policy_services_->restrictSensitive(chat, route ? route->route : nullptr, info.route, candidates,
                                               fallback, info.sensitive, gm, scan);
  };
  if (auto denied = restrict_private(true)) {
    co_await reply_error(*denied);
    co_return;
  }

  // Decide. Direct model requests skip the policy.
  std::vector<Target> targets;
  std::string session;  // pinned session id, "" if none
  auto add_target = [&](const config::ModelConfig* m) {
    for (const auto& t : targets)
      if (t.model == m) return;
    targets.push_back(Target{m, &providers_.at(m->provider)});
  };
  if (route) {
    const int64_t in_tokens = api::estimateTokens(chat.content_chars);
    const int64_t out_tokens = chat.max_tokens.value_or(kTypicalOutputTokens);
    auto estimate = [&](const config::ModelConfig& m) {
      return tokenCostMicros(m.input_usd_per_mtok, in_tokens) + tokenCostMicros(m.output_usd_per_mtok, out_tokens);
    };
    // rightsize.max_cost_usd bounds every model the request may reach, fallbacks included.
    auto fits = [&](const config::ModelConfig& m) {
      return !chat.rightsize.max_cost_usd || estimate(m) <= *chat.rightsize.max_cost_usd * 1e6;
    };
    std::vector<routing::CandidateState> states;
    bool any_cost_ok = false;
    auto build_states = [&] {
      states.clear();
      any_cost_ok = false;
      for (const auto* m : candidates) {
        routing::CandidateState s;
        s.model = m;
        const auto& ps = providers_.at(m->provider);
        s.available = ps.breaker->available();
        s.on_prem = ps.provider->config().locality == config::Locality::kOnPrem;
        s.est_cost_micros = estimate(*m);
        if (info.sensitive && !s.on_prem) s.available = false;  // privacy: never a remote model
        if (!fits(*m)) s.available = false;
        else any_cost_ok = true;
        states.push_back(s);
      }
    };
    build_states();
    routing::RequestFacts facts;
    facts.metadata = chat.metadata;
    if (chat.user) facts.user = *chat.user;
    facts.sensitive = info.sensitive;
    facts.prompt_tokens = in_tokens;
    facts.header = [&req](std::string_view name) -> std::optional<std::string_view> {
      auto it = req.find(name);
      if (it == req.end()) return std::nullopt;
      return it->value();
    };
    auto t0 = SteadyClock::now();
    auto decision = route->policy->decide(routing::DecisionInput{ask(), states, chat.rightsize.quality, &facts});
    if (decision && !decision->route.empty()) {
      // rules: the request belongs to another route (one hop: the config allows no chains).
      use_route(decision->route, routes_.at(decision->route));
      if (auto denied = restrict_private(false)) {
        co_await reply_error(*denied);
        co_return;
      }
      build_states();
      decision = route->policy->decide(routing::DecisionInput{ask(), states, chat.rightsize.quality, &facts});
    }
    if (!any_cost_ok) {
      const Error err{ErrorCode::kRateLimited,
                      fmt::format("no candidate of route '{}' fits rightsize.max_cost_usd = {} for this request",
                                  info.route, *chat.rightsize.max_cost_usd), 0};
      co_await reply_error(err);
      co_return;
    }
    info.decision_us = std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - t0).count();
    if (decision) {
      info.knob = decision->knob;
      if (route->route->pin_sessions) session = policy_services_->sessionOf(chat, req);
      if (!session.empty()) {  // no session: no pin lookup (and no coroutine frame) on the hot path
        auto pin_op = policy_services_->lookupPin(info.route, session);
        const std::optional<std::string> pinned = co_await std::move(pin_op);
        policy_services_->applyPin(pinned, info.route, session, candidates, decision->order);
      }
      for (size_t i : decision->order) add_target(candidates[i]);
    } else if (decision.error().code != ErrorCode::kUnavailable) {
      co_await reply_error(decision.error());
      co_return;
    }
    for (const auto* m : fallback)
      if (fits(*m)) add_target(m);
  } else {
    add_target(candidates[0]);
  }

  // The key's budgets and rate limits: reserve the first target's estimate now, settle the real
  // cost when the request ends (KeySettle's destructor, on every way out).
  limits::Admission admission;
  if (key && !targets.empty()) {
    const int64_t in_tok = api::estimateTokens(chat.content_chars);
    const int64_t out_tok = chat.max_tokens.value_or(kTypicalOutputTokens);
    const auto& m = *targets.front().model;
    const double est = tokenCostMicros(m.input_usd_per_mtok, in_tok) + tokenCostMicros(m.output_usd_per_mtok, out_tok);
    auto op = key_auth_->admit(*key, in_tok + out_tok, est);
    admission = co_await std::move(op);
    if (!admission.admitted) {
      auto res = KeyAuth::refusal(admission, shape);
      setInfoHeaders(res, info, false);
      info.status = res.result_int();
      info.error = admission.message;
      co_await w.send(std::move(res));
      co_return;
    }
  }
  KeySettle key_settle{key_auth_, admission, info};

  // policy: cascade (cascade_dispatch.cc): the targets cheapest first, non-streaming, until an
  // answer passes the route's checks; that answer goes out as JSON, or as SSE for a stream.
  const routing::CascadePolicy* cascade = route ? route->cascade : nullptr;
  if (cascade && !targets.empty()) {
    std::vector<CascadeTarget> cascade_targets;
    for (const auto& t : targets) cascade_targets.push_back(CascadeTarget{t.model, t.provider});
    const CascadeRequest creq{req.body(), chat, ask(), route->route, info.route, *cascade, cascade_targets,
                              *cfg_, providers_, gm, info.request_id, info.sensitive};
    CascadeOutcome out = co_await runCascade(creq);
    info.attempts += out.attempts;
    info.chosen = out.model;
    info.extra_cost_micros = out.extra_cost_micros;
    info.attempts_detail = std::move(out.detail);
    if (!out.answer) {
      const Error e = out.error ? *out.error : Error{ErrorCode::kUnavailable, "no upstream answered", 0};
      co_await reply_error(e);
      co_return;
    }
    if (out.model != targets.front().model) policy_services_->repin(info.route, session, out.model->name);
    info.usage = out.usage;
    info.usage_known = out.usage_known;
    if (!chat.stream) {
      std::string answer_body = std::move(out.answer->body);
      if (shape) {
        auto shaped = shape->completion(answer_body, info.usage);
        if (!shaped) {
          co_await reply_error(shaped.error());
          co_return;
        }
        answer_body = std::move(*shaped);
      }
      http::HeadFields head;
      head.insert(bhttp::field::content_type, "application/json");
      head.insert(bhttp::field::server, "rightsize");
      setInfoHeaders(head, info, true);
      info.status = 200;
      co_await w.send(200, head, answer_body);
      co_return;
    }
    std::unique_ptr<upstream::ChatStream> buffered =
        std::make_unique<BufferedChatStream>(completionToChunks(out.answer->body, out.usage));
    std::unique_ptr<StreamShape> stream_shape = shape ? shape->stream() : nullptr;
    co_await relayStream(std::move(buffered), std::nullopt, chat, info, w, stream_shape.get());
    co_return;
  }

  // Call, with retries per target and fallback across targets. Nothing has been sent to the
  // client yet, so every failure here may be retried.
  std::optional<CallError> last_error;
  bool all_skipped = true;
  const bool stream = chat.stream;
  for (auto& t : targets) {
    auto& ps = *t.provider;
    const auto& pcfg = ps.provider->config();
    if (!ps.breaker->allow()) {
      spdlog::debug("[{}] skipping {}: circuit open", info.request_id, t.model->name);
      continue;
    }
    if (!all_skipped && accounting_) accounting_->metrics().fallbacks->labels({info.route}).inc();
    all_skipped = false;
    upstream::ChatCall call;
    call.request = &chat;
    call.model_id = t.model->id;
    api::Rewrite rw;
    rw.model_id = t.model->id;
    rw.force_include_usage = stream && !chat.include_usage;
    // The model's max_output_tokens and the route's budget caps (policy_services.cc).
    if (applyBudget(route ? route->route : nullptr, *t.model, rw)) appendDetail(info.attempts_detail, budgetDetail(*t.model, rw));
    auto body = api::rewriteChatRequest(req.body(), rw);
    if (!body) {
      co_await reply_error(body.error());
      co_return;
    }
    call.body = std::move(*body);

    for (int attempt = 1; attempt <= pcfg.retry.max_attempts; ++attempt) {
      if (attempt > 1 && !ps.breaker->allow()) break;
      if (attempt > 1 && accounting_) accounting_->metrics().retries->labels({pcfg.name}).inc();
      ++info.attempts;
      info.chosen = t.model;
      if (!stream) {
        auto res = co_await ps.provider->complete(call);
        if (res) {
          ps.breaker->onSuccess();
          if (res->usage) {
            info.usage = *res->usage;
            info.usage_known = true;
          } else {
            info.usage = api::Usage{api::estimateTokens(chat.content_chars), api::estimateTokens(res->body.size())};
          }
          if (shape) {  // the client's API: an answer that cannot be translated is a bad gateway
            auto shaped = shape->completion(res->body, info.usage);
            if (!shaped) {
              co_await reply_error(shaped.error());
              co_return;
            }
            res->body = std::move(*shaped);
          }
          // The hot path: the head goes straight to bytes (http::HeadFields), the same fields in the
          // same order as http::jsonResponse() + setInfoHeaders() would give.
          http::HeadFields head;
          head.insert(bhttp::field::content_type, "application/json");
          head.insert(bhttp::field::server, "rightsize");
          setInfoHeaders(head, info, true);
          info.status = 200;
          co_await w.send(200, head, res->body);
          co_return;
        }
        last_error = res.error();
      } else {
        auto res = co_await ps.provider->stream(call);
        std::optional<std::string> first_event;
        if (res) {
          // Read the first event before committing a status to the client: an upstream that
          // fails right after its head can still be retried.
          auto ev = co_await (*res)->next();
          if (ev) {
            ps.breaker->onSuccess();
            first_event = std::move(*ev);
          } else {
            CallError ce;
            ce.error = ev.error();
            ce.retryable = true;
            ce.breaker_failure = true;
            res = tl::unexpected(ce);
          }
        }
        if (res) {
          std::unique_ptr<StreamShape> stream_shape = shape ? shape->stream() : nullptr;
          co_await relayStream(std::move(*res), std::move(first_event), chat, info, w, stream_shape.get());
          co_return;
        }
        last_error = res.error();
      }
      // Failed attempt.
      const CallError& ce = *last_error;
      spdlog::warn("[{}] {} via {} attempt {} failed: {}", info.request_id, t.model->name, pcfg.name, attempt,
                   ce.error.message);
      if (ce.breaker_failure) ps.breaker->onFailure();
      if (accounting_) {
        const char* kind = ce.error.code == ErrorCode::kTimeout ? "timeout"
                           : ce.error.upstream_status == 429       ? "rate_limited"
                           : ce.error.upstream_status >= 500       ? "server_error"
                           : ce.error.upstream_status >= 400       ? "client_error"
                                                                   : "transport";
        accounting_->metrics().upstream_errors->labels({pcfg.name, kind}).inc();
      }
      if (!ce.fallback_ok) {
        co_await reply_error(ce.error);
        co_return;
      }
      if (!ce.retryable || attempt == pcfg.retry.max_attempts) break;
      Millis wait = backoff(pcfg.retry, attempt - 1);
      if (ce.retry_after) {
        if (*ce.retry_after > pcfg.retry.max_retry_after) break;  // too long: try the next target now
        wait = *ce.retry_after;
      }
      co_await sleepFor(wait);
    }
  }
  Error e = finalError(last_error, all_skipped);
  if (targets.size() > 1 && last_error && !all_skipped)
    e.message = fmt::format("all {} upstream attempt(s) failed; last: {}", info.attempts, e.message);
  co_await reply_error(e);
}

}  // namespace rightsize::server
