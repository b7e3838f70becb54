#include "server/redis_session_pins.h"

#include <future>

#include <spdlog/spdlog.h>

#include "limits/redis.h"

namespace rightsize::server {

namespace asio = boost::asio;

namespace {

std::string pinKey(std::string_view route, std::string_view session) {
  std::string k = "rightsize:pin:";
  k += route;
  k.push_back('\x1f');
  k += session;
  return k;
}

}  // namespace

Result<std::unique_ptr<RedisSessionPins>> RedisSessionPins::make(const config::LimitsConfig& limits,
                                                                 std::chrono::milliseconds ttl) {
  auto url = limits::parseRedisUrl(limits.url);
  if (!url) return fail(url.error());
  std::unique_ptr<RedisSessionPins> p(new RedisSessionPins());
  p->ttl_ = ttl;
  p->conn_ = std::make_unique<limits::RedisConnection>(*url, limits.timeout);
  p->worker_ = std::make_unique<limits::BlockingWorker>("pins", 4096);
  p->worker_->start({}, std::chrono::milliseconds(0));
  return p;
}

RedisSessionPins::~RedisSessionPins() {
  if (worker_) worker_->stop();
}

asio::awaitable<std::optional<std::string>> RedisSessionPins::lookup(std::string_view route,
                                                                    std::string_view session) {
  limits::RedisConnection* conn = conn_.get();
  const std::string key = pinKey(route, session);
  const std::string px = std::to_string(ttl_.count());
  auto initiation = [&](auto handler) {
    using Handler = decltype(handler);
    auto h = std::make_shared<Handler>(std::move(handler));
    std::packaged_task<void()> job([h, conn, key, px]() {
      std::optional<std::string> out;
      auto r = conn->command({"GETEX", key, "PX", px});
      if (r && r->type == limits::RedisReply::Type::kString) out = r->str;
      else if (!r) spdlog::debug("session pins: redis lookup failed: {}", r.error().message);
      auto ex = asio::get_associated_executor(*h);
      asio::post(ex, [h, out = std::move(out)]() mutable { (*h)(std::move(out)); });
    });
    if (!worker_->post(std::move(job))) {
      auto ex = asio::get_associated_executor(*h);
      asio::post(ex, [h]() mutable { (*h)(std::optional<std::string>()); });
    }
  };
  auto op = asio::async_initiate<const asio::use_awaitable_t<>&, void(std::optional<std::string>)>(
      std::move(initiation), asio::use_awaitable);
  std::optional<std::string> result = co_await std::move(op);
  co_return result;
}

void RedisSessionPins::put(std::string_view route, std::string_view session, std::string_view model) {
  limits::RedisConnection* conn = conn_.get();
  std::packaged_task<void()> job(
      [conn, key = pinKey(route, session), model = std::string(model), px = std::to_string(ttl_.count())]() {
        auto r = conn->command({"SET", key, model, "PX", px});
        if (!r) spdlog::debug("session pins: redis write failed: {}", r.error().message);
      });
  (void)worker_->post(std::move(job));  // full queue: the pin is dropped, the request is not
}

void RedisSessionPins::erase(std::string_view route, std::string_view session) {
  limits::RedisConnection* conn = conn_.get();
  std::packaged_task<void()> job([conn, key = pinKey(route, session)]() {
    auto r = conn->command({"DEL", key});
    if (!r) spdlog::debug("session pins: redis delete failed: {}", r.error().message);
  });
  (void)worker_->post(std::move(job));
}

}  // namespace rightsize::server
