#include "upstream/breaker.h"

#include <utility>

#include <spdlog/spdlog.h>

namespace rightsize::upstream {

CircuitBreaker::CircuitBreaker(std::string name, config::BreakerConfig cfg, Clock clock)
    : name_(std::move(name)), cfg_(cfg), clock_(std::move(clock)) {}

const char* CircuitBreaker::stateName(State s) {
  switch (s) {
    case State::kClosed: return "closed";
    case State::kOpen: return "open";
    case State::kHalfOpen: return "half_open";
  }
  return "closed";
}

void CircuitBreaker::refresh(std::chrono::steady_clock::time_point now) const {
  if (state_ == State::kOpen && now - opened_at_ >= cfg_.open_for) {
    state_ = State::kHalfOpen;
    spdlog::info("provider {}: circuit half-open, letting one probe through", name_);
  }
}

CircuitBreaker::Permit& CircuitBreaker::Permit::operator=(Permit&& o) noexcept {
  if (this != &o) {
    released();
    breaker_ = o.breaker_;
    probe_ = o.probe_;
    o.breaker_ = nullptr;
  }
  return *this;
}

void CircuitBreaker::Permit::succeeded() {
  if (auto* b = std::exchange(breaker_, nullptr)) b->onSuccess();
}

void CircuitBreaker::Permit::failed() {
  if (auto* b = std::exchange(breaker_, nullptr)) b->onFailure();
}

void CircuitBreaker::Permit::released() {
  if (auto* b = std::exchange(breaker_, nullptr)) b->onRelease(probe_);
}

CircuitBreaker::Permit CircuitBreaker::allow() {
  std::lock_guard lock(mu_);
  refresh(clock_());
  switch (state_) {
    case State::kClosed: return Permit(this, false);
    case State::kOpen: return Permit();
    case State::kHalfOpen:
      if (probe_in_flight_) return Permit();
      probe_in_flight_ = true;
      return Permit(this, true);
  }
  return Permit();
}

void CircuitBreaker::onRelease(bool probe) {
  if (!probe) return;
  std::lock_guard lock(mu_);
  // The probe told nothing: the circuit stays half-open and the next call probes.
  if (state_ == State::kHalfOpen) probe_in_flight_ = false;
}

bool CircuitBreaker::available() const {
  std::lock_guard lock(mu_);
  refresh(clock_());
  return state_ == State::kClosed || (state_ == State::kHalfOpen && !probe_in_flight_);
}

void CircuitBreaker::onSuccess() {
  std::lock_guard lock(mu_);
  if (state_ != State::kClosed) spdlog::info("provider {}: circuit closed (probe succeeded)", name_);
  state_ = State::kClosed;
  failures_ = 0;
  probe_in_flight_ = false;
}

void CircuitBreaker::onFailure() {
  std::lock_guard lock(mu_);
  auto now = clock_();
  refresh(now);
  ++failures_;
  if (state_ == State::kHalfOpen || (state_ == State::kClosed && failures_ >= cfg_.failure_threshold)) {
    spdlog::warn("provider {}: circuit open for {} ms after {} consecutive failure(s)", name_, cfg_.open_for.count(),
                 failures_);
    state_ = State::kOpen;
    opened_at_ = now;
    probe_in_flight_ = false;
    ++opens_;
  }
}

CircuitBreaker::State CircuitBreaker::state() const {
  std::lock_guard lock(mu_);
  refresh(clock_());
  return state_;
}

uint64_t CircuitBreaker::opens() const {
  std::lock_guard lock(mu_);
  return opens_;
}

}  // namespace rightsize::upstream
