#pragma once
// The ledger report behind `rightsize report`: requests, errors, model mix, spend, savings and
// latency percentiles per route, key, day or model, read from a SQLite file or a PostgreSQL ledger.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "ledger/record.h"
#include "ledger/shadow_quality.h"

namespace rightsize::ledger {

enum class ReportGrouping { kRoute, kKey, kDay, kModel };

// "route" | "key" | "day" | "model"; anything else fails with kInvalidArgument.
Result<ReportGrouping> parseReportGrouping(std::string_view text);
const char* reportGroupingName(ReportGrouping g);

// Parses a --since/--until value into microseconds since the Unix epoch (UTC):
//   "2026-11-22"            midnight UTC at the start of that date
//   "2026-11-22T10:00:00Z"  that instant (the trailing Z is required: times are UTC)
//   "30m", "24h", "7d"      that long before `now` (also "s" for seconds)
// Anything else fails with kInvalidArgument and a message naming the accepted forms.
Result<int64_t> parseReportTime(std::string_view text, std::chrono::system_clock::time_point now);

// "2026-11-22T10:00:00Z" (fractional seconds dropped) for an epoch-microsecond time.
std::string formatReportTime(int64_t epoch_us);

// Rows purged by the ledger retention count through their request_rollups row, whose time is
// its UTC day's midnight: a rolled-up day is in the range when its midnight is.
struct ReportOptions {
  std::optional<int64_t> since_us;  // rows with ts_us >= since_us; none: from the first row
  std::optional<int64_t> until_us;  // rows with ts_us <  until_us; none: to the last row
  ReportGrouping by = ReportGrouping::kRoute;
};

struct ReportGroup {
  std::string group;  // route, key id ("(no key)" without one), UTC date, or model
  int64_t requests = 0;
  int64_t errors = 0;  // rows with status >= 400
  // Requests per chosen model, most requests first (ties by name).
  std::vector<std::pair<std::string, int64_t>> model_counts;
  Nanos spend_nanos = 0;
  Nanos reference_nanos = 0;
  int64_t tokens_in = 0;           // cached and cache-written ones included
  int64_t tokens_out = 0;
  int64_t cached_tokens = 0;       // of tokens_in, read from a prompt cache
  int64_t cache_write_tokens = 0;  // of tokens_in, written to one
  int64_t reasoning_tokens = 0;    // of tokens_out
  int64_t usage_estimated = 0;     // rows whose usage the gateway estimated (no usage upstream)
  // Of `requests`, those read from request_rollups (purged by the ledger retention): counted in
  // every sum and in the model mix, but their latencies are gone.
  int64_t rolled_up_requests = 0;
  // Nearest-rank percentiles of latency_us over the request rows still kept (requests -
  // rolled_up_requests): the value at rank ceil(p/100 * n) of the sorted latencies (1-based).
  // Zero when there are none.
  std::chrono::microseconds latency_p50{0};
  std::chrono::microseconds latency_p99{0};

  Nanos savingsNanos() const { return reference_nanos - spend_nanos; }
  // 1 - spend / reference; nullopt when the reference spend is 0.
  std::optional<double> savingsFraction() const;
  // cached_tokens / tokens_in; nullopt without input tokens.
  std::optional<double> cacheHitRate() const;
  double errorRate() const { return requests ? static_cast<double>(errors) / static_cast<double>(requests) : 0.0; }
};

// Shadow evaluation of one route x served model (docs/shadow.md): its grades against the
// yardstick, beside the same pair's requests, spend and savings in the selected range.
struct ShadowReportRow {
  std::string route;
  std::string model;
  std::string yardstick;           // the latest grade's
  ShadowTally tally;
  int64_t requests = 0;            // request rows (kept, not rolled up) of this route and model
  Nanos spend_nanos = 0;
  Nanos reference_nanos = 0;
};

struct Report {
  ReportOptions options;
  std::vector<ReportGroup> groups;  // sorted by group name
  ReportGroup total;                // every selected row; group == "TOTAL"
  std::vector<ShadowReportRow> shadow;  // by route, then model; empty without shadow grades
  Nanos shadow_spend_nanos = 0;         // every selected shadow grade's cost
};

// Reads the ledger at `db_path` read-only (it never creates or changes the file) and builds
// the report. Safe to run while a gateway writes the same file (WAL readers do not block it).
// Fails with kIo when the file cannot be opened (missing, unreadable) and kCorruptData when it
// is not a rightsize ledger or its schema is newer than this binary's.
Result<Report> buildReport(const std::string& db_path, const ReportOptions& options);

// The same report from a PostgreSQL ledger (`dsn` as in ledger.dsn). Read-only. Fails with kIo
// when the server cannot be reached and kCorruptData when the database holds no rightsize
// ledger or a newer schema. The selected rows are fetched in one result set.
Result<Report> buildReportPostgres(const std::string& dsn, const ReportOptions& options);

// An aligned plain-text table, one line per group and a TOTAL line, newline-terminated.
std::string formatReportText(const Report& report);
// One JSON object (see docs/ledger.md "rightsize report"), newline-terminated.
std::string formatReportJson(const Report& report);

}  // namespace rightsize::ledger
