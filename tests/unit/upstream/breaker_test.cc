#include "upstream/breaker.h"

#include <gtest/gtest.h>

#include "upstream/provider.h"

namespace rightsize::upstream {
namespace {

struct FakeClock {
  std::chrono::steady_clock::time_point now{};
  CircuitBreaker::Clock fn() {
    return [this] { return now; };
  }
};

TEST(CircuitBreaker, OpensAfterThresholdAndLetsOneProbeThroughLater) {
  FakeClock clock;
  CircuitBreaker b("p", config::BreakerConfig{3, std::chrono::milliseconds(1000)}, clock.fn());
  EXPECT_TRUE(b.allow());
  b.onFailure();
  b.onFailure();
  EXPECT_EQ(b.state(), CircuitBreaker::State::kClosed);
  b.onFailure();
  EXPECT_EQ(b.state(), CircuitBreaker::State::kOpen);
  EXPECT_FALSE(b.allow());
  EXPECT_FALSE(b.available());
  clock.now += std::chrono::milliseconds(999);
  EXPECT_FALSE(b.allow());
  clock.now += std::chrono::milliseconds(1);
  EXPECT_EQ(b.state(), CircuitBreaker::State::kHalfOpen);
  EXPECT_TRUE(b.available());
  EXPECT_TRUE(b.allow());   // the probe
  EXPECT_FALSE(b.allow());  // only one
  b.onSuccess();
  EXPECT_EQ(b.state(), CircuitBreaker::State::kClosed);
  EXPECT_EQ(b.opens(), 1u);
}

TEST(CircuitBreaker, FailedProbeReopens) {
  FakeClock clock;
  CircuitBreaker b("p", config::BreakerConfig{1, std::chrono::milliseconds(100)}, clock.fn());
  b.onFailure();
  clock.now += std::chrono::milliseconds(100);
  ASSERT_TRUE(b.allow());
  b.onFailure();
  EXPECT_EQ(b.state(), CircuitBreaker::State::kOpen);
  EXPECT_EQ(b.opens(), 2u);
}

TEST(CircuitBreaker, SuccessResetsConsecutiveCount) {
  FakeClock clock;
  CircuitBreaker b("p", config::BreakerConfig{2, std::chrono::milliseconds(100)}, clock.fn());
  b.onFailure();
  b.onSuccess();
  b.onFailure();
  EXPECT_EQ(b.state(), CircuitBreaker::State::kClosed);
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
