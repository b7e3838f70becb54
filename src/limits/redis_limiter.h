#pragma once
// The Redis side of the limiter: the same WindowCounters logic as MemoryLimiter, as two Lua
// scripts run atomically by Redis (EVALSHA), so replicas sharing a Redis share every budget
// exactly. Counters live in hashes with expiring keys, one per key and window:
//   rs:lim:{<id>}:m:<minute>  fields r (requests), t (tokens)       expires after its minute
//   rs:lim:{<id>}:d:<day>     fields r (requests), n (nano-dollars) expires after its day
//   rs:lim:{<id>}:M:<month>   field  n (nano-dollars)               expires after its month
// Blocking calls on a RedisConnection: run them on the limits worker thread only.

#include "limits/limiter.h"
#include "limits/redis.h"

namespace rightsize::limits {

// Admits or refuses (reserving the estimate when admitted). A transport or script failure is
// returned as an Error (the caller applies limits.on_error).
Result<Admission> redisAdmit(RedisConnection& conn, const AdmitRequest& r);

// Applies a settlement to the windows the admission reserved in.
Result<void> redisSettle(RedisConnection& conn, const Admission& a, const Settlement& s);

// The Limiter over a Redis connection: blocking, so on the limits worker thread only.
class RedisLimiter final : public Limiter {
 public:
  explicit RedisLimiter(RedisConnection& conn) : conn_(conn) {}
  bool blocking() const override { return true; }
  Result<Admission> reserve(const AdmitRequest& r) override { return redisAdmit(conn_, r); }
  Result<void> release(const Admission& a, const Settlement& s) override { return redisSettle(conn_, a, s); }

 private:
  RedisConnection& conn_;
};

}  // namespace rightsize::limits
