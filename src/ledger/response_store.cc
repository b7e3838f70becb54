#include "ledger/response_store.h"

#include <future>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

namespace rightsize::ledger {

namespace asio = boost::asio;

// The sink defaults: a sink that keeps no responses.
Result<void> LedgerSink::putResponse(const StoredResponse&) {
  return fail(ErrorCode::kInternal, "ledger: this sink does not store responses");
}
Result<std::optional<StoredResponse>> LedgerSink::getResponse(std::string_view) {
  return fail(ErrorCode::kInternal, "ledger: this sink does not store responses");
}
Result<bool> LedgerSink::deleteResponse(std::string_view) {
  return fail(ErrorCode::kInternal, "ledger: this sink does not store responses");
}
Result<int64_t> LedgerSink::purgeResponses(std::chrono::system_clock::time_point) {
  return fail(ErrorCode::kInternal, "ledger: this sink does not store responses");
}

ResponseStore::ResponseStore(std::unique_ptr<LedgerSink> sink, std::chrono::seconds retention)
    : sink_(std::move(sink)), retention_(retention), timer_(pool_.get_executor()) {
  asio::post(pool_, [this] {
    (void)purge();
    schedulePurge();
  });
}

ResponseStore::~ResponseStore() { stop(); }

void ResponseStore::stop() {
  if (stopped_.exchange(true)) return;
  // The timer is the only work that never ends by itself; the queued writes run before join.
  asio::post(pool_, [this] { timer_.cancel(); });
  pool_.join();
}

void ResponseStore::schedulePurge() {
  timer_.expires_after(retention_ < std::chrono::hours(1) ? retention_ : std::chrono::seconds(std::chrono::hours(1)));
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    (void)purge();
    schedulePurge();
  });
}

Result<int64_t> ResponseStore::purge() {
  auto n = sink_->purgeResponses(std::chrono::system_clock::now() - retention_);
  if (!n) {
    spdlog::warn("responses store: purging responses older than {} s failed: {}", retention_.count(),
                 n.error().message);
    return n;
  }
  counters_.purged += *n;
  if (*n > 0) spdlog::info("responses store: {} response(s) past the retention deleted", *n);
  return n;
}

Result<int64_t> ResponseStore::purgeNow() {
  std::promise<Result<int64_t>> done;
  asio::post(pool_, [this, &done] { done.set_value(purge()); });
  return done.get_future().get();
}

void ResponseStore::put(StoredResponse r) {
  asio::post(pool_, [this, r = std::move(r)] {
    if (auto st = sink_->putResponse(r); !st) {
      ++counters_.put_errors;
      spdlog::warn("responses store: response {} not stored: {}", r.id, st.error().message);
      return;
    }
    ++counters_.stored;
  });
}

asio::awaitable<Result<std::optional<StoredResponse>>> ResponseStore::get(std::string_view id) {
  // Named locals, no temporaries in the co_await expression (GCC 12 can destroy those twice).
  const std::string key(id);
  auto work = [this, &key]() -> asio::awaitable<Result<std::optional<StoredResponse>>> {
    co_return sink_->getResponse(key);
  };
  auto r = co_await asio::co_spawn(pool_, work, asio::use_awaitable);
  if (!r) {
    ++counters_.get_errors;
    spdlog::warn("responses store: read failed: {}", r.error().message);
  } else if (*r) {
    ++counters_.hits;
  } else {
    ++counters_.misses;
  }
  co_return r;
}

asio::awaitable<Result<bool>> ResponseStore::remove(std::string_view id) {
  const std::string key(id);
  auto work = [this, &key]() -> asio::awaitable<Result<bool>> { co_return sink_->deleteResponse(key); };
  auto r = co_await asio::co_spawn(pool_, work, asio::use_awaitable);
  if (!r) {
    ++counters_.get_errors;
    spdlog::warn("responses store: delete failed: {}", r.error().message);
  } else if (*r) {
    ++counters_.deleted;
  }
  co_return r;
}

}  // namespace rightsize::ledger
