#include "upstream/retry.h"

#include <algorithm>

#include "http/client.h"

namespace rightsize::upstream {

namespace {

asio::awaitable<void> sleepFor(Millis d) {
  if (d.count() <= 0) co_return;
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(http::use_nothrow);
}

CallError circuitOpen() {
  CallError ce;
  ce.error = Error{ErrorCode::kUnavailable, "circuit open", 0};
  return ce;
}

// One streamed attempt: the call, then its first event.
asio::awaitable<CallResult<StreamStart>> streamOnce(const GuardedProvider& gp, const ChatCall& call) {
  auto res = co_await gp.provider->stream(call);
  if (!res) co_return tl::unexpected(std::move(res.error()));
  auto ev = co_await (*res)->next();
  if (!ev) {
    CallError ce;
    ce.error = std::move(ev.error());
    ce.retryable = true;
    ce.breaker_failure = true;
    co_return tl::unexpected(std::move(ce));
  }
  co_return StreamStart{std::move(*res), std::move(*ev)};
}

template <typename T, typename CallOnce>
asio::awaitable<Retried<T>> withRetries(const GuardedProvider& gp, RetryObserver& obs, CallOnce call_once) {
  Retried<T> out{tl::unexpected(circuitOpen()), false};
  const config::RetryConfig& rc = gp.provider->config().retry;
  for (int attempt = 1; attempt <= rc.max_attempts; ++attempt) {
    CircuitBreaker::Permit permit = gp.breaker->allow();
    if (!permit) break;  // the first attempt: "circuit open"; later: the last error stands
    out.attempted = true;
    obs.onAttempt(attempt);
    CallResult<T> r = co_await call_once();
    if (r) {
      permit.succeeded();
      out.result = std::move(r);
      co_return out;
    }
    resolveFailure(permit, r.error());
    obs.onFailedAttempt(attempt, r.error());
    const bool fallback_ok = r.error().fallback_ok;
    const bool retryable = r.error().retryable;
    const std::optional<Millis> retry_after = r.error().retry_after;
    out.result = std::move(r);
    if (!fallback_ok || !retryable || attempt == rc.max_attempts) break;
    Millis wait = backoff(rc, attempt - 1);
    if (retry_after) {
      if (*retry_after > rc.max_retry_after) break;  // too long: the caller tries the next target now
      wait = *retry_after;
    }
    co_await sleepFor(wait);
  }
  co_return out;
}

}  // namespace

Millis backoff(const config::RetryConfig& r, int attempt_no, std::mt19937_64& gen) {
  const int64_t cap = std::min<int64_t>(r.max_backoff.count(), r.base_backoff.count() << std::min(attempt_no, 20));
  std::uniform_int_distribution<int64_t> dist(0, std::max<int64_t>(cap, 0));
  return Millis(dist(gen));
}

Millis backoff(const config::RetryConfig& r, int attempt_no) {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return backoff(r, attempt_no, gen);
}

std::string_view failureKind(const CallError& e) {
  return e.error.code == ErrorCode::kTimeout ? "timeout"
         : e.error.upstream_status == 429    ? "rate_limited"
         : e.error.upstream_status >= 500    ? "server_error"
         : e.error.upstream_status >= 400    ? "client_error"
                                             : "transport";
}

void resolveFailure(CircuitBreaker::Permit& permit, const CallError& e) {
  if (e.breaker_failure) permit.failed();
  else permit.released();
}

asio::awaitable<Retried<Completion>> completeWithRetries(const GuardedProvider& gp, const ChatCall& call,
                                                         RetryObserver& obs) {
  return withRetries<Completion>(gp, obs, [&gp, &call] { return gp.provider->complete(call); });
}

asio::awaitable<Retried<StreamStart>> streamWithRetries(const GuardedProvider& gp, const ChatCall& call,
                                                        RetryObserver& obs) {
  return withRetries<StreamStart>(gp, obs, [&gp, &call] { return streamOnce(gp, call); });
}

asio::awaitable<Retried<Completion>> embedWithRetries(const GuardedProvider& gp, const EmbeddingsCall& call,
                                                      RetryObserver& obs) {
  return withRetries<Completion>(gp, obs, [&gp, &call] { return gp.provider->embed(call); });
}

asio::awaitable<Retried<Completion>> completeOnce(const GuardedProvider& gp, const ChatCall& call) {
  Retried<Completion> out{tl::unexpected(circuitOpen()), false};
  CircuitBreaker::Permit permit = gp.breaker->allow();
  if (!permit) co_return out;
  out.attempted = true;
  out.result = co_await gp.provider->complete(call);
  if (out.result) permit.succeeded();
  else resolveFailure(permit, out.result.error());
  co_return out;
}

}  // namespace rightsize::upstream
