#include "limits/limiter.h"

#include <fmt/format.h>

namespace rightsize::limits {

using std::chrono::seconds;

Windows windowsAt(SysClock::time_point now) {
  namespace ch = std::chrono;
  const int64_t s = ch::duration_cast<seconds>(now.time_since_epoch()).count();
  const auto floor_div = [](int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); };
  Windows w;
  w.minute = floor_div(s, 60);
  w.day = floor_div(s, 86400);
  const ch::sys_days today{ch::days(w.day)};
  const ch::year_month_day ymd{today};
  w.month = static_cast<int>(ymd.year()) * 12 + static_cast<int>(static_cast<unsigned>(ymd.month())) - 1;
  const ch::year_month next_month = ch::year_month(ymd.year(), ymd.month()) + ch::months(1);
  const ch::sys_days month_end{next_month / ch::day(1)};
  w.minute_left = seconds((w.minute + 1) * 60 - s);
  w.day_left = seconds((w.day + 1) * 86400 - s);
  w.month_left = seconds(ch::duration_cast<seconds>(month_end.time_since_epoch()).count() - s);
  return w;
}

const char* limitName(LimitKind k) {
  switch (k) {
    case LimitKind::kNone: return "none";
    case LimitKind::kRequestsPerMinute: return "requests_per_minute";
    case LimitKind::kTokensPerMinute: return "tokens_per_minute";
    case LimitKind::kRequestsPerDay: return "requests_per_day";
    case LimitKind::kUsdPerDay: return "usd_per_day";
    case LimitKind::kUsdPerMonth: return "usd_per_month";
  }
  return "?";
}

std::string refusalMessage(LimitKind k, const KeyLimits& l, seconds retry_after) {
  const auto usd = [](Nanos n) { return static_cast<double>(n) / 1e9; };
  switch (k) {
    case LimitKind::kRequestsPerMinute:
      return fmt::format("rate limit reached for this key: {} requests per minute; retry after {} s",
                         l.requests_per_minute, retry_after.count());
    case LimitKind::kTokensPerMinute:
      return fmt::format("rate limit reached for this key: {} tokens per minute (counting this request's estimate); "
                         "retry after {} s", l.tokens_per_minute, retry_after.count());
    case LimitKind::kRequestsPerDay:
      return fmt::format("daily request budget of this key exhausted: {} requests per UTC day; retry after {} s",
                         l.requests_per_day, retry_after.count());
    case LimitKind::kUsdPerDay:
      return fmt::format("daily budget of this key exhausted: {} USD per UTC day (spent plus this request's "
                         "estimate would exceed it); retry after {} s", usd(l.usd_per_day), retry_after.count());
    case LimitKind::kUsdPerMonth:
      return fmt::format("monthly budget of this key exhausted: {} USD per UTC month (spent plus this request's "
                         "estimate would exceed it); retry after {} s", usd(l.usd_per_month), retry_after.count());
    case LimitKind::kNone: break;
  }
  return "limit reached";
}

void WindowCounters::roll(const Windows& w) {
  if (minute != w.minute) {
    minute = w.minute;
    minute_requests = minute_tokens = 0;
  }
  if (day != w.day) {
    day = w.day;
    day_requests = 0;
    day_nanos = 0;
  }
  if (month != w.month) {
    month = w.month;
    month_nanos = 0;
  }
}

LimitKind WindowCounters::tryReserve(const KeyLimits& l, const Windows& w, int64_t est_tokens, Nanos est_nanos) {
  if (l.requests_per_minute > 0 && minute_requests + 1 > l.requests_per_minute) return LimitKind::kRequestsPerMinute;
  if (l.tokens_per_minute > 0 && minute_tokens + est_tokens > l.tokens_per_minute) return LimitKind::kTokensPerMinute;
  if (l.requests_per_day > 0 && day_requests + 1 > l.requests_per_day) return LimitKind::kRequestsPerDay;
  if (l.usd_per_day > 0 && day_nanos + est_nanos > l.usd_per_day) return LimitKind::kUsdPerDay;
  if (l.usd_per_month > 0 && month_nanos + est_nanos > l.usd_per_month) return LimitKind::kUsdPerMonth;
  minute_requests += 1;
  minute_tokens += est_tokens;
  day_requests += 1;
  day_nanos += est_nanos;
  month_nanos += est_nanos;
  return LimitKind::kNone;
}

void WindowCounters::settle(const Windows& at, int64_t est_tokens, Nanos est_nanos, const Settlement& s) {
  if (minute == at.minute) minute_tokens += s.tokens - est_tokens;
  if (day == at.day) {
    day_nanos += s.nanos - est_nanos;
    if (!s.success) day_requests -= 1;
  }
  if (month == at.month) month_nanos += s.nanos - est_nanos;
}

seconds retryAfterFor(LimitKind k, const Windows& w) {
  switch (k) {
    case LimitKind::kRequestsPerMinute:
    case LimitKind::kTokensPerMinute: return w.minute_left;
    case LimitKind::kRequestsPerDay:
    case LimitKind::kUsdPerDay: return w.day_left;
    case LimitKind::kUsdPerMonth: return w.month_left;
    case LimitKind::kNone: break;
  }
  return seconds(1);
}

Admission MemoryLimiter::admit(const AdmitRequest& r) {
  Admission a;
  a.key_id = r.key_id;
  if (!r.limits.any()) {
    a.admitted = true;
    return a;
  }
  a.windows = windowsAt(r.now);
  a.est_tokens = r.est_tokens;
  a.est_nanos = r.est_nanos;
  LimitKind k;
  {
    std::lock_guard lock(mu_);
    auto it = keys_.find(r.key_id);
    if (it == keys_.end()) it = keys_.emplace(r.key_id, WindowCounters{}).first;
    it->second.roll(a.windows);
    k = it->second.tryReserve(r.limits, a.windows, r.est_tokens, r.est_nanos);
  }
  if (k != LimitKind::kNone) {
    a.refused_by = k;
    a.retry_after = retryAfterFor(k, a.windows);
    a.message = refusalMessage(k, r.limits, a.retry_after);
    return a;
  }
  a.admitted = true;
  a.reserved = true;
  return a;
}

void MemoryLimiter::settle(const Admission& a, const Settlement& s) {
  if (!a.reserved) return;
  std::lock_guard lock(mu_);
  auto it = keys_.find(a.key_id);
  if (it != keys_.end()) it->second.settle(a.windows, a.est_tokens, a.est_nanos, s);
}

WindowCounters MemoryLimiter::counters(const std::string& key_id, SysClock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = keys_.find(key_id);
  if (it == keys_.end()) return WindowCounters{};
  WindowCounters c = it->second;
  c.roll(windowsAt(now));
  return c;
}

}  // namespace rightsize::limits
