#include "limits/redis_limiter.h"

#include <fmt/format.h>

namespace rightsize::limits {

namespace {

// KEYS: minute, day, month hashes. ARGV: rpm, tpm, rpd, usd_day, usd_month (0 = none),
// est_tokens, est_nanos, ttl of each window (s). Returns 0 when admitted (and reserved), else
// the index of the refusing limit (1..5, the order of LimitKind after kNone).
// Checks in the same order as WindowCounters::tryReserve.
const std::string kAdmit = R"lua(
local rpm, tpm, rpd = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local uday, umon = tonumber(ARGV[4]), tonumber(ARGV[5])
local et, en = tonumber(ARGV[6]), tonumber(ARGV[7])
local mr = tonumber(redis.call('HGET', KEYS[1], 'r') or '0')
local mt = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
local dr = tonumber(redis.call('HGET', KEYS[2], 'r') or '0')
local dn = tonumber(redis.call('HGET', KEYS[2], 'n') or '0')
local mn = tonumber(redis.call('HGET', KEYS[3], 'n') or '0')
if rpm > 0 and mr + 1 > rpm then return 1 end
if tpm > 0 and mt + et > tpm then return 2 end
if rpd > 0 and dr + 1 > rpd then return 3 end
if uday > 0 and dn + en > uday then return 4 end
if umon > 0 and mn + en > umon then return 5 end
redis.call('HINCRBY', KEYS[1], 'r', 1)
redis.call('HINCRBY', KEYS[1], 't', et)
redis.call('EXPIRE', KEYS[1], ARGV[8])
redis.call('HINCRBY', KEYS[2], 'r', 1)
redis.call('HINCRBY', KEYS[2], 'n', en)
redis.call('EXPIRE', KEYS[2], ARGV[9])
redis.call('HINCRBY', KEYS[3], 'n', en)
redis.call('EXPIRE', KEYS[3], ARGV[10])
return 0)lua";

// KEYS: the admission's minute, day, month hashes. ARGV: token delta, nano-dollar delta,
// request delta for the day. A window that expired meanwhile is not recreated.
const std::string kSettle = R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HINCRBY', KEYS[1], 't', ARGV[1]) end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HINCRBY', KEYS[2], 'n', ARGV[2])
  redis.call('HINCRBY', KEYS[2], 'r', ARGV[3])
end
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('HINCRBY', KEYS[3], 'n', ARGV[2]) end
return 1)lua";

std::vector<std::string> windowKeys(const std::string& id, const Windows& w) {
  return {fmt::format("rs:lim:{{{}}}:m:{}", id, w.minute), fmt::format("rs:lim:{{{}}}:d:{}", id, w.day),
          fmt::format("rs:lim:{{{}}}:M:{}", id, w.month)};
}

}  // namespace

Result<Admission> redisAdmit(RedisConnection& conn, const AdmitRequest& r) {
  Admission a;
  a.key_id = r.key_id;
  if (!r.limits.any()) {
    a.admitted = true;
    return a;
  }
  a.windows = windowsAt(r.now);
  a.est_tokens = r.est_tokens;
  a.est_nanos = r.est_nanos;
  const auto& l = r.limits;
  const auto& w = a.windows;
  // A little slack on the expiries so a settle right at the end of a window still finds it.
  auto reply = conn.eval(kAdmit, windowKeys(r.key_id, w),
                         {std::to_string(l.requests_per_minute), std::to_string(l.tokens_per_minute),
                          std::to_string(l.requests_per_day), std::to_string(l.usd_per_day),
                          std::to_string(l.usd_per_month), std::to_string(r.est_tokens), std::to_string(r.est_nanos),
                          std::to_string(w.minute_left.count() + 60), std::to_string(w.day_left.count() + 600),
                          std::to_string(w.month_left.count() + 3600)});
  if (!reply) return fail(reply.error());
  if (reply->type != RedisReply::Type::kInteger || reply->integer < 0 || reply->integer > 5)
    return fail(ErrorCode::kUnavailable,
                "redis limits script failed: " + (reply->str.empty() ? std::string("unexpected reply") : reply->str));
  if (reply->integer == 0) {
    a.admitted = true;
    a.reserved = true;
    return a;
  }
  a.refused_by = static_cast<LimitKind>(reply->integer);
  a.retry_after = retryAfterFor(a.refused_by, w);
  a.message = refusalMessage(a.refused_by, l, a.retry_after);
  return a;
}

Result<void> redisSettle(RedisConnection& conn, const Admission& a, const Settlement& s) {
  if (!a.reserved) return {};
  auto reply = conn.eval(kSettle, windowKeys(a.key_id, a.windows),
                         {std::to_string(s.tokens - a.est_tokens), std::to_string(s.nanos - a.est_nanos),
                          s.success ? "0" : "-1"});
  if (!reply) return fail(reply.error());
  if (reply->type == RedisReply::Type::kError) return fail(ErrorCode::kUnavailable, "redis settle: " + reply->str);
  return {};
}

}  // namespace rightsize::limits
