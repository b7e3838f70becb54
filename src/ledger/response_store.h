#pragma once
// ResponseStore: the stored answers of POST /v1/responses (`store`, `previous_response_id`,
// GET/DELETE /v1/responses/{id}; docs/responses.md), in the ledger's database through a sink of
// its own (its own connection), on a thread of its own so that no request thread waits on the
// database.
//
// Contract:
// - put() never waits: the write is queued on the store's thread. Operations run in the order
//   they were called, so a get() after a put() in this process sees it (a client that sends
//   previous_response_id right after the answer finds it). Another replica sees it once the
//   write has run (milliseconds).
// - A failed write is logged and counted (put_errors); the answer was already sent, so it is not
//   retried: the follow-up that names it gets a 404.
// - Every `retention`, and once at start, responses older than `retention` are deleted.
// - stop() (and the destructor) runs the queued writes, then stops the thread.
// Thread-safe.

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "common/result.h"
#include "ledger/record.h"
#include "ledger/sink.h"

namespace rightsize::ledger {

class ResponseStore {
 public:
  ResponseStore(std::unique_ptr<LedgerSink> sink, std::chrono::seconds retention);
  ~ResponseStore();
  ResponseStore(const ResponseStore&) = delete;
  ResponseStore& operator=(const ResponseStore&) = delete;

  // Queues the write of `r`.
  void put(StoredResponse r);
  // The stored response `id` (nullopt: unknown or past its retention). Errors: the database's.
  // `id` must stay valid until the call completes.
  boost::asio::awaitable<Result<std::optional<StoredResponse>>> get(std::string_view id);
  // Deletes `id`; false when there was none.
  boost::asio::awaitable<Result<bool>> remove(std::string_view id);
  // Deletes every response older than the retention now, on the store's thread, and waits.
  // The timer calls it; tests and `stop` need not.
  Result<int64_t> purgeNow();
  // Runs the queued writes and stops the thread. Idempotent.
  void stop();

  std::chrono::seconds retention() const { return retention_; }

  // For /metrics (render-time callbacks).
  struct Counters {
    std::atomic<int64_t> stored{0};       // responses written
    std::atomic<int64_t> put_errors{0};   // writes that failed
    std::atomic<int64_t> hits{0};         // get() that found one
    std::atomic<int64_t> misses{0};       // get() that found none
    std::atomic<int64_t> get_errors{0};   // get()/remove() that failed
    std::atomic<int64_t> deleted{0};      // remove() that deleted one
    std::atomic<int64_t> purged{0};       // deleted by the retention
  };
  const Counters& counters() const { return counters_; }

 private:
  void schedulePurge();
  Result<int64_t> purge();

  std::unique_ptr<LedgerSink> sink_;  // used on pool_'s thread only
  std::chrono::seconds retention_;
  boost::asio::thread_pool pool_{1};
  boost::asio::steady_timer timer_;
  std::atomic<bool> stopped_{false};
  Counters counters_;
};

}  // namespace rightsize::ledger
