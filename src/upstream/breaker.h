#pragma once
// Circuit breaker for one provider: opens after N consecutive failures, stays open for a
// while, then lets one half-open probe through; the probe's outcome closes or re-opens it.
// Thread-safe. State changes are logged.
//
// The contract, enforced by the type: every call the breaker lets through holds a Permit, and
// every Permit reports exactly one outcome —
//   succeeded()  the provider answered (the call worked): closes a half-open circuit, resets the
//                consecutive-failure count;
//   failed()     the provider is unwell (connect error, timeout, 5xx, 408, a stream that broke
//                before its first event): counts toward opening, re-opens a half-open circuit;
//   released()   the outcome says nothing about the provider's health (429, 4xx, a request the
//                gateway gave up on): no count either way; a half-open probe is handed back so
//                the next call probes.
// A Permit destroyed unresolved (the coroutine holding it was cancelled, the client went away,
// an early return) is released(). So no outcome — any status, any error, timeout, cancellation,
// client gone — can leave a half-open circuit waiting for a probe that never reports, and
// state() (what /readyz shows) is always what the next allow() would act on.

#include <chrono>
#include <functional>
#include <mutex>
#include <string>

#include "config/config.h"

namespace rightsize::upstream {

class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // Permission for one call, move-only. Empty (false) when the breaker refused the call.
  class [[nodiscard]] Permit {
   public:
    Permit() = default;
    Permit(Permit&& o) noexcept : breaker_(o.breaker_), probe_(o.probe_) { o.breaker_ = nullptr; }
    Permit& operator=(Permit&& o) noexcept;
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit() { released(); }

    explicit operator bool() const { return breaker_ != nullptr; }
    // True for the half-open probe.
    bool probe() const { return probe_; }
    // Resolve the permit (see the header comment). The first call resolves; later calls, and
    // calls on an empty permit, do nothing.
    void succeeded();
    void failed();
    void released();

   private:
    friend class CircuitBreaker;
    Permit(CircuitBreaker* b, bool probe) : breaker_(b), probe_(probe) {}
    CircuitBreaker* breaker_ = nullptr;
    bool probe_ = false;
  };

  CircuitBreaker(std::string name, config::BreakerConfig cfg, Clock clock = std::chrono::steady_clock::now);

  // May a call go to this provider now? In half-open state only one probe is let through
  // until its permit resolves. The breaker must outlive the permit.
  Permit allow();
  // Whether allow() would say yes, without claiming the probe (for routing decisions).
  bool available() const;
  State state() const;
  uint64_t opens() const;  // times the circuit has opened

  static const char* stateName(State s);

 private:
  void onSuccess();
  void onFailure();
  void onRelease(bool probe);
  void refresh(std::chrono::steady_clock::time_point now) const;  // open -> half-open after the wait

  const std::string name_;
  const config::BreakerConfig cfg_;
  const Clock clock_;
  mutable std::mutex mu_;
  mutable State state_ = State::kClosed;  // guarded by mu_
  int failures_ = 0;
  bool probe_in_flight_ = false;
  uint64_t opens_ = 0;
  std::chrono::steady_clock::time_point opened_at_{};
};

}  // namespace rightsize::upstream
