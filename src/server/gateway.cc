#include "server/gateway.h"

#include <charconv>
#include <chrono>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/chat_request.h"
#include "api/chat_response.h"
#include "api/errors.h"
#include "api/sse.h"
#include "common/ids.h"
#include "common/money.h"
#include "common/strings.h"
#include "http/client.h"

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
      if (info.reference) r.reference_cost_nanos = ledger::microsToNanos(costMicros(*info.reference, info.usage));
    }
    if (info.reference) r.reference_model = info.reference->name;
    r.latency = std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - info.start);
    r.ttft = info.ttft;
    r.status = info.status;
    r.error = std::move(info.error);
    r.attempts = info.attempts;
    r.sensitive = info.sensitive;
    r.stream = info.stream;
    acc->record(std::move(r), routed);
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
    h.insert("x-rightsize-cost-usd", formatUsdPrecise(costMicros(*info.chosen, info.usage)));
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

http::Response jsonResponse(unsigned status, std::string body) {
  http::Response res{static_cast<bhttp::status>(status), 11};
  res.insert(bhttp::field::content_type, "application/json");
  res.insert(bhttp::field::server, "rightsize");
  res.body() = std::move(body);
  return res;
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
// which cancels the upstream request.
asio::awaitable<void> relayStream(std::unique_ptr<upstream::ChatStream> s, std::optional<std::string> first,
                                  const api::ChatRequest& chat, RequestInfo& info, http::ResponseWriter& w) {
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
      trailer.set("x-rightsize-cost-usd", formatUsdPrecise(costMicros(*info.chosen, info.usage)));
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
        const std::string event = api::errorEvent(e);
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
    if (!drop) {
      ++chunks;
      const std::string event = api::sseEvent(*ev);
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
  const bool sent = co_await w.sendChunk(api::kSseDone);
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
    gw->routes_.emplace(name, RouteState{&rc, std::move(*pol), std::move(joined)});
  }
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

http::Response Gateway::errorResponse(int status, std::string message) const {
  ErrorCode code = status == 413   ? ErrorCode::kPayloadTooLarge
                   : status == 404 ? ErrorCode::kNotFound
                   : status == 405 ? ErrorCode::kMethodNotAllowed
                   : status == 503 ? ErrorCode::kUnavailable
                   : status >= 500 ? ErrorCode::kInternal
                                   : ErrorCode::kInvalidArgument;
  Error e{code, std::move(message), 0};
  auto res = jsonResponse(static_cast<unsigned>(status), api::errorBody(e));
  return res;
}

http::Response Gateway::models() const { return jsonResponse(200, models_body_); }

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
  return jsonResponse(ok ? 200 : 503, fmt::format(R"({{"status":"{}","providers":{{{}}}}})", status, providers));
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
  // GCC 12 can destroy temporaries of a co_await full-expression twice: responses are built into
  // named locals first, everywhere in this file.
  http::Response res;
  if (target == "/metrics" && get && accounting_) {
    for (const auto& [name, st] : providers_) {
      auto state = st.breaker->state();
      accounting_->metrics().setCircuitState(
          name, state == upstream::CircuitBreaker::State::kOpen       ? metrics::CircuitGaugeValue::kOpen
                : state == upstream::CircuitBreaker::State::kHalfOpen ? metrics::CircuitGaugeValue::kHalfOpen
                                                                      : metrics::CircuitGaugeValue::kClosed);
    }
    res = jsonResponse(200, accounting_->renderMetrics());
    res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  } else if (target == "/healthz" && get) {
    res = jsonResponse(200, R"({"status":"ok"})");
  } else if (target == "/readyz" && get) {
    res = ready();
  } else if ((target == "/v1/models" || target == "/models") && get) {
    res = models();
  } else if (target == "/healthz" || target == "/readyz" || target == "/v1/models") {
    res = errorResponse(405, "use GET for " + std::string(target));
  } else {
    res = errorResponse(404, "no such endpoint: " + std::string(req.method_string()) + " " + std::string(target));
  }
  co_await w.send(std::move(res));
}

asio::awaitable<void> Gateway::chat(http::Request& req, http::ResponseWriter& w) {
  RequestInfo info;
  std::string_view client_id = req["x-request-id"];
  info.request_id = validRequestId(client_id) ? std::string(client_id) : newRequestId();
  Recorder recorder{accounting_, info};

  auto reply_error = [&](const Error& e) -> asio::awaitable<void> {
    info.status = api::httpStatus(e);
    info.error = e.message;
    auto res = jsonResponse(static_cast<unsigned>(api::httpStatus(e)), api::errorBody(e));
    setInfoHeaders(res, info, false);
    co_await w.send(std::move(res));
  };

  auto parsed = api::parseChatRequest(req.body());
  if (!parsed) {
    co_await reply_error(parsed.error());
    co_return;
  }
  api::ChatRequest& chat = *parsed;
  info.stream = chat.stream;
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
  if (auto it = routes_.find(chat.model); it != routes_.end()) {
    route = &it->second;
    info.route = it->first;
    info.candidates = route->candidates_joined;
    for (const auto& c : route->route->candidates) candidates.push_back(&cfg_->models.at(c));
    for (const auto& f : route->route->fallback) fallback.push_back(&cfg_->models.at(f));
    info.reference = &cfg_->models.at(route->route->reference.empty() ? route->route->candidates.back()
                                                                       : route->route->reference);
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

  // Decide. Direct model requests skip the policy.
  std::vector<Target> targets;
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
    states.reserve(candidates.size());
    bool any_cost_ok = false;
    for (const auto* m : candidates) {
      routing::CandidateState s;
      s.model = m;
      const auto& ps = providers_.at(m->provider);
      s.available = ps.breaker->available();
      s.on_prem = ps.provider->config().locality == config::Locality::kOnPrem;
      s.est_cost_micros = estimate(*m);
      if (!fits(*m)) s.available = false;
      else any_cost_ok = true;
      states.push_back(s);
    }
    if (!any_cost_ok) {
      const Error err{ErrorCode::kRateLimited,
                      fmt::format("no candidate of route '{}' fits rightsize.max_cost_usd = {} for this request",
                                  info.route, *chat.rightsize.max_cost_usd), 0};
      co_await reply_error(err);
      co_return;
    }
    std::string ask = api::humanAsk(chat.messages);
    auto t0 = SteadyClock::now();
    auto decision = route->policy->decide(routing::DecisionInput{ask, states, chat.rightsize.quality});
    info.decision_us = std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - t0).count();
    if (decision) {
      info.knob = decision->knob;
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
    api::Rewrite rw{t.model->id, stream && !chat.include_usage, std::nullopt};
    if (t.model->max_output_tokens) rw.max_tokens_cap = *t.model->max_output_tokens;
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
          // The hot path: the head goes straight to bytes (http::HeadFields), the same fields in the
          // same order as jsonResponse() + setInfoHeaders() would give.
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
          co_await relayStream(std::move(*res), std::move(first_event), chat, info, w);
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
