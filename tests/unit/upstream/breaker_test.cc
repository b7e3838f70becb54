#include "upstream/breaker.h"

#include <gtest/gtest.h>

#include "unit/fake_clock.h"
#include "upstream/provider.h"

namespace rightsize::upstream {
namespace {

// Fails one call through the breaker (a permit that reports failure).
void failOnce(CircuitBreaker& b) {
  auto p = b.allow();
  ASSERT_TRUE(p);
  p.failed();
}

TEST(CircuitBreaker, OpensAfterThresholdAndLetsOneProbeThroughLater) {
  FakeClock clock;
  CircuitBreaker b("p", config::BreakerConfig{3, std::chrono::milliseconds(1000)}, clock.fn());
  EXPECT_TRUE(b.allow());
  failOnce(b);
  failOnce(b);
  EXPECT_EQ(b.state(), CircuitBreaker::State::kClosed);
  failOnce(b);
  EXPECT_EQ(b.state(), CircuitBreaker::State::kOpen);
  EXPECT_FALSE(b.allow());
  EXPECT_FALSE(b.available());
  clock.now += std::chrono::milliseconds(999);
  EXPECT_FALSE(b.allow());
  clock.now += std::chrono::milliseconds(1);
  EXPECT_EQ(b.state(), CircuitBreaker::State::kHalfOpen);
  EXPECT_TRUE(b.available());
  auto probe = b.allow();  // the probe
  EXPECT_TRUE(probe);
  EXPECT_TRUE(probe.probe());
  EXPECT_FALSE(b.allow());  // only one
  probe.succeeded();
  EXPECT_EQ(b.state(), CircuitBreaker::State::kClosed);
  EXPECT_EQ(b.opens(), 1u);
}

TEST(CircuitBreaker, FailedProbeReopens) {
  FakeClock clock;
  CircuitBreaker b("p", config::BreakerConfig{1, std::chrono::milliseconds(100)}, clock.fn());
  failOnce(b);
  clock.now += std::chrono::milliseconds(100);
  auto probe = b.allow();
  ASSERT_TRUE(probe);
  probe.failed();
  EXPECT_EQ(b.state(), CircuitBreaker::State::kOpen);
  EXPECT_EQ(b.opens(), 2u);
}

TEST(CircuitBreaker, SuccessResetsConsecutiveCount) {
  FakeClock clock;
  CircuitBreaker b("p", config::BreakerConfig{2, std::chrono::milliseconds(100)}, clock.fn());
  failOnce(b);
  b.allow().succeeded();
  failOnce(b);
  EXPECT_EQ(b.state(), CircuitBreaker::State::kClosed);
}

// A half-open breaker with its probe out: the fixture of the outcome tests below.
struct HalfOpen {
  FakeClock clock;
  CircuitBreaker b{"p", config::BreakerConfig{1, std::chrono::milliseconds(100)}, clock.fn()};
  HalfOpen() {
    failOnce(b);
    clock.now += std::chrono::milliseconds(100);
  }
};

TEST(CircuitBreaker, ReleasedProbeHandsTheProbeBackWithoutClosingOrOpening) {
  // e.g. the probe got a 429 or a 400: nothing learned about the provider's health.
  HalfOpen h;
  auto probe = h.b.allow();
  ASSERT_TRUE(probe);
  EXPECT_FALSE(h.b.available());
  probe.released();
  EXPECT_EQ(h.b.state(), CircuitBreaker::State::kHalfOpen);
  EXPECT_TRUE(h.b.available());
  EXPECT_TRUE(h.b.allow());  // the next call probes
  EXPECT_EQ(h.b.opens(), 1u);
}

TEST(CircuitBreaker, ProbeDestroyedUnresolvedIsReleased) {
  // The coroutine holding the probe was cancelled, or the client went away before an outcome.
  HalfOpen h;
  {
    auto probe = h.b.allow();
    ASSERT_TRUE(probe);
  }
  EXPECT_EQ(h.b.state(), CircuitBreaker::State::kHalfOpen);
  auto next = h.b.allow();
  ASSERT_TRUE(next);
  next.succeeded();
  EXPECT_EQ(h.b.state(), CircuitBreaker::State::kClosed);
}

TEST(CircuitBreaker, AMovedPermitResolvesOnceFromItsNewOwner) {
  HalfOpen h;
  auto probe = h.b.allow();
  CircuitBreaker::Permit moved = std::move(probe);
  EXPECT_FALSE(probe);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  probe.failed();       // empty: no effect
  EXPECT_EQ(h.b.state(), CircuitBreaker::State::kHalfOpen);
  moved.succeeded();
  moved.failed();       // already resolved: no effect
  EXPECT_EQ(h.b.state(), CircuitBreaker::State::kClosed);
}

TEST(CircuitBreaker, ReleasedClosedPermitsNeitherCountNorReset) {
  FakeClock clock;
  CircuitBreaker b("p", config::BreakerConfig{2, std::chrono::milliseconds(100)}, clock.fn());
  failOnce(b);
  b.allow().released();
  { auto dropped = b.allow(); }
  EXPECT_EQ(b.state(), CircuitBreaker::State::kClosed);
  failOnce(b);  // the second consecutive failure: the releases in between did not reset the count
  EXPECT_EQ(b.state(), CircuitBreaker::State::kOpen);
}

TEST(RetryAfter, ParsesSecondsAndRejectsJunk) {
  EXPECT_EQ(parseRetryAfter("2"), std::chrono::milliseconds(2000));
  EXPECT_EQ(parseRetryAfter(" 0.5 "), std::chrono::milliseconds(500));
  EXPECT_FALSE(parseRetryAfter("soon"));
  EXPECT_FALSE(parseRetryAfter(""));
  EXPECT_FALSE(parseRetryAfter("-1"));
  auto past = parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT");
  ASSERT_TRUE(past);
  EXPECT_EQ(past->count(), 0);
}

TEST(StatusError, ClassifiesRetryAndFallback) {
  auto e429 = statusError("p", 429, R"({"error":{"message":"slow down"}})", std::chrono::milliseconds(1000));
  EXPECT_TRUE(e429.retryable);
  EXPECT_FALSE(e429.breaker_failure);
  EXPECT_TRUE(e429.fallback_ok);
  EXPECT_EQ(e429.error.message, "upstream p returned 429: slow down");
  auto e500 = statusError("p", 500, "oops", std::nullopt);
  EXPECT_TRUE(e500.retryable);
  EXPECT_TRUE(e500.breaker_failure);
  auto e400 = statusError("p", 400, "{}", std::nullopt);
  EXPECT_FALSE(e400.retryable);
  EXPECT_FALSE(e400.fallback_ok);
  auto e401 = statusError("p", 401, "{}", std::nullopt);
  EXPECT_FALSE(e401.retryable);
  EXPECT_TRUE(e401.fallback_ok);
  EXPECT_EQ(e401.error.upstream_status, 401);
}

}  // namespace
}  // namespace rightsize::upstream
