#pragma once
// Session pins in Redis (limits.kind: redis), so every replica keeps a session on the same
// model. Uses the limits library's blocking RedisConnection on a worker thread of its own;
// io threads only queue jobs and await their results. A pin is one key
// "rightsize:pin:<route>\x1f<session>" holding the model name, with a TTL renewed at every read
// (GETEX ... PX). Redis unreachable or the queue full: lookups answer "no pin" (the request is
// routed afresh), writes are dropped — pinning degrades, requests never fail because of it.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "config/config.h"
#include "http/asio.h"
#include "routing/session_pins.h"

namespace rightsize::limits {
class RedisConnection;
class BlockingWorker;
}  // namespace rightsize::limits

namespace rightsize::server {

class RedisSessionPins final : public routing::SessionPins {
 public:
  // Fails only on a bad URL (the connection is made lazily, on first use).
  static Result<std::unique_ptr<RedisSessionPins>> make(const config::LimitsConfig& limits,
                                                        std::chrono::milliseconds ttl);
  ~RedisSessionPins();

  boost::asio::awaitable<std::optional<std::string>> lookup(std::string_view route,
                                                            std::string_view session) override;
  void put(std::string_view route, std::string_view session, std::string_view model) override;
  void erase(std::string_view route, std::string_view session) override;

 private:
  RedisSessionPins() = default;
  std::chrono::milliseconds ttl_{0};
  std::unique_ptr<limits::RedisConnection> conn_;  // worker thread only
  std::unique_ptr<limits::BlockingWorker> worker_;
};

}  // namespace rightsize::server
