#pragma once
// Fakes for in-process pipeline tests: a scripted provider, a response sink that records what the
// client got, a key gate and a recorder that count, and a fixture that wires them into
// pipeline::Services from a YAML config. No network, no wall clock (breakers and pins run on a
// fake clock; a "hang" waits on a timer that never fires before the test ends).

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config/config.h"
#include "http/asio.h"
#include "metrics/gateway_metrics.h"
#include "metrics/registry.h"
#include "pipeline/chat_chain.h"
#include "pipeline/dispatch.h"
#include "pipeline/services.h"
#include "routing/session_pins.h"
#include "unit/fake_clock.h"
#include "upstream/provider.h"

namespace rightsize::pipeline::testing {

namespace asio = boost::asio;

// A chat.completion body with `text` as the answer.
inline std::string completionBody(const std::string& text) {
  return R"({"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":")" +
         text + R"("},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}})";
}

// What one call to a FakeProvider does.
struct Step {
  enum class Kind { kAnswer, kFail, kHang, kStreamBreaks };
  Kind kind = Kind::kAnswer;
  std::string text = "hello";       // kAnswer: the answer's content
  upstream::CallError error;        // kFail
};

inline Step answer(std::string text = "hello") { return Step{Step::Kind::kAnswer, std::move(text), {}}; }
inline Step failWith(int status) {
  Step s;
  s.kind = Step::Kind::kFail;
  s.error = upstream::statusError("fake", status, R"({"error":{"message":"scripted"}})", std::nullopt);
  return s;
}
inline Step hang() { return Step{Step::Kind::kHang, {}, {}}; }
inline Step streamBreaks() { return Step{Step::Kind::kStreamBreaks, {}, {}}; }

class FakeStream final : public upstream::ChatStream {
 public:
  FakeStream(std::vector<std::string> events, bool breaks) : events_(std::move(events)), breaks_(breaks) {}
  asio::awaitable<Result<std::optional<std::string>>> next() override {
    if (next_ < events_.size()) co_return std::optional<std::string>(events_[next_++]);
    if (breaks_) co_return fail(ErrorCode::kUpstreamError, "connection reset");
    co_return std::optional<std::string>();
  }

 private:
  std::vector<std::string> events_;
  size_t next_ = 0;
  bool breaks_ = false;
};

// Follows its script call by call (then answers "hello"); records the model ids it was called for.
class FakeProvider final : public upstream::Provider {
 public:
  explicit FakeProvider(config::ProviderConfig cfg) : cfg_(std::move(cfg)) {}
  std::deque<Step> script;
  std::map<std::string, std::deque<Step>> script_by_model;  // by model id; used before `script`
  std::vector<std::string> called;  // model ids, in call order
  std::string last_embeddings_body;  // the body of the last embed() call

  // Embeddings: 7 prompt tokens, one one-element vector; fails like complete() when scripted.
  asio::awaitable<upstream::CallResult<upstream::Completion>> embed(const upstream::EmbeddingsCall& call) override {
    Step s = take(call.model_id);
    last_embeddings_body = call.body;
    if (s.kind == Step::Kind::kFail) co_return tl::unexpected(s.error);
    co_return upstream::Completion{
        R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5]}],"model":"m","usage":{"prompt_tokens":7,"total_tokens":7}})",
        api::Usage{7, 0}};
  }

  asio::awaitable<upstream::CallResult<upstream::Completion>> complete(const upstream::ChatCall& call) override {
    Step s = take(call.model_id);
    if (s.kind == Step::Kind::kHang) co_await waitForever();
    if (s.kind == Step::Kind::kFail) co_return tl::unexpected(s.error);
    co_return upstream::Completion{completionBody(s.text), api::Usage{10, 5}};
  }
  asio::awaitable<upstream::CallResult<std::unique_ptr<upstream::ChatStream>>> stream(
      const upstream::ChatCall& call) override {
    Step s = take(call.model_id);
    if (s.kind == Step::Kind::kHang) co_await waitForever();
    if (s.kind == Step::Kind::kFail) co_return tl::unexpected(s.error);
    std::vector<std::string> events = {
        R"({"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"he"}}]})",
        R"({"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"llo"}}]})"};
    co_return std::unique_ptr<upstream::ChatStream>(
        std::make_unique<FakeStream>(std::move(events), s.kind == Step::Kind::kStreamBreaks));
  }
  const config::ProviderConfig& config() const override { return cfg_; }

 private:
  Step take(const std::string& model_id) {
    called.push_back(model_id);
    if (auto it = script_by_model.find(model_id); it != script_by_model.end() && !it->second.empty()) {
      Step s = std::move(it->second.front());
      it->second.pop_front();
      return s;
    }
    if (script.empty()) return answer();
    Step s = std::move(script.front());
    script.pop_front();
    return s;
  }
  static asio::awaitable<void> waitForever() {
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::hours(24));
    co_await t.async_wait(http::use_nothrow);
  }
  config::ProviderConfig cfg_;
};

// Records what the client was sent. `gone_after_chunks` > 0: the client vanishes when that many
// chunks were written.
class FakeSink final : public ResponseSink {
 public:
  int status = 0;
  std::string body;
  std::string head;  // header text of the last whole response
  std::vector<std::string> chunks;
  bool ended = false;
  int gone_after_chunks = 0;
  // When set: the value of *watch when the answer's last bytes went out (a whole response, or the
  // end of a chunked one); -1 before.
  const int* watch = nullptr;
  int watched_at_end = -1;

  asio::awaitable<bool> send(http::Response&& r) override {
    http::Response res = std::move(r);
    status = static_cast<int>(res.result_int());
    body = res.body();
    head.clear();
    for (const auto& f : res) head += std::string(f.name_string()) + ": " + std::string(f.value()) + "\r\n";
    if (watch) watched_at_end = *watch;
    co_return true;
  }
  asio::awaitable<bool> send(unsigned st, const http::HeadFields& fields, std::string_view b) override {
    status = static_cast<int>(st);
    body = std::string(b);
    head = std::string(fields.text());
    if (watch) watched_at_end = *watch;
    co_return true;
  }
  asio::awaitable<bool> beginChunked(bhttp::response<bhttp::empty_body>&& h) override {
    status = static_cast<int>(h.result_int());
    co_return true;
  }
  asio::awaitable<bool> sendChunk(std::string_view data) override {
    chunks.emplace_back(data);
    co_return !(gone_after_chunks > 0 && static_cast<int>(chunks.size()) >= gone_after_chunks);
  }
  asio::awaitable<bool> endChunked(const bhttp::fields*) override {
    ended = true;
    if (watch) watched_at_end = *watch;
    co_return true;
  }
};

// Keys: any request with "authorization: Bearer good" is key "k1"; admission as scripted.
class FakeKeyGate final : public KeyGate {
 public:
  bool admit_ok = true;
  int admits = 0;
  int settles = 0;
  bool settled_success = false;
  int64_t settled_tokens = 0;
  Nanos settled_cost = 0;

  Result<std::shared_ptr<const limits::KeyRecord>> authenticate(const http::Request& req) const override {
    if (req[http::bhttp::field::authorization] != "Bearer good")
      return fail(ErrorCode::kUnauthorized, "missing or unknown key");
    auto k = std::make_shared<limits::KeyRecord>();
    k->id = "k1";
    return std::shared_ptr<const limits::KeyRecord>(std::move(k));
  }
  asio::awaitable<limits::Admission> admit(const limits::KeyRecord& key, int64_t est_tokens, Nanos) override {
    ++admits;
    limits::Admission a;
    a.key_id = key.id;
    a.est_tokens = est_tokens;
    a.admitted = admit_ok;
    a.reserved = admit_ok;
    if (!admit_ok) {
      a.message = "budget exhausted";
      a.retry_after = std::chrono::seconds(7);
    }
    co_return a;
  }
  http::Response refusal(const limits::Admission& a, const ResponseShape*) const override {
    auto res = http::jsonResponse(429, R"({"error":{"message":")" + a.message + R"("}})");
    res.set(http::bhttp::field::retry_after, "7");
    return res;
  }
  void settle(const limits::Admission&, bool success, int64_t tokens, Nanos cost) override {
    ++settles;
    settled_success = success;
    settled_tokens = tokens;
    settled_cost = cost;
  }
};

class FakeRecorder final : public RequestRecorder {
 public:
  std::vector<ledger::LedgerRecord> rows;
  std::vector<ledger::ShadowGradeRecord> shadows;
  void record(ledger::LedgerRecord&& r, bool) override { rows.push_back(std::move(r)); }
  void recordShadow(ledger::ShadowGradeRecord&& g) override { shadows.push_back(std::move(g)); }
  bool storePrompts() const override { return false; }
};

// Providers: `remote` (openai kind), `local` (on_prem). Models: small/big on remote, onprem on
// local. Routes: auto (cheapest: small, big), vectors (fixed: small, big), cascade (cascade over
// small, big with a not_refusal check), remote_only (fixed: small), pinned (cheapest,
// pin_sessions), consensus (staged cascade: onprem and small must agree on a number, else big),
// vote3 (one agree stage of all three, min_votes 1).
inline constexpr const char* kConfig = R"(
providers:
  remote:
    kind: openai
    base_url: "http://remote.invalid/v1"
    retry: {max_attempts: 2, base_backoff_ms: 0, max_backoff_ms: 0}
    breaker: {failure_threshold: 3, open_for_ms: 1000}
  local:
    kind: openai
    base_url: "http://local.invalid/v1"
    locality: on_prem
    retry: {max_attempts: 1, base_backoff_ms: 0, max_backoff_ms: 0}
models:
  small: {provider: remote, id: small-id, input_usd_per_mtok: 1, output_usd_per_mtok: 2}
  big: {provider: remote, id: big-id, input_usd_per_mtok: 10, output_usd_per_mtok: 20}
  onprem: {provider: local, id: onprem-id, input_usd_per_mtok: 0, output_usd_per_mtok: 0}
routes:
  auto: {policy: cheapest, candidates: [small, big]}
  private: {policy: cheapest, candidates: [small, onprem], fallback: [big]}
  remote_only: {policy: fixed, candidates: [small]}
  vectors: {policy: fixed, candidates: [small, big]}
  pinned: {policy: cheapest, candidates: [small, big], pin_sessions: true}
  cascade:
    policy: cascade
    candidates: [small, big]
    cascade:
      checks:
        - {kind: not_refusal}
  consensus:
    policy: cascade
    candidates: [onprem, small, big]
    cascade:
      stages:
        - {kind: agree, models: [onprem, small], min_votes: 2, extract: number}
        - {kind: model, model: big}
  vote3:
    policy: cascade
    candidates: [onprem, small, big]
    cascade:
      stages:
        - {kind: agree, models: [onprem, small, big], min_votes: 1, extract: number}
)";

// Services over fake providers, a fake key gate and a fake recorder.
struct Fixture {
  FakeClock clock;
  std::map<std::string, FakeProvider*> fake;  // by provider name
  FakeKeyGate keys;
  FakeRecorder recorder;
  metrics::Registry registry;
  std::unique_ptr<metrics::GatewayMetrics> metrics;
  Services s;
  routing::MemorySessionPins* pins = nullptr;

  explicit Fixture(bool with_keys = true, const std::string& yaml = kConfig) {
    auto cfg = config::parseConfig(yaml, "pipeline-test.yaml",
                                   [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
    if (!cfg) ADD_FAILURE() << cfg.error().message;
    s.cfg = std::make_shared<const config::Config>(std::move(*cfg));
    for (const auto& [name, pc] : s.cfg->providers) {
      auto p = std::make_unique<FakeProvider>(pc);
      fake[name] = p.get();
      upstream::GuardedProvider gp;
      gp.provider = std::move(p);
      gp.breaker = std::make_unique<upstream::CircuitBreaker>(name, pc.breaker, clock.fn());
      s.providers.emplace(name, std::move(gp));
    }
    for (const auto& [name, rc] : s.cfg->routes) {
      auto rs = makeRouteState(*s.cfg, rc);
      if (!rs) ADD_FAILURE() << rs.error().message;
      else s.routes.emplace(name, std::move(*rs));
    }
    s.direct = std::make_unique<DirectDispatch>();
    auto memory_pins = std::make_unique<routing::MemorySessionPins>(std::chrono::minutes(10), 100, clock.fn());
    pins = memory_pins.get();
    auto policy = PolicyServices::make(*s.cfg, std::move(memory_pins));
    if (!policy) ADD_FAILURE() << policy.error().message;
    else s.policy = std::move(*policy);
    metrics = std::move(*metrics::GatewayMetrics::create(registry));
    s.metrics = metrics.get();
    s.recorder = &recorder;
    if (with_keys) s.keys = &keys;
  }
};

// A POST /v1/chat/completions request.
inline http::Request chatRequest(const std::string& body, bool with_key = true) {
  http::Request req{http::bhttp::verb::post, "/v1/chat/completions", 11};
  if (with_key) req.set(http::bhttp::field::authorization, "Bearer good");
  req.body() = body;
  return req;
}

// One chat request with its own sink and context, ready for a chain.
struct OneRequest {
  http::Request req;
  FakeSink sink;
  RequestContext ctx;
  explicit OneRequest(const std::string& body, bool with_key = true, const char* id = "req-1")
      : req(chatRequest(body, with_key)), ctx(req, sink, nullptr) {
    ctx.info.request_id = id;
  }
};

// Upstream calls made so far to the fixture's two providers, "remote" and "local".
inline int calls(Fixture& f) {
  return static_cast<int>(f.fake["remote"]->called.size() + f.fake["local"]->called.size());
}

inline std::string chatBody(const std::string& model, const std::string& extra = "") {
  return R"({"model":")" + model + R"(","messages":[{"role":"user","content":"What is 2+2?"}])" + extra + "}";
}

// Runs `a` on `io` to completion (every fake answers at once; nothing waits on the clock).
template <class T>
T runOn(asio::io_context& io, asio::awaitable<T> a) {
  std::optional<T> out;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { out = co_await std::move(a); }, asio::detached);
  io.run();
  io.restart();
  return std::move(*out);
}
inline void runOn(asio::io_context& io, asio::awaitable<void> a) {
  asio::co_spawn(io, std::move(a), asio::detached);
  io.run();
  io.restart();
}

}  // namespace rightsize::pipeline::testing
