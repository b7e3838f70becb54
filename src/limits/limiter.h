#pragma once
// Budgets and rate limits per virtual key, behind one interface with two implementations:
// MemoryLimiter (one process) and RedisLimiter (shared by replicas, atomic Lua scripts).
//
// Semantics (docs/limits.md): fixed windows in UTC — the minute, the calendar day and the
// calendar month. admit() checks every limit of the key against what the window already holds
// plus this request's estimate and, when all fit, reserves the estimate (1 request, the
// estimated tokens and nano-dollars) in the same atomic step. settle() replaces the estimate
// with the real tokens and cost once the request has ended; a request that did not succeed
// gives its request back to the per-day request budget (it is still counted by the per-minute
// request rate). A reservation whose window has rolled over is not carried into the new one.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "common/result.h"
#include "limits/keys.h"

namespace rightsize::limits {

using SysClock = std::chrono::system_clock;

// Window indices of one instant, and how long until each window ends.
struct Windows {
  int64_t minute = 0;  // seconds since epoch / 60
  int64_t day = 0;     // days since epoch (UTC)
  int64_t month = 0;   // year * 12 + month - 1 (UTC)
  std::chrono::seconds minute_left{0}, day_left{0}, month_left{0};  // >= 1 s each
};
Windows windowsAt(SysClock::time_point now);

// Which limit refused a request.
enum class LimitKind { kNone, kRequestsPerMinute, kTokensPerMinute, kRequestsPerDay, kUsdPerDay, kUsdPerMonth };
const char* limitName(LimitKind k);

struct AdmitRequest {
  std::string key_id;
  KeyLimits limits;
  int64_t est_tokens = 0;   // prompt estimate + max_tokens (or a typical output)
  Nanos est_nanos = 0;      // priced at the first target's model
  SysClock::time_point now;
};

// What admit() decided. When admitted, the fields after `retry_after` identify the reservation
// for settle().
struct Admission {
  bool admitted = false;
  bool backend_error = false;          // the limits store could not be asked (Redis down)
  LimitKind refused_by = LimitKind::kNone;
  std::string message;                 // for the 429 body
  std::chrono::seconds retry_after{0};
  std::string key_id;
  Windows windows;
  int64_t est_tokens = 0;
  Nanos est_nanos = 0;
  bool reserved = false;               // false: nothing to settle (no limits, or failed open)
};

struct Settlement {
  bool success = false;  // the client got a 200
  int64_t tokens = 0;    // real prompt + completion tokens
  Nanos nanos = 0;       // real cost
};

// The Retry-After for a refusal: until the refusing limit's window ends.
std::chrono::seconds retryAfterFor(LimitKind k, const Windows& w);

// Builds the 429 message for a refusal.
std::string refusalMessage(LimitKind k, const KeyLimits& l, std::chrono::seconds retry_after);

// The in-process counters of one key in the current windows, and the pure logic over them
// (shared by MemoryLimiter and the unit tests; RedisLimiter's Lua script does the same).
struct WindowCounters {
  int64_t minute = -1, minute_requests = 0, minute_tokens = 0;
  int64_t day = -1, day_requests = 0;
  Nanos day_nanos = 0;
  int64_t month = -1;
  Nanos month_nanos = 0;

  // Resets counters whose window is over.
  void roll(const Windows& w);
  // Checks and, when every limit fits, reserves. Call roll() first.
  LimitKind tryReserve(const KeyLimits& l, const Windows& w, int64_t est_tokens, Nanos est_nanos);
  // Replaces a reservation made in windows `at` with the settlement (windows that rolled over since
  // are left alone).
  void settle(const Windows& at, int64_t est_tokens, Nanos est_nanos, const Settlement& s);
};

// The one interface of the limiters, chosen once at startup (LimitsService::make): MemoryLimiter
// (limits.kind memory) or RedisLimiter (redis, redis_limiter.h).
class Limiter {
 public:
  virtual ~Limiter() = default;
  // True when reserve()/release() block on I/O: the caller runs them on the limits worker thread.
  virtual bool blocking() const = 0;
  // admit(): checks the key's limits and reserves the estimate. An Error is the backend's
  // failure (the caller applies limits.on_error), never a refusal.
  virtual Result<Admission> reserve(const AdmitRequest& r) = 0;
  // settle(): replaces the reservation with the real usage.
  virtual Result<void> release(const Admission& a, const Settlement& s) = 0;
};

class MemoryLimiter final : public Limiter {
 public:
  // Thread-safe; never blocks on I/O (one mutex held for a map lookup and a few adds).
  Admission admit(const AdmitRequest& r);
  void settle(const Admission& a, const Settlement& s);

  bool blocking() const override { return false; }
  Result<Admission> reserve(const AdmitRequest& r) override { return admit(r); }
  Result<void> release(const Admission& a, const Settlement& s) override {
    settle(a, s);
    return {};
  }
  // For tests and the admin API: the counters of a key (zeros when unknown).
  WindowCounters counters(const std::string& key_id, SysClock::time_point now);

 private:
  std::mutex mu_;
  std::map<std::string, WindowCounters, std::less<>> keys_;
};

}  // namespace rightsize::limits
