#include "limits/service.h"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "limits/redis_limiter.h"

namespace rightsize::limits {

namespace asio = boost::asio;

namespace {
constexpr size_t kMaxQueuedJobs = 20'000;
constexpr std::chrono::milliseconds kReloadEvery{500};

int64_t nowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(SysClock::now().time_since_epoch()).count();
}
}  // namespace

Result<std::unique_ptr<LimitsService>> LimitsService::make(const config::LimitsConfig& cfg) {
  std::unique_ptr<LimitsService> s(new LimitsService());
  s->kind_ = cfg.kind;
  s->fail_open_ = cfg.on_error != "closed";
  if (cfg.kind == config::LimitsKind::kRedis) {
    auto url = parseRedisUrl(cfg.url);
    if (!url) return fail(ErrorCode::kInvalidArgument, "limits.url: " + url.error().message);
    s->conn_ = std::make_unique<RedisConnection>(*url, cfg.timeout);
    s->store_ = std::make_unique<RedisKeyStore>(*s->conn_);
    s->limiter_ = std::make_unique<RedisLimiter>(*s->conn_);
  } else {
    s->store_ = std::make_unique<FileKeyStore>(cfg.keys_file);
    s->limiter_ = std::make_unique<MemoryLimiter>();
  }
  // First load before serving, on this thread (the worker is not running yet).
  s->reloadKeys();
  s->worker_ = std::make_unique<BlockingWorker>("limits", kMaxQueuedJobs);
  LimitsService* self = s.get();
  s->worker_->start([self] { self->reloadKeys(); }, kReloadEvery);
  return s;
}

LimitsService::~LimitsService() { stop(); }

void LimitsService::stop() {
  if (worker_) worker_->stop();
}

void LimitsService::noteBackendError(const Error& e) {
  stats_.backend_errors.fetch_add(1, std::memory_order_relaxed);
  // One line per second at most: a dead Redis under load must not flood the log.
  const int64_t now = nowUnix();
  int64_t last = last_error_log_.load(std::memory_order_relaxed);
  if (now != last && last_error_log_.compare_exchange_strong(last, now))
    spdlog::warn("limits: {} backend error: {} (on_error: {}; {} error(s) so far)", config::limitsKindName(kind_), e.message,
                 fail_open_ ? "open" : "closed", stats_.backend_errors.load());
}

void LimitsService::setTable(const std::vector<KeyRecord>& keys) {
  auto t = std::make_shared<KeyTable>();
  for (const auto& k : keys) t->by_id.emplace(k.id, std::make_shared<const KeyRecord>(k));
  std::lock_guard lock(table_mu_);
  table_ = std::move(t);
}

void LimitsService::reloadKeys() {
  auto v = store_->version();
  if (!v) {
    noteBackendError(v.error());
    return;
  }
  bool loaded;
  {
    std::lock_guard lock(table_mu_);
    loaded = table_ != nullptr;
  }
  if (loaded && *v == table_version_) return;
  auto keys = store_->list();
  if (!keys) {
    noteBackendError(keys.error());
    return;
  }
  setTable(*keys);
  table_version_ = *v;
  stats_.reloads.fetch_add(1, std::memory_order_relaxed);
  spdlog::info("limits: loaded {} key(s) from the {} store", keys->size(), config::limitsKindName(kind_));
}

LimitsService::AuthResult LimitsService::authenticate(std::string_view presented) const {
  std::shared_ptr<const KeyTable> t;
  {
    std::lock_guard lock(table_mu_);
    t = table_;
  }
  if (!t) return {AuthStatus::kNotLoaded, nullptr};
  if (t->by_id.empty()) return {AuthStatus::kNoKeysConfigured, nullptr};
  if (presented.empty()) return {AuthStatus::kMissing, nullptr};
  auto parsed = parseKey(presented);
  if (!parsed) return {AuthStatus::kInvalid, nullptr};
  auto it = t->by_id.find(parsed->id);
  if (it == t->by_id.end() || !verifySecret(*it->second, parsed->secret)) return {AuthStatus::kInvalid, nullptr};
  if (it->second->revoked) return {AuthStatus::kRevoked, nullptr};
  return {AuthStatus::kOk, it->second};
}

// Runs fn() on the worker thread and resumes the calling coroutine on its own executor with the
// result; `on_overload` when the worker's queue is full or stopped.
template <class T, class F>
asio::awaitable<T> LimitsService::onWorker(F fn, T on_overload) {
  auto initiation = [this, &fn, &on_overload](auto handler) {
    using Handler = decltype(handler);
    auto h = std::make_shared<Handler>(std::move(handler));
    std::packaged_task<void()> job([h, fn = std::move(fn)]() mutable {
      T result = fn();
      auto ex = asio::get_associated_executor(*h);
      asio::post(ex, [h, result = std::move(result)]() mutable { (*h)(std::move(result)); });
    });
    if (!worker_->post(std::move(job))) {
      auto ex = asio::get_associated_executor(*h);
      asio::post(ex, [h, r = std::move(on_overload)]() mutable { (*h)(std::move(r)); });
    }
  };
  auto op = asio::async_initiate<const asio::use_awaitable_t<>&, void(T)>(std::move(initiation), asio::use_awaitable);
  T result = co_await std::move(op);
  co_return result;
}

asio::awaitable<Admission> LimitsService::admit(AdmitRequest r) {
  if (!r.limits.any()) {
    Admission a;
    a.admitted = true;
    a.key_id = r.key_id;
    co_return a;
  }
  Result<Admission> res;
  if (!limiter_->blocking()) {
    res = limiter_->reserve(r);
  } else {
    Limiter* limiter = limiter_.get();
    // g++ 12: no temporaries with destructors inside a co_await expression.
    auto op = onWorker<Result<Admission>>([limiter, r]() -> Result<Admission> { return limiter->reserve(r); },
                                          Result<Admission>(fail(ErrorCode::kUnavailable, "limits worker queue is full")));
    res = co_await std::move(op);
  }
  Admission a;
  if (res) {
    a = std::move(*res);
  } else {
    noteBackendError(res.error());
    a.key_id = r.key_id;
    a.backend_error = true;
    if (fail_open_) {
      stats_.failed_open.fetch_add(1, std::memory_order_relaxed);
      a.admitted = true;  // not reserved: nothing to settle
    } else {
      stats_.failed_closed.fetch_add(1, std::memory_order_relaxed);
      a.message = fmt::format("the limits store ({}) is unreachable and limits.on_error is 'closed'; try again shortly",
                              config::limitsKindName(kind_));
    }
  }
  if (!a.admitted && !a.backend_error) stats_.refused.fetch_add(1, std::memory_order_relaxed);
  co_return a;
}

void LimitsService::settle(const Admission& a, const Settlement& s) {
  if (!a.reserved) return;
  if (!limiter_->blocking()) {
    if (auto st = limiter_->release(a, s); !st) noteBackendError(st.error());
    return;
  }
  Limiter* limiter = limiter_.get();
  std::packaged_task<void()> job([this, limiter, a, s] {
    if (auto st = limiter->release(a, s); !st) noteBackendError(st.error());
  });
  if (!worker_->post(std::move(job))) noteBackendError(Error{ErrorCode::kUnavailable, "limits worker queue is full"});
}

asio::awaitable<Result<NewKey>> LimitsService::createKey(std::string name, KeyLimits limits) {
  auto op = onWorker<Result<NewKey>>(
      [this, name = std::move(name), limits]() -> Result<NewKey> {
        auto k = generateKey(name, limits, nowUnix());
        if (!k) return k;
        if (auto st = store_->add(k->record); !st) return fail(st.error());
        reloadKeys();
        return k;
      },
      Result<NewKey>(fail(ErrorCode::kUnavailable, "limits worker queue is full")));
  auto res = co_await std::move(op);
  co_return res;
}

asio::awaitable<Result<std::vector<KeyRecord>>> LimitsService::listKeys() {
  using R = Result<std::vector<KeyRecord>>;
  auto op = onWorker<R>([this]() -> R { return store_->list(); },
                        R(fail(ErrorCode::kUnavailable, "limits worker queue is full")));
  auto res = co_await std::move(op);
  co_return res;
}

asio::awaitable<Result<bool>> LimitsService::revokeKey(std::string id) {
  auto op = onWorker<Result<bool>>(
      [this, id = std::move(id)]() -> Result<bool> {
        auto r = store_->revoke(id);
        if (r && *r) reloadKeys();
        return r;
      },
      Result<bool>(fail(ErrorCode::kUnavailable, "limits worker queue is full")));
  auto res = co_await std::move(op);
  co_return res;
}

}  // namespace rightsize::limits
