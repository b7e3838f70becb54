#include "ledger/retention.h"

#include <gtest/gtest.h>

#include "ledger/report.h"
#include "ledger/sqlite_sink.h"
#include "unit/ledger/ledger_test_util.h"

namespace rightsize::ledger {
namespace {

using testing::sampleRecord;
using testing::TempDir;

using testing::kHour;
using testing::kNov22;

// One row at noon UTC on each of the 10 days from 2026-11-22, in a fresh file.
std::string tenDaysLedger(const TempDir& dir) {
  const std::string path = (dir.path / "l.db").string();
  auto sink = SqliteSink::open(path);
  EXPECT_TRUE(sink) << sink.error().message;
  std::vector<LedgerRecord> rows;
  for (int d = 0; d < 10; ++d) {
    rows.push_back(sampleRecord(d));
    rows.back().time = fromEpochMicros(kNov22 + d * kMicrosPerDay + 12 * kHour);
  }
  EXPECT_TRUE((*sink)->writeBatch(rows));
  return path;
}

int64_t rowsIn(const std::string& path) { return SqliteSink::open(path).value()->rowCount().value(); }

TEST(LedgerRetention, PurgesAtStartTheWholeDaysOlderThanTheRetentionAndCountsThem) {
  TempDir dir;
  const std::string path = tenDaysLedger(dir);
  // Now: 2026-12-01T06:00Z (day 9). Retention 3 days: cut 2026-11-28T06:00Z, rounded down to the
  // 28th's midnight: days 0..5 (22nd..27th) purged, the 28th..1st kept.
  auto now = [] { return fromEpochMicros(kNov22 + 9 * kMicrosPerDay + 6 * kHour); };
  LedgerRetention retention(SqliteSink::open(path).value(), std::chrono::days(3), std::chrono::hours(1), now);
  auto again = retention.purgeNow();  // runs after the start purge, on the same thread
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(retention.counters().rows_purged.load(), 6);
  EXPECT_EQ(retention.counters().purges.load(), 2);
  EXPECT_EQ(retention.counters().errors.load(), 0);
  EXPECT_EQ(rowsIn(path), 4);
  auto report = buildReport(path, {});
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->total.requests, 10);
  EXPECT_EQ(report->total.rolled_up_requests, 6);
}

TEST(LedgerRetention, RetentionZeroPurgesNothing) {
  TempDir dir;
  const std::string path = tenDaysLedger(dir);
  auto now = [] { return fromEpochMicros(kNov22 + 1000 * kMicrosPerDay); };
  LedgerRetention retention(SqliteSink::open(path).value(), std::chrono::days(0), std::chrono::hours(1), now);
  auto n = retention.purgeNow();
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 0);
  retention.stop();
  EXPECT_EQ(retention.counters().rows_purged.load(), 0);
  EXPECT_EQ(rowsIn(path), 10);
  EXPECT_EQ(buildReport(path, {}).value().total.rolled_up_requests, 0);
}

// A sink that keeps no rollups: LedgerSink's default purgeRequests fails.
class NoRollupSink final : public LedgerSink {
 public:
  Result<void> migrate() override { return {}; }
  Result<void> writeBatch(std::span<const LedgerRecord>) override { return {}; }
};

TEST(LedgerRetention, CountsAFailedPurgeAndKeepsRunning) {
  LedgerRetention retention(std::make_unique<NoRollupSink>(), std::chrono::days(1));
  EXPECT_FALSE(retention.purgeNow());
  EXPECT_EQ(retention.counters().errors.load(), 2);  // the start purge and this one
  EXPECT_EQ(retention.counters().purges.load(), 0);
  EXPECT_EQ(retention.counters().rows_purged.load(), 0);
}

}  // namespace
}  // namespace rightsize::ledger
