#pragma once
// Circuit breaker for one provider: opens after N consecutive failures, stays open for a
// while, then lets one half-open probe through; the probe's outcome closes or re-opens it.
// Thread-safe. State changes are logged.

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

  CircuitBreaker(std::string name, config::BreakerConfig cfg, Clock clock = std::chrono::steady_clock::now);

  // May a call go to this provider now? In half-open state only one probe is let through
  // until it reports back.
  bool allow();
  // Whether allow() would say yes, without claiming the probe (for routing decisions).
  bool available() const;
  void onSuccess();
  void onFailure();
  State state() const;
  uint64_t opens() const;  // times the circuit has opened

  static const char* stateName(State s);

 private:
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
