#include "ledger/report.h"

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "ledger/sqlite_sink.h"
#include "unit/ledger/ledger_test_util.h"

namespace rightsize::ledger {
namespace {

using testing::kHour;
using testing::kNov22;
constexpr int64_t kDay = 24 * kHour;

// A database file unique to this process and test (ctest runs tests in parallel processes),
// removed with its WAL side files at scope exit.
struct TempDb {
  std::filesystem::path path;
  TempDb() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path = std::filesystem::temp_directory_path() /
           fmt::format("rs-report-{}-{}-{}.db", getpid(), info->test_suite_name(), info->name());
    removeAll();
  }
  ~TempDb() { removeAll(); }
  void removeAll() {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix, ec);
  }
};

struct Row {
  int64_t ts_us = kNov22;
  std::string route = "chat";
  std::string model = "mixtral-8x7b";
  std::string key;
  int status = 200;
  Nanos cost = 0;
  Nanos reference = 0;
  int64_t latency_us = 1000;
};

void writeRows(const std::filesystem::path& path, const std::vector<Row>& rows) {
  auto sink = SqliteSink::open(path.string());
  ASSERT_TRUE(sink) << sink.error().message;
  std::vector<LedgerRecord> recs;
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    LedgerRecord rec;
    rec.time = fromEpochMicros(r.ts_us);
    rec.request_id = fmt::format("req-{}", i);
    rec.key_id = r.key;
    rec.route = r.route;
    rec.model = r.model;
    rec.provider = "p";
    rec.candidates = "mixtral-8x7b,gpt-4";
    rec.reference_model = "gpt-4";
    rec.cost_nanos = r.cost;
    rec.reference_cost_nanos = r.reference;
    rec.latency = std::chrono::microseconds(r.latency_us);
    rec.status = r.status;
    recs.push_back(std::move(rec));
  }
  ASSERT_TRUE((*sink)->writeBatch(recs));
}

Report mustBuild(const std::filesystem::path& path, const ReportOptions& opt = {}) {
  auto r = buildReport(path.string(), opt);
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : Report{};
}

std::vector<std::string> groupNames(const Report& r) {
  std::vector<std::string> out;
  for (const auto& g : r.groups) out.push_back(g.group);
  return out;
}

// chat: 10 rows, latencies 1..10 ms, 8 mixtral (100 nanos) + 2 gpt-4 (5000 nanos), a 400 and a 502,
// reference 5000 each. extract: 3 rows with latencies 300, 100, 200 us and no cost at all.
std::vector<Row> mixedRows() {
  std::vector<Row> rows;
  for (int i = 1; i <= 10; ++i) {
    Row r;
    r.latency_us = i * 1000;
    r.model = i <= 8 ? "mixtral-8x7b" : "gpt-4";
    r.cost = i <= 8 ? 100 : 5000;
    r.reference = 5000;
    r.status = i == 3 ? 400 : i == 9 ? 502 : 200;  // 400 counts: errors are status >= 400
    rows.push_back(r);
  }
  for (int64_t lat : {300, 100, 200}) {
    Row r;
    r.route = "extract";
    r.latency_us = lat;
    rows.push_back(r);
  }
  return rows;
}

TEST(Report, CountsRequestsErrorsMixSpendAndSavingsPerRoute) {
  TempDb db;
  writeRows(db.path, mixedRows());
  Report r = mustBuild(db.path);
  ASSERT_EQ(groupNames(r), (std::vector<std::string>{"chat", "extract"}));
  const ReportGroup& chat = r.groups[0];
  EXPECT_EQ(chat.requests, 10);
  EXPECT_EQ(chat.errors, 2);
  EXPECT_DOUBLE_EQ(chat.errorRate(), 0.2);
  EXPECT_EQ(chat.model_counts, (std::vector<std::pair<std::string, int64_t>>{{"mixtral-8x7b", 8}, {"gpt-4", 2}}));
  EXPECT_EQ(chat.spend_nanos, 8 * 100 + 2 * 5000);
  EXPECT_EQ(chat.reference_nanos, 50'000);
  EXPECT_EQ(chat.savingsNanos(), 39'200);
  ASSERT_TRUE(chat.savingsFraction());
  EXPECT_DOUBLE_EQ(*chat.savingsFraction(), 1.0 - 10'800.0 / 50'000.0);
  const ReportGroup& extract = r.groups[1];
  EXPECT_EQ(extract.requests, 3);
  EXPECT_EQ(extract.errors, 0);
  EXPECT_EQ(extract.spend_nanos, 0);
  EXPECT_FALSE(extract.savingsFraction()) << "no reference spend: savings % is n/a";
  EXPECT_EQ(r.total.group, "TOTAL");
  EXPECT_EQ(r.total.requests, 13);
  EXPECT_EQ(r.total.errors, 2);
  EXPECT_EQ(r.total.spend_nanos, 10'800);
  EXPECT_EQ(r.total.reference_nanos, 50'000);
  EXPECT_EQ(r.total.model_counts, (std::vector<std::pair<std::string, int64_t>>{{"mixtral-8x7b", 11}, {"gpt-4", 2}}));
}

TEST(Report, ComputesNearestRankLatencyPercentilesPerGroupAndTotal) {
  TempDb db;
  writeRows(db.path, mixedRows());
  Report r = mustBuild(db.path);
  ASSERT_EQ(r.groups.size(), 2u);
  // chat, 10 values 1000..10000: p50 = rank 5, p99 = rank ceil(9.9) = 10.
  EXPECT_EQ(r.groups[0].latency_p50.count(), 5000);
  EXPECT_EQ(r.groups[0].latency_p99.count(), 10000);
  // extract, inserted unsorted: p50 = rank ceil(1.5) = 2 -> 200, p99 = rank 3 -> 300.
  EXPECT_EQ(r.groups[1].latency_p50.count(), 200);
  EXPECT_EQ(r.groups[1].latency_p99.count(), 300);
  // total, 13 values 100,200,300,1000..10000: p50 = rank 7 -> 4000, p99 = rank 13 -> 10000.
  EXPECT_EQ(r.total.latency_p50.count(), 4000);
  EXPECT_EQ(r.total.latency_p99.count(), 10000);
}

TEST(Report, P99OfTwoHundredValuesIsTheHundredNinetyEighth) {
  TempDb db;
  std::vector<Row> rows;
  for (int i = 200; i >= 1; --i) {
    Row r;
    r.latency_us = i;
    rows.push_back(r);
  }
  writeRows(db.path, rows);
  Report r = mustBuild(db.path);
  EXPECT_EQ(r.total.latency_p50.count(), 100);
  EXPECT_EQ(r.total.latency_p99.count(), 198);
}

// One row just before 2026-11-22, one at its midnight, one at 10:00, one at 2026-11-23 midnight.
std::vector<Row> dayRows() {
  std::vector<Row> rows(4);
  rows[0].ts_us = kNov22 - 1;
  rows[1].ts_us = kNov22;
  rows[2].ts_us = kNov22 + 10 * kHour;
  rows[3].ts_us = kNov22 + kDay;
  rows[0].model = "a";
  rows[1].model = "b";
  rows[2].model = "c";
  rows[3].model = "d";
  return rows;
}

TEST(Report, SinceIsInclusiveAndUntilExclusive) {
  TempDb db;
  writeRows(db.path, dayRows());
  ReportOptions opt;
  opt.since_us = kNov22;
  opt.until_us = kNov22 + kDay;
  Report r = mustBuild(db.path, opt);
  EXPECT_EQ(r.total.requests, 2);
  EXPECT_EQ(r.total.model_counts, (std::vector<std::pair<std::string, int64_t>>{{"b", 1}, {"c", 1}}));
  opt.since_us = kNov22 + 10 * kHour;
  opt.until_us.reset();
  r = mustBuild(db.path, opt);
  EXPECT_EQ(r.total.model_counts, (std::vector<std::pair<std::string, int64_t>>{{"c", 1}, {"d", 1}}));
  opt.since_us.reset();
  opt.until_us = kNov22;
  r = mustBuild(db.path, opt);
  EXPECT_EQ(r.total.model_counts, (std::vector<std::pair<std::string, int64_t>>{{"a", 1}}));
}

TEST(Report, GroupsByUtcDay) {
  TempDb db;
  writeRows(db.path, dayRows());
  ReportOptions opt;
  opt.by = ReportGrouping::kDay;
  Report r = mustBuild(db.path, opt);
  ASSERT_EQ(groupNames(r), (std::vector<std::string>{"2026-11-21", "2026-11-22", "2026-11-23"}));
  EXPECT_EQ(r.groups[0].requests, 1);
  EXPECT_EQ(r.groups[1].requests, 2);
  EXPECT_EQ(r.groups[2].requests, 1);
}

TEST(Report, GroupsByKeyWithRowsWithoutAKeyTogether) {
  TempDb db;
  std::vector<Row> rows(5);
  rows[0].key = "k2";
  rows[1].key = "k1";
  rows[2].key = "k2";
  rows[2].cost = 7;
  writeRows(db.path, rows);
  ReportOptions opt;
  opt.by = ReportGrouping::kKey;
  Report r = mustBuild(db.path, opt);
  ASSERT_EQ(groupNames(r), (std::vector<std::string>{"(no key)", "k1", "k2"}));
  EXPECT_EQ(r.groups[0].requests, 2);
  EXPECT_EQ(r.groups[1].requests, 1);
  EXPECT_EQ(r.groups[2].requests, 2);
  EXPECT_EQ(r.groups[2].spend_nanos, 7);
}

TEST(Report, GroupsByModel) {
  TempDb db;
  writeRows(db.path, mixedRows());
  ReportOptions opt;
  opt.by = ReportGrouping::kModel;
  Report r = mustBuild(db.path, opt);
  ASSERT_EQ(groupNames(r), (std::vector<std::string>{"gpt-4", "mixtral-8x7b"}));
  EXPECT_EQ(r.groups[0].requests, 2);
  EXPECT_EQ(r.groups[0].spend_nanos, 10'000);
  EXPECT_EQ(r.groups[1].requests, 11);
  EXPECT_EQ(r.groups[1].spend_nanos, 800);
}

TEST(Report, EmptyLedgerGivesZeroTotals) {
  TempDb db;
  writeRows(db.path, {});
  Report r = mustBuild(db.path);
  EXPECT_TRUE(r.groups.empty());
  EXPECT_EQ(r.total.requests, 0);
  EXPECT_EQ(r.total.spend_nanos, 0);
  EXPECT_EQ(r.total.latency_p99.count(), 0);
  EXPECT_FALSE(r.total.savingsFraction());
  EXPECT_NE(formatReportJson(r).find("\"groups\":[],\"total\":{\"group\":\"TOTAL\",\"requests\":0"),
            std::string::npos)
      << formatReportJson(r);
}

TEST(Report, MissingFileIsAnIoErrorAndIsNotCreated) {
  TempDb db;
  auto r = buildReport(db.path.string(), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  EXPECT_NE(r.error().message.find(db.path.string()), std::string::npos) << r.error().message;
  EXPECT_FALSE(std::filesystem::exists(db.path));
}

TEST(Report, RefusesADatabaseThatIsNotALedger) {
  TempDb db;
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.path.c_str(), &h), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(h, "CREATE TABLE other (x INTEGER)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(h);
  auto r = buildReport(db.path.string(), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kCorruptData);
  EXPECT_NE(r.error().message.find("not a rightsize ledger"), std::string::npos) << r.error().message;
}

TEST(Report, RefusesAFileThatIsNotADatabase) {
  TempDb db;
  std::ofstream(db.path) << "this is not sqlite, just some text long enough to fill a header........\n";
  auto r = buildReport(db.path.string(), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kCorruptData) << r.error().message;
}

TEST(Report, TextTableShowsMixSavingsAndNotApplicable) {
  TempDb db;
  writeRows(db.path, mixedRows());
  std::string text = formatReportText(mustBuild(db.path));
  EXPECT_NE(text.find("mixtral-8x7b 80%, gpt-4 20%"), std::string::npos) << text;
  EXPECT_NE(text.find("78.4%"), std::string::npos) << text;  // chat savings
  EXPECT_NE(text.find("n/a"), std::string::npos) << text;    // extract has no reference spend
  EXPECT_NE(text.find("\nTOTAL "), std::string::npos) << text;
}

TEST(Report, JsonHasEveryFieldOfAGroup) {
  TempDb db;
  writeRows(db.path, mixedRows());
  ReportOptions opt;
  opt.since_us = kNov22 - kDay;
  std::string json = formatReportJson(mustBuild(db.path, opt));
  EXPECT_NE(json.find("{\"since\":\"2026-11-21T00:00:00Z\",\"until\":null,\"by\":\"route\",\"groups\":[{\"group\":"
                      "\"chat\",\"requests\":10,\"errors\":2,\"model_mix\":{\"mixtral-8x7b\":0.8,\"gpt-4\":0.2},"
                      "\"spend_usd\":1.08e-05,\"reference_spend_usd\":5e-05,\"savings_usd\":3.92e-05,"
                      "\"savings_pct\":78.4"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"latency_p50_ms\":5,\"latency_p99_ms\":10}"), std::string::npos) << json;
  EXPECT_NE(json.find("\"group\":\"extract\",\"requests\":3,\"errors\":0,\"model_mix\":{\"mixtral-8x7b\":1},"
                      "\"spend_usd\":0,\"reference_spend_usd\":0,\"savings_usd\":0,\"savings_pct\":null,"
                      "\"tokens_in\":0,\"tokens_out\":0,\"cached_tokens\":0,\"cache_write_tokens\":0,"
                      "\"reasoning_tokens\":0,\"usage_estimated\":0,\"cache_hit_rate\":null,\"rolled_up_requests\":0,"
                      "\"latency_p50_ms\":0.2,\"latency_p99_ms\":0.3}"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"total\":{\"group\":\"TOTAL\",\"requests\":13"), std::string::npos) << json;
}

TEST(ReportTime, ParsesDatesTimestampsAndDurationsBeforeNow) {
  auto now = fromEpochMicros(kNov22 + 12 * kHour);
  EXPECT_EQ(parseReportTime("2026-11-22", now).value(), kNov22);
  EXPECT_EQ(parseReportTime("2026-11-22T10:00:00Z", now).value(), kNov22 + 10 * kHour);
  EXPECT_EQ(parseReportTime("24h", now).value(), kNov22 - 12 * kHour);
  EXPECT_EQ(parseReportTime("7d", now).value(), kNov22 + 12 * kHour - 7 * kDay);
  EXPECT_EQ(parseReportTime("30m", now).value(), kNov22 + 12 * kHour - 30 * 60'000'000LL);
  EXPECT_EQ(parseReportTime("2024-02-29", now).value(), 1'709'164'800'000'000);
  EXPECT_EQ(formatReportTime(kNov22 + 10 * kHour + 5), "2026-11-22T10:00:00Z");
}

TEST(ReportTime, RejectsMalformedValues) {
  auto now = fromEpochMicros(kNov22);
  for (const char* bad : {"", "yesterday", "h", "-5h", "5x", "2w", "5 h", "2026-13-01", "2026-02-30", "2025-02-29",
                          "2026-11-22T10:00:00", "2026-11-22 10:00:00Z", "2026-11-22T24:00:00Z", "26-11-22",
                          "2026/11/22"}) {
    auto r = parseReportTime(bad, now);
    EXPECT_FALSE(r) << "'" << bad << "' parsed";
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
      EXPECT_NE(r.error().message.find("2026-11-22T10:00:00Z"), std::string::npos) << r.error().message;
    }
  }
}

TEST(ReportGrouping, ParsesTheFourGroupingsAndRejectsOthers) {
  EXPECT_EQ(parseReportGrouping("route").value(), ReportGrouping::kRoute);
  EXPECT_EQ(parseReportGrouping("key").value(), ReportGrouping::kKey);
  EXPECT_EQ(parseReportGrouping("day").value(), ReportGrouping::kDay);
  EXPECT_EQ(parseReportGrouping("model").value(), ReportGrouping::kModel);
  EXPECT_FALSE(parseReportGrouping("week"));
}

}  // namespace
}  // namespace rightsize::ledger
