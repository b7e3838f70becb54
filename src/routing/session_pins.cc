#include "routing/session_pins.h"

namespace rightsize::routing {

MemorySessionPins::MemorySessionPins(std::chrono::milliseconds ttl, size_t max_entries, Clock clock)
    : ttl_(ttl), max_entries_(max_entries == 0 ? 1 : max_entries), clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::steady_clock::now(); };
}

std::string MemorySessionPins::keyOf(std::string_view route, std::string_view session) {
  std::string k;
  k.reserve(route.size() + 1 + session.size());
  k += route;
  k.push_back('\x1f');  // cannot appear in a route name
  k += session;
  return k;
}

std::optional<std::string> MemorySessionPins::get(std::string_view route, std::string_view session) {
  const std::string key = keyOf(route, session);
  const auto now = clock_();
  std::lock_guard lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  if (it->second->expires <= now) {
    lru_.erase(it->second);
    index_.erase(it);
    return std::nullopt;
  }
  it->second->expires = now + ttl_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->model;
}

boost::asio::awaitable<std::optional<std::string>> MemorySessionPins::lookup(std::string_view route,
                                                                            std::string_view session) {
  co_return get(route, session);
}

void MemorySessionPins::put(std::string_view route, std::string_view session, std::string_view model) {
  std::string key = keyOf(route, session);
  const auto now = clock_();
  std::lock_guard lock(mu_);
  if (auto it = index_.find(key); it != index_.end()) {
    it->second->model = std::string(model);
    it->second->expires = now + ttl_;
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  // Expired pins at the cold end go first, then the least recently used.
  while (!lru_.empty() && (index_.size() >= max_entries_ || lru_.back().expires <= now)) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
  lru_.push_front(Pin{key, std::string(model), now + ttl_});
  index_.emplace(std::move(key), lru_.begin());
}

void MemorySessionPins::erase(std::string_view route, std::string_view session) {
  const std::string key = keyOf(route, session);
  std::lock_guard lock(mu_);
  if (auto it = index_.find(key); it != index_.end()) {
    lru_.erase(it->second);
    index_.erase(it);
  }
}

size_t MemorySessionPins::size() const {
  std::lock_guard lock(mu_);
  return index_.size();
}

}  // namespace rightsize::routing
