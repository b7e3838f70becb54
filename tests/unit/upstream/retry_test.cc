// Retries and the breaker's contract through upstream::*WithRetries: every outcome of a call the
// breaker let through reports back — success, 5xx, timeout, 429, 4xx, a stream broken before its
// first event, and cancellation — so a half-open circuit never waits for a probe that is gone.
#include "upstream/retry.h"

#include <deque>

#include <gtest/gtest.h>

#include "http/asio.h"
#include "unit/fake_clock.h"

namespace rightsize::upstream {
namespace {

namespace asio = boost::asio;

enum class Outcome { kOk, k500, kTimeout, k429, k400, kStreamBreaks, kHang };

class ScriptedStream final : public ChatStream {
 public:
  explicit ScriptedStream(bool breaks) : breaks_(breaks) {}
  asio::awaitable<Result<std::optional<std::string>>> next() override {
    if (breaks_) co_return fail(ErrorCode::kUpstreamError, "reset");
    co_return std::optional<std::string>("{}");
  }

 private:
  bool breaks_;
};

class ScriptedProvider final : public Provider {
 public:
  explicit ScriptedProvider(config::ProviderConfig cfg) : cfg_(std::move(cfg)) {}
  std::deque<Outcome> script;
  int calls = 0;

  asio::awaitable<CallResult<Completion>> complete(const ChatCall&) override {
    const Outcome o = take();
    if (o == Outcome::kHang) co_await hangForever();
    if (auto e = errorOf(o)) co_return tl::unexpected(*e);
    co_return Completion{"{}", std::nullopt};
  }
  asio::awaitable<CallResult<std::unique_ptr<ChatStream>>> stream(const ChatCall&) override {
    const Outcome o = take();
    if (o == Outcome::kHang) co_await hangForever();
    if (auto e = errorOf(o)) co_return tl::unexpected(*e);
    co_return std::unique_ptr<ChatStream>(std::make_unique<ScriptedStream>(o == Outcome::kStreamBreaks));
  }
  const config::ProviderConfig& config() const override { return cfg_; }

 private:
  Outcome take() {
    ++calls;
    if (script.empty()) return Outcome::kOk;
    Outcome o = script.front();
    script.pop_front();
    return o;
  }
  static std::optional<CallError> errorOf(Outcome o) {
    switch (o) {
      case Outcome::k500: return statusError("p", 500, "{}", std::nullopt);
      case Outcome::k429: return statusError("p", 429, "{}", std::nullopt);
      case Outcome::k400: return statusError("p", 400, "{}", std::nullopt);
      case Outcome::kTimeout: {
        CallError e;
        e.error = Error{ErrorCode::kTimeout, "timed out", 0};
        e.retryable = true;
        e.breaker_failure = true;
        return e;
      }
      default: return std::nullopt;
    }
  }
  static asio::awaitable<void> hangForever() {
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::hours(24));
    co_await t.async_wait(http::use_nothrow);
  }
  config::ProviderConfig cfg_;
};

class CountingObserver final : public RetryObserver {
 public:
  int attempts = 0;
  int failures = 0;
  void onAttempt(int) override { ++attempts; }
  void onFailedAttempt(int, const CallError&) override { ++failures; }
};

// A provider with `max_attempts` and no backoff whose breaker opens after one failure and is
// half-open again once the clock moved 100 ms.
struct Rig {
  FakeClock clock;
  GuardedProvider gp;
  ScriptedProvider* p = nullptr;
  ChatCall call;
  api::ChatRequest req;
  explicit Rig(int max_attempts = 1) {
    config::ProviderConfig pc;
    pc.name = "p";
    pc.retry.max_attempts = max_attempts;
    pc.retry.base_backoff = Millis(0);
    pc.retry.max_backoff = Millis(0);
    auto sp = std::make_unique<ScriptedProvider>(pc);
    p = sp.get();
    gp.provider = std::move(sp);
    gp.breaker = std::make_unique<CircuitBreaker>("p", config::BreakerConfig{1, Millis(100)}, clock.fn());
    call.request = &req;
  }
  // Opens the circuit with one failure, then lets the wait pass: the next call is the probe.
  void halfOpen() {
    p->script.push_back(Outcome::k500);
    complete();
    EXPECT_EQ(gp.breaker->state(), CircuitBreaker::State::kOpen);
    clock.now += Millis(100);
    EXPECT_EQ(gp.breaker->state(), CircuitBreaker::State::kHalfOpen);
  }
  Retried<Completion> complete() {
    asio::io_context io;
    CountingObserver obs;
    std::optional<Retried<Completion>> out;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { out = co_await completeWithRetries(gp, call, obs); },
                   asio::detached);
    io.run();
    return std::move(*out);
  }
  Retried<StreamStart> stream() {
    asio::io_context io;
    CountingObserver obs;
    std::optional<Retried<StreamStart>> out;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { out = co_await streamWithRetries(gp, call, obs); },
                   asio::detached);
    io.run();
    return std::move(*out);
  }
};

TEST(RetriedCall, RetriesARetryableErrorUpToMaxAttempts) {
  Rig rig(3);
  rig.gp.breaker = std::make_unique<CircuitBreaker>("p", config::BreakerConfig{5, Millis(100)}, rig.clock.fn());
  rig.p->script = {Outcome::k500, Outcome::k429};
  auto r = rig.complete();
  EXPECT_TRUE(r.result);
  EXPECT_EQ(rig.p->calls, 3);
}

TEST(RetriedCall, DoesNotRetryARequestTheUpstreamRejected) {
  Rig rig(3);
  rig.p->script = {Outcome::k400};
  auto r = rig.complete();
  ASSERT_FALSE(r.result);
  EXPECT_FALSE(r.result.error().fallback_ok);
  EXPECT_EQ(rig.p->calls, 1);
}

TEST(RetriedCall, AnOpenCircuitSendsNothing) {
  Rig rig;
  rig.p->script = {Outcome::k500};
  (void)rig.complete();
  ASSERT_EQ(rig.gp.breaker->state(), CircuitBreaker::State::kOpen);
  auto r = rig.complete();
  EXPECT_FALSE(r.attempted);
  ASSERT_FALSE(r.result);
  EXPECT_EQ(r.result.error().error.code, ErrorCode::kUnavailable);
  EXPECT_EQ(rig.p->calls, 1);
}

TEST(BreakerContract, ASuccessfulProbeCloses) {
  Rig rig;
  rig.halfOpen();
  EXPECT_TRUE(rig.complete().result);
  EXPECT_EQ(rig.gp.breaker->state(), CircuitBreaker::State::kClosed);
}

TEST(BreakerContract, A5xxProbeReopens) {
  Rig rig;
  rig.halfOpen();
  rig.p->script = {Outcome::k500};
  (void)rig.complete();
  EXPECT_EQ(rig.gp.breaker->state(), CircuitBreaker::State::kOpen);
}

TEST(BreakerContract, ATimedOutProbeReopens) {
  Rig rig;
  rig.halfOpen();
  rig.p->script = {Outcome::kTimeout};
  (void)rig.complete();
  EXPECT_EQ(rig.gp.breaker->state(), CircuitBreaker::State::kOpen);
}

TEST(BreakerContract, A429Or4xxProbeHandsTheProbeBack) {
  // Before: these outcomes never reported, the probe stayed "in flight" forever and the provider
  // was excluded until restart while /readyz (half-open) called it up.
  for (Outcome o : {Outcome::k429, Outcome::k400}) {
    Rig rig;
    rig.halfOpen();
    rig.p->script = {o};
    (void)rig.complete();
    EXPECT_EQ(rig.gp.breaker->state(), CircuitBreaker::State::kHalfOpen);
    EXPECT_TRUE(rig.gp.breaker->available());
    EXPECT_TRUE(rig.complete().result);  // the next call probes, and closes it
    EXPECT_EQ(rig.gp.breaker->state(), CircuitBreaker::State::kClosed);
  }
}

TEST(BreakerContract, AStreamThatBreaksBeforeItsFirstEventIsAFailure) {
  Rig rig;
  rig.halfOpen();
  rig.p->script = {Outcome::kStreamBreaks};
  auto r = rig.stream();
  EXPECT_FALSE(r.result);
  EXPECT_EQ(rig.gp.breaker->state(), CircuitBreaker::State::kOpen);
}

TEST(BreakerContract, AStreamWhoseFirstEventArrivedIsASuccess) {
  Rig rig;
  rig.halfOpen();
  auto r = rig.stream();
  ASSERT_TRUE(r.result);
  EXPECT_EQ(r.result->first_event, "{}");
  EXPECT_EQ(rig.gp.breaker->state(), CircuitBreaker::State::kClosed);
}

TEST(BreakerContract, ACancelledProbeHandsTheProbeBack) {
  Rig rig;
  rig.halfOpen();
  rig.p->script = {Outcome::kHang};
  {
    asio::io_context io;
    CountingObserver obs;
    asio::co_spawn(io, completeWithRetries(rig.gp, rig.call, obs), asio::detached);
    io.poll();
    EXPECT_EQ(rig.p->calls, 2);
    EXPECT_FALSE(rig.gp.breaker->available());  // the probe is out
  }  // destroying the context destroys the suspended call: its permit is released
  EXPECT_EQ(rig.gp.breaker->state(), CircuitBreaker::State::kHalfOpen);
  EXPECT_TRUE(rig.gp.breaker->available());
}

TEST(Backoff, IsFullJitterUnderTheCap) {
  config::RetryConfig rc;
  rc.base_backoff = Millis(100);
  rc.max_backoff = Millis(300);
  std::mt19937_64 gen(42);
  for (int attempt = 0; attempt < 6; ++attempt) {
    const Millis cap = std::min(Millis(300), Millis(100 << attempt));
    for (int i = 0; i < 50; ++i) {
      const Millis b = backoff(rc, attempt, gen);
      EXPECT_GE(b.count(), 0);
      EXPECT_LE(b, cap);
    }
  }
}

TEST(FailureKind, LabelsEachKindOfFailure) {
  EXPECT_EQ(failureKind(statusError("p", 429, "{}", std::nullopt)), "rate_limited");
  EXPECT_EQ(failureKind(statusError("p", 503, "{}", std::nullopt)), "server_error");
  EXPECT_EQ(failureKind(statusError("p", 401, "{}", std::nullopt)), "client_error");
  EXPECT_EQ(failureKind(statusError("p", 408, "{}", std::nullopt)), "timeout");
  EXPECT_EQ(failureKind(CallError{}), "transport");
}

}  // namespace
}  // namespace rightsize::upstream
