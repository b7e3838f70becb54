#pragma once
// Calls to one provider with retries, full-jitter backoff and its circuit breaker: the
// mechanics of "try this provider again", shared by every dispatch strategy
// (src/pipeline/dispatch*.h). Which provider to try next, and what to tell the client, is the
// caller's business.

#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "config/config.h"
#include "upstream/breaker.h"
#include "upstream/provider.h"

namespace rightsize::upstream {

// A provider and its breaker: every call to `provider` goes through `breaker` (breaker.h).
struct GuardedProvider {
  std::unique_ptr<Provider> provider;
  std::unique_ptr<CircuitBreaker> breaker;
};

// Full-jitter exponential backoff before retry number `attempt_no` (0 for the first retry):
// uniform in [0, min(max_backoff, base_backoff * 2^attempt_no)].
Millis backoff(const config::RetryConfig& r, int attempt_no, std::mt19937_64& gen);
// The same with a per-thread generator seeded from std::random_device.
Millis backoff(const config::RetryConfig& r, int attempt_no);

// The metrics label of a failed call: "timeout", "rate_limited", "server_error",
// "client_error" or "transport".
std::string_view failureKind(const CallError& e);

// Resolves `permit` with a failed call's outcome: breaker_failure -> failed(), anything else
// (429, 4xx, ...) -> released() (breaker.h).
void resolveFailure(CircuitBreaker::Permit& permit, const CallError& e);

// Hears about each attempt of a retried call (metrics, the request's record). Called on the
// calling coroutine's thread.
class RetryObserver {
 public:
  virtual ~RetryObserver() = default;
  // Before attempt `attempt_no` (from 1) goes out.
  virtual void onAttempt(int attempt_no) = 0;
  // After attempt `attempt_no` failed with `e` (already reported to the breaker).
  virtual void onFailedAttempt(int attempt_no, const CallError& e) = 0;
};

// An accepted stream, with its first event already read (nullopt: the stream ended at once).
struct StreamStart {
  std::unique_ptr<ChatStream> stream;
  std::optional<std::string> first_event;
};

template <typename T>
struct Retried {
  CallResult<T> result;
  bool attempted = false;  // false: the circuit was open, no call went out
};

// Calls `gp` up to its retry.max_attempts times: again while the error is retryable and the
// breaker allows, after a full-jitter backoff or the upstream's Retry-After (one longer than
// retry.max_retry_after gives up on this provider at once). A !fallback_ok error (the request
// itself is bad) is returned at once. Every attempt holds a breaker permit resolved by its
// outcome; a cancelled call's permit is released (breaker.h). `call` and `obs` must outlive the
// returned awaitable.
asio::awaitable<Retried<Completion>> completeWithRetries(const GuardedProvider& gp, const ChatCall& call,
                                                         RetryObserver& obs);
// The same for a streamed call. A stream counts as accepted (the permit succeeds) once its first
// event arrived: an upstream that fails right after its head is a failed, retryable attempt.
asio::awaitable<Retried<StreamStart>> streamWithRetries(const GuardedProvider& gp, const ChatCall& call,
                                                        RetryObserver& obs);

// The same for an Embeddings call (Provider::embed).
asio::awaitable<Retried<Completion>> embedWithRetries(const GuardedProvider& gp, const EmbeddingsCall& call,
                                                      RetryObserver& obs);

// One call, no retry, through the breaker: what a cascade does per target (escalating is its
// retry). A refused call is kUnavailable "circuit open" with attempted false.
asio::awaitable<Retried<Completion>> completeOnce(const GuardedProvider& gp, const ChatCall& call);

}  // namespace rightsize::upstream
