#pragma once
// LedgerRetention: keeps the ledger's requests table to ledger.retention_days (docs/ledger.md
// "Retention"). Request rows of whole UTC days older than the retention are rolled up into
// request_rollups (so `rightsize report` stays true) and deleted, through a sink of its own (its
// own connection), on a thread of its own: the request path and the ledger writer never wait on
// it.
//
// Contract:
// - Purges once at construction (on its thread) and then every `interval` (the gateway: 1 h).
// - Each purge logs one line (info when rows were purged, warn on failure) and counts the rows
//   in counters().rows_purged, a failure in counters().errors. A failed purge is retried at the
//   next interval; the days it did purge stay purged (each day is its own transaction).
// - stop() (and the destructor) cancels the timer and waits for a running purge. Idempotent.
// Thread-safe.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "common/result.h"
#include "ledger/sink.h"

namespace rightsize::ledger {

class LedgerRetention {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  // A `retention` of 0 keeps every row: no purge ever runs (purgeNow() returns 0). `now`
  // defaults to the system clock; tests pass a fixed one.
  LedgerRetention(std::unique_ptr<LedgerSink> sink, std::chrono::days retention,
                  std::chrono::seconds interval = std::chrono::hours(1), Clock now = {});
  ~LedgerRetention();
  LedgerRetention(const LedgerRetention&) = delete;
  LedgerRetention& operator=(const LedgerRetention&) = delete;

  // Runs a purge now on the retention thread and waits for it: the request rows deleted.
  Result<int64_t> purgeNow();
  void stop();

  // The time before which whole UTC days are purged: now - retention.
  std::chrono::system_clock::time_point cut() const { return now_() - retention_; }

  // For /metrics (render-time callbacks).
  struct Counters {
    std::atomic<int64_t> rows_purged{0};  // request rows rolled up and deleted
    std::atomic<int64_t> purges{0};       // purges that succeeded (with or without rows)
    std::atomic<int64_t> errors{0};       // purges that failed (logged)
  };
  const Counters& counters() const { return counters_; }

 private:
  void schedule();
  Result<int64_t> purge();

  std::unique_ptr<LedgerSink> sink_;  // used on pool_'s thread only
  std::chrono::days retention_;
  std::chrono::seconds interval_;
  Clock now_;
  boost::asio::thread_pool pool_{1};
  boost::asio::steady_timer timer_;
  std::atomic<bool> stopped_{false};
  Counters counters_;
};

}  // namespace rightsize::ledger
