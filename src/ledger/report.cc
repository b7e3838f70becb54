#include "ledger/report.h"

#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "common/strings.h"
#include "ledger/postgres_sink.h"
#include "ledger/sqlite_handles.h"
#include "ledger/sqlite_sink.h"

namespace rightsize::ledger {
namespace {

Error dbError(sqlite3* db, const std::string& path, const char* what) {
  int code = sqlite3_errcode(db) & 0xff;
  ErrorCode ec = code == SQLITE_CORRUPT || code == SQLITE_NOTADB ? ErrorCode::kCorruptData : ErrorCode::kIo;
  return Error{ec, fmt::format("ledger {}: {}: {}", path, what, sqlite3_errmsg(db))};
}

// Parses exactly `width` decimal digits at text[pos].
std::optional<int> digits(std::string_view text, size_t pos, size_t width) {
  if (pos + width > text.size()) return std::nullopt;
  int v = 0;
  for (size_t i = pos; i < pos + width; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    v = v * 10 + (text[i] - '0');
  }
  return v;
}

// Nearest rank: the value at 1-based rank ceil(p/100 * n) of sorted `v`.
int64_t percentile(const std::vector<int64_t>& sorted, int p) {
  if (sorted.empty()) return 0;
  size_t n = sorted.size();
  size_t rank = (static_cast<size_t>(p) * n + 99) / 100;  // ceil(p * n / 100), integer-exact
  if (rank < 1) rank = 1;
  return sorted[rank - 1];
}

// The columns of one ledger row the report reads (kRowColumns, in this order).
struct RowFacts {
  std::string model;
  int status = 0;
  Nanos cost = 0, reference = 0;
  int64_t latency_us = 0, tokens_in = 0, tokens_out = 0, cached = 0, cache_write = 0, reasoning = 0;
  bool estimated = false;
};
// Ledgers before schema 3 (SQLite) / 2 (PostgreSQL) have no cache columns: they read as 0.
constexpr const char* kRowColumns =
    "model, status, cost_nanos, reference_cost_nanos, latency_us, tokens_in, tokens_out, cached_tokens, "
    "cache_write_tokens, reasoning_tokens, usage_estimated";
constexpr const char* kRowColumnsBeforeCache =
    "model, status, cost_nanos, reference_cost_nanos, latency_us, tokens_in, tokens_out, 0, 0, 0, 0";

// One request_rollups row as the report reads it (kRollupColumns, in this order).
struct RollupFacts {
  std::string model;
  int64_t requests = 0, errors = 0;
  Nanos cost = 0, reference = 0;
  int64_t tokens_in = 0, tokens_out = 0, cached = 0, cache_write = 0, reasoning = 0, estimated = 0;
};
constexpr const char* kRollupColumns =
    "model, requests, errors, cost_nanos, reference_cost_nanos, tokens_in, tokens_out, cached_tokens, "
    "cache_write_tokens, reasoning_tokens, usage_estimated";

struct Accumulator {
  ReportGroup g;
  std::map<std::string, int64_t> models;
  std::vector<int64_t> latencies;

  void add(const RollupFacts& r) {
    g.requests += r.requests;
    g.rolled_up_requests += r.requests;
    g.errors += r.errors;
    models[r.model] += r.requests;
    g.spend_nanos += r.cost;
    g.reference_nanos += r.reference;
    g.tokens_in += r.tokens_in;
    g.tokens_out += r.tokens_out;
    g.cached_tokens += r.cached;
    g.cache_write_tokens += r.cache_write;
    g.reasoning_tokens += r.reasoning;
    g.usage_estimated += r.estimated;
  }

  void add(const RowFacts& r) {
    ++g.requests;
    if (r.status >= 400) ++g.errors;
    ++models[r.model];
    g.spend_nanos += r.cost;
    g.reference_nanos += r.reference;
    g.tokens_in += r.tokens_in;
    g.tokens_out += r.tokens_out;
    g.cached_tokens += r.cached;
    g.cache_write_tokens += r.cache_write;
    g.reasoning_tokens += r.reasoning;
    if (r.estimated) ++g.usage_estimated;
    latencies.push_back(r.latency_us);
  }
  ReportGroup finish() {
    g.model_counts.assign(models.begin(), models.end());
    std::stable_sort(g.model_counts.begin(), g.model_counts.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    std::sort(latencies.begin(), latencies.end());
    g.latency_p50 = std::chrono::microseconds(percentile(latencies, 50));
    g.latency_p99 = std::chrono::microseconds(percentile(latencies, 99));
    return std::move(g);
  }
};

// Groups rows as they stream in, then builds the report.
struct ReportBuilder {
  std::map<std::string, Accumulator> groups;
  Accumulator total;

  void add(const std::string& key, const RowFacts& r) {
    groups[key].add(r);
    total.add(r);
  }
  void add(const std::string& key, const RollupFacts& r) {
    groups[key].add(r);
    total.add(r);
  }
  Report finish(const ReportOptions& options) {
    Report report;
    report.options = options;
    for (auto& [name, acc] : groups) {
      acc.g.group = name;
      report.groups.push_back(acc.finish());
    }
    total.g.group = "TOTAL";
    report.total = total.finish();
    return report;
  }
};

const char* pgGroupExpr(ReportGrouping by) {
  switch (by) {
    case ReportGrouping::kRoute: return "route";
    case ReportGrouping::kKey: return "coalesce(key_id, '(no key)')";
    // Integer division, as in SQLite: the UTC second the request arrived in.
    case ReportGrouping::kDay: return "to_char(to_timestamp(ts_us / 1000000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')";
    case ReportGrouping::kModel: return "model";
  }
  return "route";
}

// The group of a request_rollups row: as pgGroupExpr / groupExpr, from its columns (key_id ''
// is "no key", day_us the UTC midnight).
const char* pgRollupGroupExpr(ReportGrouping by) {
  switch (by) {
    case ReportGrouping::kRoute: return "route";
    case ReportGrouping::kKey: return "CASE WHEN key_id = '' THEN '(no key)' ELSE key_id END";
    case ReportGrouping::kDay: return "to_char(to_timestamp(day_us / 1000000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')";
    case ReportGrouping::kModel: return "model";
  }
  return "route";
}

const char* rollupGroupExpr(ReportGrouping by) {
  switch (by) {
    case ReportGrouping::kRoute: return "route";
    case ReportGrouping::kKey: return "CASE WHEN key_id = '' THEN '(no key)' ELSE key_id END";
    case ReportGrouping::kDay: return "strftime('%Y-%m-%d', day_us / 1000000, 'unixepoch')";
    case ReportGrouping::kModel: return "model";
  }
  return "route";
}

// Reads a rollup row's values 1.. (after the group) from text (PostgreSQL) or SQLite.
template <class Num, class Text>
RollupFacts rollupFacts(Num num, Text text) {
  RollupFacts r;
  r.model = text(1);
  r.requests = num(2);
  r.errors = num(3);
  r.cost = num(4);
  r.reference = num(5);
  r.tokens_in = num(6);
  r.tokens_out = num(7);
  r.cached = num(8);
  r.cache_write = num(9);
  r.reasoning = num(10);
  r.estimated = num(11);
  return r;
}

const char* groupExpr(ReportGrouping by) {
  switch (by) {
    case ReportGrouping::kRoute: return "route";
    case ReportGrouping::kKey: return "coalesce(key_id, '(no key)')";
    // ts_us / 1000000 is integer division: the second the request arrived in, UTC.
    case ReportGrouping::kDay: return "strftime('%Y-%m-%d', ts_us / 1000000, 'unixepoch')";
    case ReportGrouping::kModel: return "model";
  }
  return "route";
}

std::string usd(Nanos n) { return fmt::format("{:.6f}", nanosToUsd(n)); }
double ms(std::chrono::microseconds us) { return static_cast<double>(us.count()) / 1000.0; }

std::string mixText(const ReportGroup& g) {
  std::string out;
  for (const auto& [model, n] : g.model_counts) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {:.0f}%", model, 100.0 * static_cast<double>(n) / static_cast<double>(g.requests));
  }
  return out.empty() ? "-" : out;
}

std::string jsonNumber(double v) { return fmt::format("{}", v); }

std::string groupJson(const ReportGroup& g) {
  std::string out = "{\"group\":" + jsonString(g.group);
  out += fmt::format(",\"requests\":{},\"errors\":{},\"model_mix\":{{", g.requests, g.errors);
  bool first = true;
  for (const auto& [model, n] : g.model_counts) {
    if (!first) out += ",";
    first = false;
    out += jsonString(model) + ":" + jsonNumber(static_cast<double>(n) / static_cast<double>(g.requests));
  }
  out += "}";
  out += ",\"spend_usd\":" + jsonNumber(nanosToUsd(g.spend_nanos));
  out += ",\"reference_spend_usd\":" + jsonNumber(nanosToUsd(g.reference_nanos));
  out += ",\"savings_usd\":" + jsonNumber(nanosToUsd(g.savingsNanos()));
  auto pct = g.savingsFraction();
  out += ",\"savings_pct\":" + (pct ? jsonNumber(*pct * 100.0) : std::string("null"));
  out += fmt::format(",\"tokens_in\":{},\"tokens_out\":{},\"cached_tokens\":{},\"cache_write_tokens\":{},"
                     "\"reasoning_tokens\":{},\"usage_estimated\":{}",
                     g.tokens_in, g.tokens_out, g.cached_tokens, g.cache_write_tokens, g.reasoning_tokens,
                     g.usage_estimated);
  auto hit = g.cacheHitRate();
  out += ",\"cache_hit_rate\":" + (hit ? jsonNumber(*hit) : std::string("null"));
  out += fmt::format(",\"rolled_up_requests\":{}", g.rolled_up_requests);
  out += ",\"latency_p50_ms\":" + jsonNumber(ms(g.latency_p50));
  out += ",\"latency_p99_ms\":" + jsonNumber(ms(g.latency_p99));
  out += "}";
  return out;
}

// Shadow grades and the requests of the same route x model, as they stream in.
struct ShadowBuilder {
  std::map<std::pair<std::string, std::string>, ShadowReportRow> rows;
  Nanos spend = 0;

  void grade(const std::string& route, const std::string& model, const std::string& yardstick,
             const std::string& result, double served, double yard, Nanos cost) {
    ShadowReportRow& r = rows[{route, model}];
    r.route = route;
    r.model = model;
    r.yardstick = yardstick;
    r.tally.add(result, served, yard, cost);
    spend += cost;
  }
  void requests(const std::string& route, const std::string& model, int64_t n, Nanos cost, Nanos reference) {
    auto it = rows.find({route, model});
    if (it == rows.end()) return;  // no shadow grades for this pair
    it->second.requests += n;
    it->second.spend_nanos += cost;
    it->second.reference_nanos += reference;
  }
  void finish(Report& report) {
    for (auto& [_, r] : rows) report.shadow.push_back(std::move(r));
    report.shadow_spend_nanos = spend;
  }
};

constexpr const char* kShadowGradesSql =
    "SELECT route, model, yardstick, result, coalesce(served_score, -1), coalesce(yardstick_score, -1), cost_nanos "
    "FROM shadow_grades WHERE ts_us >= {0} AND ts_us < {1}";
constexpr const char* kShadowRequestsSql =
    "SELECT route, model, count(*), sum(cost_nanos), sum(reference_cost_nanos) FROM requests "
    "WHERE ts_us >= {0} AND ts_us < {1} GROUP BY route, model";

std::string qualityText(const ShadowQuality& q) {
  if (!q.value) return "n/a";
  if (!q.low) return fmt::format("{:.3f}", *q.value);
  return fmt::format("{:.3f} [{:.3f}, {:.3f}]", *q.value, *q.low, *q.high);
}

std::string optNumber(const std::optional<double>& v) { return v ? fmt::format("{}", *v) : std::string("null"); }

}  // namespace

std::optional<double> ReportGroup::cacheHitRate() const {
  if (tokens_in <= 0) return std::nullopt;
  return static_cast<double>(cached_tokens) / static_cast<double>(tokens_in);
}

std::optional<double> ReportGroup::savingsFraction() const {
  if (reference_nanos == 0) return std::nullopt;
  return 1.0 - static_cast<double>(spend_nanos) / static_cast<double>(reference_nanos);
}

Result<ReportGrouping> parseReportGrouping(std::string_view text) {
  if (text == "route") return ReportGrouping::kRoute;
  if (text == "key") return ReportGrouping::kKey;
  if (text == "day") return ReportGrouping::kDay;
  if (text == "model") return ReportGrouping::kModel;
  return fail(ErrorCode::kInvalidArgument,
              fmt::format("--by '{}': expected route, key, day or model", text));
}

const char* reportGroupingName(ReportGrouping g) {
  switch (g) {
    case ReportGrouping::kRoute: return "route";
    case ReportGrouping::kKey: return "key";
    case ReportGrouping::kDay: return "day";
    case ReportGrouping::kModel: return "model";
  }
  return "route";
}

Result<int64_t> parseReportTime(std::string_view text, std::chrono::system_clock::time_point now) {
  using namespace std::chrono;
  auto bad = [&] {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("time '{}': expected a date (2026-11-22), a UTC timestamp (2026-11-22T10:00:00Z) "
                            "or a duration before now (30m, 24h, 7d)",
                            text));
  };
  if (text.empty()) return bad();
  // Relative: digits followed by one unit letter.
  char unit = text.back();
  if (unit == 's' || unit == 'm' || unit == 'h' || unit == 'd') {
    std::string_view num = text.substr(0, text.size() - 1);
    int64_t n = 0;
    auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), n);
    if (num.empty() || ec != std::errc() || p != num.data() + num.size() || n < 0 || n > 100 * 365 * 86400LL) {
      return bad();
    }
    int64_t secs = unit == 's' ? n : unit == 'm' ? n * 60 : unit == 'h' ? n * 3600 : n * 86400;
    return toEpochMicros(now) - secs * 1'000'000;
  }
  // Absolute: YYYY-MM-DD, optionally followed by THH:MM:SSZ.
  if (text.size() != 10 && text.size() != 20) return bad();
  auto y = digits(text, 0, 4), mo = digits(text, 5, 2), d = digits(text, 8, 2);
  if (!y || !mo || !d || text[4] != '-' || text[7] != '-') return bad();
  year_month_day ymd{year(*y), month(static_cast<unsigned>(*mo)), day(static_cast<unsigned>(*d))};
  if (!ymd.ok()) return bad();
  int64_t secs = duration_cast<seconds>(sys_days(ymd).time_since_epoch()).count();
  if (text.size() == 20) {
    auto h = digits(text, 11, 2), mi = digits(text, 14, 2), s = digits(text, 17, 2);
    if (text[10] != 'T' || text[13] != ':' || text[16] != ':' || text[19] != 'Z' || !h || !mi || !s || *h > 23 ||
        *mi > 59 || *s > 59) {
      return bad();
    }
    secs += *h * 3600 + *mi * 60 + *s;
  }
  return secs * 1'000'000;
}

std::string formatReportTime(int64_t epoch_us) {
  using namespace std::chrono;
  int64_t secs = epoch_us >= 0 ? epoch_us / 1'000'000 : -((-epoch_us + 999'999) / 1'000'000);
  sys_seconds t{seconds(secs)};
  sys_days day_start = floor<days>(t);
  year_month_day ymd{day_start};
  hh_mm_ss hms{t - day_start};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), hms.hours().count(),
                     hms.minutes().count(), hms.seconds().count());
}

Result<Report> buildReport(const std::string& db_path, const ReportOptions& options) {
  DbGuard db;
  // READONLY without CREATE: a missing file is an error, never a new empty database.
  int rc = sqlite3_open_v2(db_path.c_str(), &db.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db.db ? sqlite3_errmsg(db.db) : sqlite3_errstr(rc);
    return fail(ErrorCode::kIo, fmt::format("ledger {}: cannot open: {}", db_path, msg));
  }
  sqlite3_busy_timeout(db.db, 5000);
  {
    // A file that is not a database fails at its first read, here.
    StmtGuard g;
    if (sqlite3_prepare_v2(db.db,
                           "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN "
                           "('requests','schema_version')",
                           -1, &g.s, nullptr) != SQLITE_OK ||
        sqlite3_step(g.s) != SQLITE_ROW) {
      Error e = dbError(db.db, db_path, "reading schema");
      e.code = ErrorCode::kCorruptData;
      return fail(std::move(e));
    }
    if (sqlite3_column_int(g.s, 0) != 2) {
      return fail(ErrorCode::kCorruptData,
                  fmt::format("ledger {}: not a rightsize ledger (no requests/schema_version tables)", db_path));
    }
  }
  int version = 0;
  {
    StmtGuard g;
    if (sqlite3_prepare_v2(db.db, "SELECT max(version) FROM schema_version", -1, &g.s, nullptr) != SQLITE_OK ||
        sqlite3_step(g.s) != SQLITE_ROW) {
      return fail(dbError(db.db, db_path, "reading schema_version"));
    }
    version = sqlite3_column_int(g.s, 0);
    if (version > SqliteSink::latestSchemaVersion()) {
      return fail(ErrorCode::kCorruptData,
                  fmt::format("ledger {}: schema version {} is newer than this rightsize supports ({})", db_path,
                              version, SqliteSink::latestSchemaVersion()));
    }
  }

  std::string sql = fmt::format("SELECT {}, {} FROM requests WHERE ts_us >= ?1 AND ts_us < ?2", groupExpr(options.by),
                                version >= 3 ? kRowColumns : kRowColumnsBeforeCache);
  StmtGuard q;
  if (sqlite3_prepare_v2(db.db, sql.c_str(), -1, &q.s, nullptr) != SQLITE_OK) {
    return fail(dbError(db.db, db_path, "preparing report query"));
  }
  sqlite3_bind_int64(q.s, 1, options.since_us.value_or(INT64_MIN));
  sqlite3_bind_int64(q.s, 2, options.until_us.value_or(INT64_MAX));
  ReportBuilder builder;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    std::string key = columnText(q.s, 0);
    RowFacts r;
    r.model = columnText(q.s, 1);
    r.status = sqlite3_column_int(q.s, 2);
    r.cost = sqlite3_column_int64(q.s, 3);
    r.reference = sqlite3_column_int64(q.s, 4);
    r.latency_us = sqlite3_column_int64(q.s, 5);
    r.tokens_in = sqlite3_column_int64(q.s, 6);
    r.tokens_out = sqlite3_column_int64(q.s, 7);
    r.cached = sqlite3_column_int64(q.s, 8);
    r.cache_write = sqlite3_column_int64(q.s, 9);
    r.reasoning = sqlite3_column_int64(q.s, 10);
    r.estimated = sqlite3_column_int(q.s, 11) != 0;
    builder.add(key, r);
  }
  if (rc != SQLITE_DONE) return fail(dbError(db.db, db_path, "reading rows"));
  if (version >= 5) {  // request_rollups: the rows the ledger retention purged
    std::string rsql = fmt::format("SELECT {}, {} FROM request_rollups WHERE day_us >= ?1 AND day_us < ?2",
                                   rollupGroupExpr(options.by), kRollupColumns);
    StmtGuard rq;
    if (sqlite3_prepare_v2(db.db, rsql.c_str(), -1, &rq.s, nullptr) != SQLITE_OK) {
      return fail(dbError(db.db, db_path, "preparing rollup query"));
    }
    sqlite3_bind_int64(rq.s, 1, options.since_us.value_or(INT64_MIN));
    sqlite3_bind_int64(rq.s, 2, options.until_us.value_or(INT64_MAX));
    while ((rc = sqlite3_step(rq.s)) == SQLITE_ROW) {
      builder.add(columnText(rq.s, 0), rollupFacts([&](int i) { return sqlite3_column_int64(rq.s, i); },
                                                   [&](int i) { return columnText(rq.s, i); }));
    }
    if (rc != SQLITE_DONE) return fail(dbError(db.db, db_path, "reading rollups"));
  }
  Report report = builder.finish(options);
  if (version >= 6) {  // shadow_grades (docs/shadow.md)
    ShadowBuilder sb;
    StmtGuard sq;
    const std::string ssql = fmt::format(fmt::runtime(kShadowGradesSql), "?1", "?2");
    if (sqlite3_prepare_v2(db.db, ssql.c_str(), -1, &sq.s, nullptr) != SQLITE_OK) {
      return fail(dbError(db.db, db_path, "preparing shadow query"));
    }
    sqlite3_bind_int64(sq.s, 1, options.since_us.value_or(INT64_MIN));
    sqlite3_bind_int64(sq.s, 2, options.until_us.value_or(INT64_MAX));
    while ((rc = sqlite3_step(sq.s)) == SQLITE_ROW) {
      sb.grade(columnText(sq.s, 0), columnText(sq.s, 1), columnText(sq.s, 2), columnText(sq.s, 3),
               sqlite3_column_double(sq.s, 4), sqlite3_column_double(sq.s, 5), sqlite3_column_int64(sq.s, 6));
    }
    if (rc != SQLITE_DONE) return fail(dbError(db.db, db_path, "reading shadow grades"));
    if (!sb.rows.empty()) {
      StmtGuard rq;
      const std::string rsql = fmt::format(fmt::runtime(kShadowRequestsSql), "?1", "?2");
      if (sqlite3_prepare_v2(db.db, rsql.c_str(), -1, &rq.s, nullptr) != SQLITE_OK) {
        return fail(dbError(db.db, db_path, "preparing shadow requests query"));
      }
      sqlite3_bind_int64(rq.s, 1, options.since_us.value_or(INT64_MIN));
      sqlite3_bind_int64(rq.s, 2, options.until_us.value_or(INT64_MAX));
      while ((rc = sqlite3_step(rq.s)) == SQLITE_ROW) {
        sb.requests(columnText(rq.s, 0), columnText(rq.s, 1), sqlite3_column_int64(rq.s, 2),
                    sqlite3_column_int64(rq.s, 3), sqlite3_column_int64(rq.s, 4));
      }
      if (rc != SQLITE_DONE) return fail(dbError(db.db, db_path, "reading shadow requests"));
    }
    sb.finish(report);
  }
  return report;
}

Result<Report> buildReportPostgres(const std::string& dsn, const ReportOptions& options) {
  auto db = PostgresSink::openExisting(dsn);
  if (!db) return fail(db.error());
  auto version = (*db)->schemaVersion();
  if (!version) return fail(version.error());
  std::string sql = fmt::format("SELECT {}, {} FROM requests WHERE ts_us >= $1 AND ts_us < $2",
                                pgGroupExpr(options.by), *version >= 2 ? kRowColumns : kRowColumnsBeforeCache);
  ReportBuilder builder;
  auto num = [](const char* s) -> int64_t {
    int64_t v = 0;
    if (s) std::from_chars(s, s + std::strlen(s), v);
    return v;
  };
  std::string key;
  RowFacts row;
  auto r = (*db)->query(sql,
                        {std::to_string(options.since_us.value_or(INT64_MIN)),
                         std::to_string(options.until_us.value_or(INT64_MAX))},
                        [&](const char* const* v, int) {
                          key.assign(v[0] ? v[0] : "");
                          row.model.assign(v[1] ? v[1] : "");
                          row.status = static_cast<int>(num(v[2]));
                          row.cost = num(v[3]);
                          row.reference = num(v[4]);
                          row.latency_us = num(v[5]);
                          row.tokens_in = num(v[6]);
                          row.tokens_out = num(v[7]);
                          row.cached = num(v[8]);
                          row.cache_write = num(v[9]);
                          row.reasoning = num(v[10]);
                          row.estimated = v[11] && (v[11][0] == 't' || v[11][0] == '1');
                          builder.add(key, row);
                        });
  if (!r) return fail(r.error());
  if (*version >= 4) {  // request_rollups: the rows the ledger retention purged
    std::string rsql = fmt::format("SELECT {}, {} FROM request_rollups WHERE day_us >= $1 AND day_us < $2",
                                   pgRollupGroupExpr(options.by), kRollupColumns);
    r = (*db)->query(rsql,
                     {std::to_string(options.since_us.value_or(INT64_MIN)),
                      std::to_string(options.until_us.value_or(INT64_MAX))},
                     [&](const char* const* v, int) {
                       builder.add(std::string(v[0] ? v[0] : ""),
                                   rollupFacts([&](int i) { return num(v[i]); },
                                               [&](int i) { return std::string(v[i] ? v[i] : ""); }));
                     });
    if (!r) return fail(r.error());
  }
  Report report = builder.finish(options);
  if (*version >= 5) {  // shadow_grades (docs/shadow.md)
    ShadowBuilder sb;
    const std::vector<std::string> range = {std::to_string(options.since_us.value_or(INT64_MIN)),
                                            std::to_string(options.until_us.value_or(INT64_MAX))};
    auto dbl = [](const char* s) { return s ? std::strtod(s, nullptr) : -1.0; };
    auto txt = [](const char* s) { return std::string(s ? s : ""); };
    r = (*db)->query(fmt::format(fmt::runtime(kShadowGradesSql), "$1", "$2"), range, [&](const char* const* v, int) {
      sb.grade(txt(v[0]), txt(v[1]), txt(v[2]), txt(v[3]), dbl(v[4]), dbl(v[5]), num(v[6]));
    });
    if (!r) return fail(r.error());
    if (!sb.rows.empty()) {
      r = (*db)->query(fmt::format(fmt::runtime(kShadowRequestsSql), "$1", "$2"), range, [&](const char* const* v, int) {
        sb.requests(txt(v[0]), txt(v[1]), num(v[2]), num(v[3]), num(v[4]));
      });
      if (!r) return fail(r.error());
    }
    sb.finish(report);
  }
  return report;
}

std::string formatReportText(const Report& report) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({reportGroupingName(report.options.by), "requests", "errors", "spend_usd", "reference_usd",
                  "savings_usd", "savings", "cache_hit", "p50_ms", "p99_ms", "model mix"});
  auto row = [&](const ReportGroup& g) {
    auto pct = g.savingsFraction();
    auto hit = g.cacheHitRate();
    rows.push_back({g.group, fmt::format("{}", g.requests), fmt::format("{:.1f}%", 100.0 * g.errorRate()),
                    usd(g.spend_nanos), usd(g.reference_nanos), usd(g.savingsNanos()),
                    pct ? fmt::format("{:.1f}%", *pct * 100.0) : std::string("n/a"),
                    hit ? fmt::format("{:.1f}%", *hit * 100.0) : std::string("n/a"),
                    fmt::format("{:.1f}", ms(g.latency_p50)), fmt::format("{:.1f}", ms(g.latency_p99)), mixText(g)});
  };
  for (const auto& g : report.groups) row(g);
  row(report.total);
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out = fmt::format("ledger report by {}, {} .. {}\n", reportGroupingName(report.options.by),
                                report.options.since_us ? formatReportTime(*report.options.since_us) : "start",
                                report.options.until_us ? formatReportTime(*report.options.until_us) : "end");
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      if (i > 0) line += "  ";
      // First and last columns are text (left-aligned), the rest numbers (right-aligned).
      if (i == 0) line += fmt::format("{:<{}}", r[i], width[i]);
      else if (i + 1 == r.size()) line += r[i];
      else line += fmt::format("{:>{}}", r[i], width[i]);
    }
    out += line + "\n";
  }
  if (!report.shadow.empty()) {
    // Quality relative to the yardstick (docs/shadow.md): the agree rate (Wilson interval) or
    // mean served / mean yardstick judge score (normal approximation), 95% confidence.
    std::vector<std::vector<std::string>> sr;
    sr.push_back({"route", "model", "yardstick", "requests", "spend_usd", "savings", "n", "grade", "quality [95% CI]",
                  "errors", "shadow_usd"});
    for (const ShadowReportRow& s : report.shadow) {
      const ShadowQuality q = estimateQuality(s.tally);
      ReportGroup g;
      g.spend_nanos = s.spend_nanos;
      g.reference_nanos = s.reference_nanos;
      auto pct = g.savingsFraction();
      sr.push_back({s.route, s.model, s.yardstick, fmt::format("{}", s.requests), usd(s.spend_nanos),
                    pct ? fmt::format("{:.1f}%", *pct * 100.0) : std::string("n/a"), fmt::format("{}", q.n), q.kind,
                    qualityText(q), fmt::format("{}", s.tally.errors), usd(s.tally.cost_nanos)});
    }
    std::vector<size_t> sw(sr[0].size(), 0);
    for (const auto& r : sr)
      for (size_t i = 0; i < r.size(); ++i) sw[i] = std::max(sw[i], r[i].size());
    out += "\nshadow evaluation: quality relative to the yardstick (agree rate, or mean judge score ratio), 95% CI\n";
    for (const auto& r : sr) {
      std::string line;
      for (size_t i = 0; i < r.size(); ++i) {
        if (i > 0) line += "  ";
        if (i < 3 || i == 7 || i == 8) line += fmt::format("{:<{}}", r[i], sw[i]);
        else line += fmt::format("{:>{}}", r[i], sw[i]);
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + "\n";
    }
    out += fmt::format("shadow spend: {} USD (apart from the requests' spend)\n", usd(report.shadow_spend_nanos));
  }
  if (report.total.rolled_up_requests > 0) {
    out += fmt::format(
        "note: {} of these requests were rolled up by the ledger retention (ledger.retention_days): they count in "
        "requests, errors, spend, savings and model mix; p50/p99 cover only the {} request rows still kept\n",
        report.total.rolled_up_requests, report.total.requests - report.total.rolled_up_requests);
  }
  return out;
}

std::string formatReportJson(const Report& report) {
  const auto& o = report.options;
  std::string out = "{\"since\":" + (o.since_us ? jsonString(formatReportTime(*o.since_us)) : std::string("null"));
  out += ",\"until\":" + (o.until_us ? jsonString(formatReportTime(*o.until_us)) : std::string("null"));
  out += ",\"by\":" + jsonString(reportGroupingName(o.by));
  out += ",\"groups\":[";
  for (size_t i = 0; i < report.groups.size(); ++i) {
    if (i > 0) out += ",";
    out += groupJson(report.groups[i]);
  }
  out += "],\"total\":" + groupJson(report.total);
  out += ",\"shadow\":[";
  for (size_t i = 0; i < report.shadow.size(); ++i) {
    const ShadowReportRow& s = report.shadow[i];
    const ShadowQuality q = estimateQuality(s.tally);
    if (i > 0) out += ",";
    out += fmt::format(R"({{"route":{},"model":{},"yardstick":{},"requests":{},"spend_usd":{},"reference_spend_usd":{},)",
                       jsonString(s.route), jsonString(s.model), jsonString(s.yardstick), s.requests,
                       jsonNumber(nanosToUsd(s.spend_nanos)), jsonNumber(nanosToUsd(s.reference_nanos)));
    out += fmt::format(R"("grade":{},"n":{},"agree":{},"disagree":{},"scored":{},"errors":{},)", jsonString(q.kind), q.n,
                       s.tally.agree, s.tally.disagree, s.tally.scored, s.tally.errors);
    out += fmt::format(R"("quality":{},"quality_low":{},"quality_high":{},"shadow_spend_usd":{}}})", optNumber(q.value),
                       optNumber(q.low), optNumber(q.high), jsonNumber(nanosToUsd(s.tally.cost_nanos)));
  }
  out += "],\"shadow_spend_usd\":" + jsonNumber(nanosToUsd(report.shadow_spend_nanos)) + "}\n";
  return out;
}

}  // namespace rightsize::ledger
