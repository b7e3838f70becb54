#pragma once
// Session pinning: requests of one session stay on the model first chosen for them, so a
// provider's prompt cache stays warm. A pin is (route, session) -> model name, with a TTL that
// restarts at every use.
//
// SessionPins is the store interface, chosen once at startup (src/server/gateway.cc):
// MemorySessionPins keeps pins in this process (bounded, least recently used evicted first);
// server::RedisSessionPins shares them between replicas (limits.kind: redis). Thread-safe.

#include <chrono>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>

namespace rightsize::routing {

class SessionPins {
 public:
  virtual ~SessionPins() = default;
  // The model pinned for (route, session), and its TTL restarted; nullopt if none, expired, or
  // the store cannot answer now (pinning degrades; a request never fails because of it). The
  // views must live until the returned awaitable completes.
  virtual boost::asio::awaitable<std::optional<std::string>> lookup(std::string_view route,
                                                                    std::string_view session) = 0;
  // Pins (route, session) to `model` (replacing any pin) for the TTL.
  virtual void put(std::string_view route, std::string_view session, std::string_view model) = 0;
  // Drops a pin (its model is gone from the route, or forbidden for this request).
  virtual void erase(std::string_view route, std::string_view session) = 0;
};

class MemorySessionPins final : public SessionPins {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  // `max_entries` >= 1. `clock` defaults to steady_clock::now (tests inject a fake).
  MemorySessionPins(std::chrono::milliseconds ttl, size_t max_entries, Clock clock = {});

  // lookup() without suspending.
  std::optional<std::string> get(std::string_view route, std::string_view session);
  boost::asio::awaitable<std::optional<std::string>> lookup(std::string_view route, std::string_view session) override;
  void put(std::string_view route, std::string_view session, std::string_view model) override;
  void erase(std::string_view route, std::string_view session) override;
  size_t size() const;

 private:
  struct Pin {
    std::string key;
    std::string model;
    std::chrono::steady_clock::time_point expires;
  };
  static std::string keyOf(std::string_view route, std::string_view session);

  const std::chrono::milliseconds ttl_;
  const size_t max_entries_;
  Clock clock_;
  mutable std::mutex mu_;
  std::list<Pin> lru_;  // most recently used first
  std::unordered_map<std::string, std::list<Pin>::iterator> index_;
};

}  // namespace rightsize::routing
