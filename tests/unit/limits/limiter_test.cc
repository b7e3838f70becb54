#include "limits/limiter.h"

#include <gtest/gtest.h>

#include "limits/redis.h"

namespace rightsize::limits {
namespace {

using std::chrono::seconds;

// A fake clock: instants are built from epoch seconds, never read from the wall clock.
SysClock::time_point at(int64_t epoch_s) { return SysClock::time_point(seconds(epoch_s)); }

// 2024-02-29T23:59:30Z: a leap day, 30 s before both the day and the month end.
constexpr int64_t kLeapDayEnd = 1709251170;

AdmitRequest req(const KeyLimits& l, int64_t now_s, int64_t tokens = 10, Nanos nanos = 1000) {
  AdmitRequest r;
  r.key_id = "k1";
  r.limits = l;
  r.est_tokens = tokens;
  r.est_nanos = nanos;
  r.now = at(now_s);
  return r;
}

TEST(Windows, IndicesAndTimeLeftFollowUtcCalendar) {
  Windows w = windowsAt(at(kLeapDayEnd));
  EXPECT_EQ(w.minute, kLeapDayEnd / 60);
  EXPECT_EQ(w.day, kLeapDayEnd / 86400);
  EXPECT_EQ(w.month, 2024 * 12 + 1);  // February
  EXPECT_EQ(w.minute_left, seconds(30));
  EXPECT_EQ(w.day_left, seconds(30));
  EXPECT_EQ(w.month_left, seconds(30));
  Windows next = windowsAt(at(kLeapDayEnd + 30));  // 2024-03-01T00:00:00Z
  EXPECT_EQ(next.month, 2024 * 12 + 2);
  EXPECT_EQ(next.day, w.day + 1);
  EXPECT_EQ(next.month_left, seconds(31 * 86400));
  EXPECT_EQ(next.minute_left, seconds(60));
}

TEST(MemoryLimiter, KeyWithoutLimitsIsAlwaysAdmittedAndNothingIsReserved) {
  MemoryLimiter m;
  for (int i = 0; i < 100; ++i) {
    auto a = m.admit(req(KeyLimits{}, kLeapDayEnd));
    EXPECT_TRUE(a.admitted);
    EXPECT_FALSE(a.reserved);
  }
}

TEST(MemoryLimiter, RequestsPerMinuteRefusesWithRetryAfterUntilTheNextMinute) {
  MemoryLimiter m;
  KeyLimits l;
  l.requests_per_minute = 3;
  const int64_t t = 1700000000 - 1700000000 % 60 + 45;  // 45 s into a minute
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(m.admit(req(l, t)).admitted);
  auto a = m.admit(req(l, t + 1));
  EXPECT_FALSE(a.admitted);
  EXPECT_EQ(a.refused_by, LimitKind::kRequestsPerMinute);
  EXPECT_EQ(a.retry_after, seconds(14));
  EXPECT_NE(a.message.find("3 requests per minute"), std::string::npos);
  EXPECT_TRUE(m.admit(req(l, t + 15)).admitted);  // the next minute
}

TEST(MemoryLimiter, TokensPerMinuteCountsTheEstimateThenTheRealTokens) {
  MemoryLimiter m;
  KeyLimits l;
  l.tokens_per_minute = 100;
  const int64_t t = 1700000000 - 1700000000 % 60;
  auto a = m.admit(req(l, t, 80));
  ASSERT_TRUE(a.admitted);
  EXPECT_EQ(m.admit(req(l, t, 30)).refused_by, LimitKind::kTokensPerMinute);  // 80 + 30 > 100
  m.settle(a, Settlement{true, 20, 0});                                        // it really used 20
  EXPECT_EQ(m.counters("k1", at(t)).minute_tokens, 20);
  EXPECT_TRUE(m.admit(req(l, t, 30)).admitted);  // 20 + 30 <= 100
}

TEST(MemoryLimiter, UsdBudgetReservesTheEstimateAndReconcilesWithTheRealCost) {
  MemoryLimiter m;
  KeyLimits l;
  l.usd_per_day = 10'000;  // 10 micro-dollars, in nanos
  const int64_t t = kLeapDayEnd - 3600;
  auto a = m.admit(req(l, t, 1, 6'000));
  ASSERT_TRUE(a.admitted);
  auto b = m.admit(req(l, t, 1, 6'000));  // 6000 + 6000 > 10000 while the first is in flight
  EXPECT_FALSE(b.admitted);
  EXPECT_EQ(b.refused_by, LimitKind::kUsdPerDay);
  EXPECT_EQ(b.retry_after, seconds(3630));
  m.settle(a, Settlement{true, 1, 2'500});  // the real cost was lower
  EXPECT_EQ(m.counters("k1", at(t)).day_nanos, 2'500);
  EXPECT_TRUE(m.admit(req(l, t, 1, 6'000)).admitted);  // 2500 + 6000 <= 10000
  EXPECT_EQ(m.counters("k1", at(t)).day_nanos, 8'500);
}

TEST(MemoryLimiter, RealCostAboveTheEstimateIsChargedInFull) {
  MemoryLimiter m;
  KeyLimits l;
  l.usd_per_month = 10'000;
  auto a = m.admit(req(l, kLeapDayEnd - 100, 1, 1'000));
  ASSERT_TRUE(a.admitted);
  m.settle(a, Settlement{true, 1, 12'000});
  EXPECT_EQ(m.counters("k1", at(kLeapDayEnd - 100)).month_nanos, 12'000);
  auto b = m.admit(req(l, kLeapDayEnd - 100, 1, 1));
  EXPECT_EQ(b.refused_by, LimitKind::kUsdPerMonth);
  EXPECT_EQ(b.retry_after, seconds(130));
}

TEST(MemoryLimiter, RequestsPerDayCountsOnlySuccessfulRequests) {
  MemoryLimiter m;
  KeyLimits l;
  l.requests_per_day = 2;
  const int64_t t = kLeapDayEnd - 500;
  auto a = m.admit(req(l, t));
  auto b = m.admit(req(l, t));
  ASSERT_TRUE(a.admitted && b.admitted);
  EXPECT_EQ(m.admit(req(l, t)).refused_by, LimitKind::kRequestsPerDay);
  m.settle(a, Settlement{false, 0, 0});  // the upstream failed: the request is given back
  m.settle(b, Settlement{true, 5, 10});
  EXPECT_TRUE(m.admit(req(l, t)).admitted);
  EXPECT_EQ(m.admit(req(l, t)).refused_by, LimitKind::kRequestsPerDay);
}

TEST(MemoryLimiter, NewDayResetsBudgetAndLateSettleDoesNotLeakIntoIt) {
  MemoryLimiter m;
  KeyLimits l;
  l.usd_per_day = 1'000;
  auto a = m.admit(req(l, kLeapDayEnd, 1, 1'000));  // reserved on the 29th
  ASSERT_TRUE(a.admitted);
  EXPECT_FALSE(m.admit(req(l, kLeapDayEnd, 1, 1)).admitted);
  auto b = m.admit(req(l, kLeapDayEnd + 31, 1, 600));  // March 1st: a fresh budget
  ASSERT_TRUE(b.admitted);
  m.settle(a, Settlement{true, 1, 100});  // settles the 29th, which is gone: the 1st is untouched
  EXPECT_EQ(m.counters("k1", at(kLeapDayEnd + 31)).day_nanos, 600);
}

TEST(MemoryLimiter, KeysAreCountedSeparately) {
  MemoryLimiter m;
  KeyLimits l;
  l.requests_per_minute = 1;
  auto r1 = req(l, 1700000000);
  auto r2 = r1;
  r2.key_id = "k2";
  EXPECT_TRUE(m.admit(r1).admitted);
  EXPECT_TRUE(m.admit(r2).admitted);
  EXPECT_FALSE(m.admit(r1).admitted);
}

TEST(RedisUrl, ParsesHostPortPasswordAndDb) {
  auto u = parseRedisUrl("redis://:s3cret@10.0.0.5:6380/2");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->host, "10.0.0.5");
  EXPECT_EQ(u->port, 6380);
  EXPECT_EQ(u->password, "s3cret");
  EXPECT_EQ(u->db, 2);
  auto acl = parseRedisUrl("redis://app:pw@h");
  ASSERT_TRUE(acl);
  EXPECT_EQ(acl->user, "app");
  EXPECT_EQ(acl->password, "pw");
  EXPECT_EQ(u->user, "");
  auto d = parseRedisUrl("redis://localhost");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->port, 6379);
  EXPECT_FALSE(parseRedisUrl("rediss://h:1"));
  EXPECT_FALSE(parseRedisUrl("redis://h:notaport"));
  EXPECT_FALSE(parseRedisUrl("http://h"));
}

}  // namespace
}  // namespace rightsize::limits
