#include "ledger/retention.h"

#include <future>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "ledger/report.h"

namespace rightsize::ledger {

namespace asio = boost::asio;

// The sink default: a sink that keeps no rollups.
Result<int64_t> LedgerSink::purgeRequests(std::chrono::system_clock::time_point) {
  return fail(ErrorCode::kInternal, "ledger: this sink does not purge requests");
}

LedgerRetention::LedgerRetention(std::unique_ptr<LedgerSink> sink, std::chrono::days retention,
                                 std::chrono::seconds interval, Clock now)
    : sink_(std::move(sink)),
      retention_(retention),
      interval_(interval),
      now_(now ? std::move(now) : Clock([] { return std::chrono::system_clock::now(); })),
      timer_(pool_.get_executor()) {
  if (retention_.count() <= 0) return;  // keeps every row: no purge, no timer
  asio::post(pool_, [this] {
    (void)purge();
    schedule();
  });
}

LedgerRetention::~LedgerRetention() { stop(); }

void LedgerRetention::stop() {
  if (stopped_.exchange(true)) return;
  asio::post(pool_, [this] { timer_.cancel(); });
  pool_.join();
}

void LedgerRetention::schedule() {
  timer_.expires_after(interval_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    (void)purge();
    schedule();
  });
}

Result<int64_t> LedgerRetention::purge() {
  if (retention_.count() <= 0) return int64_t{0};  // 0 keeps every row
  const auto cut = this->cut();
  const std::string day = formatReportTime(utcDayStartMicros(toEpochMicros(cut))).substr(0, 10);
  auto n = sink_->purgeRequests(cut);
  if (!n) {
    ++counters_.errors;
    spdlog::warn("ledger retention: purging requests before {} ({} days) failed: {}", day, retention_.count(),
                 n.error().message);
    return n;
  }
  ++counters_.purges;
  counters_.rows_purged += *n;
  if (*n > 0) {
    spdlog::info("ledger retention: {} request row(s) before {} rolled up into request_rollups and deleted", *n, day);
  } else {
    spdlog::debug("ledger retention: no request rows before {}", day);
  }
  return n;
}

Result<int64_t> LedgerRetention::purgeNow() {
  std::promise<Result<int64_t>> done;
  asio::post(pool_, [this, &done] { done.set_value(purge()); });
  return done.get_future().get();
}

}  // namespace rightsize::ledger
