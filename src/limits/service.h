#pragma once
// What the gateway uses: key authentication against a cached key table, admission against
// budgets and rate limits, settlement, and key management for the admin API.
//
// Threads: one limits worker thread (BlockingWorker) owns the Redis connection (kind redis)
// or does the keys-file I/O (kind memory); it also reloads the key table every 500 ms when the
// store's version changed. io threads never block: authenticate() reads the cached table under a
// mutex; admit() is synchronous for memory and, for Redis, a job on the worker thread whose
// completion is posted back to the caller's executor; settle() is fire-and-forget.

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/result.h"
#include "config/config.h"
#include "limits/key_store.h"
#include "limits/keys.h"
#include "limits/limiter.h"
#include "limits/redis.h"

namespace rightsize::limits {

class LimitsService {
 public:
  // Builds the store and limiter the config names and starts the worker thread. The key table
  // is loaded once here (a failure is logged; requests get 503 until a load succeeds).
  static Result<std::unique_ptr<LimitsService>> make(const config::LimitsConfig& cfg);
  ~LimitsService();

  // Stops the worker thread; pending jobs are dropped. Call before the io contexts are destroyed.
  void stop();

  enum class AuthStatus { kNoKeysConfigured, kOk, kMissing, kInvalid, kRevoked, kNotLoaded };
  struct AuthResult {
    AuthStatus status = AuthStatus::kNoKeysConfigured;
    std::shared_ptr<const KeyRecord> key;  // kOk only
  };
  // Checks a presented key (the Bearer token; empty when none). Thread-safe, no I/O.
  AuthResult authenticate(std::string_view presented) const;

  // Decides on a request of `key` (limits.on_error applies when the store fails: admitted without
  // a reservation, or refused with backend_error set). Runs on the caller's executor afterwards.
  boost::asio::awaitable<Admission> admit(AdmitRequest r);
  // Replaces the reservation with the real usage. Never blocks; thread-safe.
  void settle(const Admission& a, const Settlement& s);

  // Key management (admin API): runs on the worker thread.
  boost::asio::awaitable<Result<NewKey>> createKey(std::string name, KeyLimits limits);
  boost::asio::awaitable<Result<std::vector<KeyRecord>>> listKeys();
  boost::asio::awaitable<Result<bool>> revokeKey(std::string id);

  struct Stats {
    std::atomic<uint64_t> backend_errors{0};  // store/limiter calls that failed (Redis down, queue full)
    std::atomic<uint64_t> failed_open{0};     // requests admitted uncounted because of a backend error
    std::atomic<uint64_t> failed_closed{0};   // requests refused (503) because of a backend error
    std::atomic<uint64_t> refused{0};         // 429s
    std::atomic<uint64_t> reloads{0};         // key table loads
  };
  const Stats& stats() const { return stats_; }
  bool failOpen() const { return fail_open_; }
  config::LimitsKind kind() const { return kind_; }

 private:
  LimitsService() = default;
  void reloadKeys();  // worker thread
  void setTable(const std::vector<KeyRecord>& keys);
  template <class T, class F>
  boost::asio::awaitable<T> onWorker(F fn, T on_overload);
  void noteBackendError(const Error& e);

  config::LimitsKind kind_ = config::LimitsKind::kMemory;
  bool fail_open_ = true;
  std::unique_ptr<RedisConnection> conn_;  // redis; worker thread only
  // Chosen once in make() from the kind; nothing else branches on it.
  std::unique_ptr<KeyStore> store_;        // worker thread only (after make)
  std::unique_ptr<Limiter> limiter_;       // a blocking one on the worker thread only
  std::unique_ptr<BlockingWorker> worker_;

  mutable std::mutex table_mu_;
  std::shared_ptr<const KeyTable> table_;  // null until first load
  std::string table_version_;              // worker thread only

  Stats stats_;
  std::atomic<int64_t> last_error_log_{0};
};

}  // namespace rightsize::limits
