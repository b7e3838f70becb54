#include "ledger/sqlite_sink.h"

#include <sqlite3.h>

#include <gtest/gtest.h>

#include "ledger/report.h"
#include "ledger/spill.h"
#include "unit/ledger/ledger_test_util.h"

namespace rightsize::ledger {
namespace {

using testing::sampleRecord;
using testing::TempDir;

// Runs one SQL statement on its own connection and returns the first column of the first
// row as text ("" when there is none).
std::string queryOne(const std::filesystem::path& db_path, const char* sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  std::string out;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0)) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return out;
}

void execSql(const std::filesystem::path& db_path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

TEST(SqliteSink, StoresEveryRecordOfABatchWithEveryField) {
  auto sink = SqliteSink::open(":memory:");
  ASSERT_TRUE(sink) << sink.error().message;
  std::vector<LedgerRecord> batch;
  for (int i = 0; i < 250; ++i) batch.push_back(sampleRecord(i));
  ASSERT_TRUE((*sink)->writeBatch(std::span<const LedgerRecord>(batch.data(), 100)));
  ASSERT_TRUE((*sink)->writeBatch(std::span<const LedgerRecord>(batch.data() + 100, 150)));
  EXPECT_EQ((*sink)->rowCount().value(), 250);
  auto rows = (*sink)->readRecords(1000);
  ASSERT_TRUE(rows) << rows.error().message;
  ASSERT_EQ(rows->size(), 250u);
  for (size_t i = 0; i < rows->size(); ++i) EXPECT_EQ((*rows)[i], batch[i]) << "row " << i;
}

TEST(SqliteSink, StoresARepeatedRequestIdOnce) {
  auto sink = SqliteSink::open(":memory:");
  ASSERT_TRUE(sink);
  std::vector<LedgerRecord> batch = {sampleRecord(1), sampleRecord(2)};
  ASSERT_TRUE((*sink)->writeBatch(batch));
  ASSERT_TRUE((*sink)->writeBatch(batch));
  EXPECT_EQ((*sink)->rowCount().value(), 2);
}

TEST(SqliteSink, StoresNotApplicableValuesAsNull) {
  TempDir dir;
  auto path = dir.path / "ledger.db";
  {
    auto sink = SqliteSink::open(path.string());
    ASSERT_TRUE(sink);
    LedgerRecord r = sampleRecord(6);  // no key, no knob, not streamed
    ASSERT_TRUE(r.key_id.empty() && r.knob < 0 && r.ttft.count() < 0);
    ASSERT_TRUE((*sink)->writeBatch(std::span<const LedgerRecord>(&r, 1)));
  }
  EXPECT_EQ(queryOne(path, "SELECT count(*) FROM requests WHERE key_id IS NULL AND knob IS NULL AND ttft_us IS NULL"),
            "1");
}

TEST(SqliteSink, UsesWalJournalAndHasReportIndexes) {
  TempDir dir;
  auto path = dir.path / "ledger.db";
  ASSERT_TRUE(SqliteSink::open(path.string()));
  EXPECT_EQ(queryOne(path, "PRAGMA journal_mode"), "wal");
  for (const char* index : {"requests_ts_request_id", "feedback_request_id_ts"}) {
    std::string sql = fmt::format("SELECT count(*) FROM sqlite_master WHERE type='index' AND name='{}'", index);
    EXPECT_EQ(queryOne(path, sql.c_str()), "1") << index;
  }
  // Only one on requests: every further index costs each insert (two composite ones halved
  // throughput, a unique index on the random request id alone cost 7x).
  EXPECT_EQ(queryOne(path, "SELECT count(*) FROM sqlite_master WHERE type='index' AND sql IS NOT NULL "
                           "AND tbl_name='requests'"),
            "1");
}

TEST(SqliteSink, StoresTheSameClientRequestIdAtAnotherTimeAsAnotherRow) {
  auto sink = SqliteSink::open(":memory:");
  ASSERT_TRUE(sink);
  LedgerRecord a = sampleRecord(1), b = sampleRecord(1);
  b.time += std::chrono::seconds(5);
  std::vector<LedgerRecord> batch = {a, b, a};
  ASSERT_TRUE((*sink)->writeBatch(batch));
  EXPECT_EQ((*sink)->rowCount().value(), 2);
}

TEST(SqliteSink, MigratesAVersionOneDatabaseKeepingItsRows) {
  TempDir dir;
  auto path = dir.path / "ledger.db";
  // The version-1 schema as released (kMigrations[0]), with one row in it.
  execSql(path, R"sql(
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE requests (
  id INTEGER PRIMARY KEY, ts_us INTEGER NOT NULL, request_id TEXT NOT NULL, key_id TEXT,
  route TEXT NOT NULL, model TEXT NOT NULL, provider TEXT NOT NULL, candidates TEXT NOT NULL,
  knob REAL, decision_us INTEGER NOT NULL, tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL,
  cost_nanos INTEGER NOT NULL, reference_model TEXT NOT NULL, reference_cost_nanos INTEGER NOT NULL,
  latency_us INTEGER NOT NULL, ttft_us INTEGER, status INTEGER NOT NULL, error TEXT NOT NULL,
  attempts INTEGER NOT NULL, sensitive INTEGER NOT NULL, stream INTEGER NOT NULL);
CREATE UNIQUE INDEX requests_request_id ON requests(request_id);
CREATE INDEX requests_ts ON requests(ts_us);
INSERT INTO requests VALUES (1, 5, 'old', NULL, 'chat', 'm', 'p', 'm', NULL, 1, 2, 3, 4, 'm', 5, 6, NULL, 200, '',
  1, 0, 0);
)sql");
  auto sink = SqliteSink::open(path.string());
  ASSERT_TRUE(sink) << sink.error().message;
  EXPECT_EQ((*sink)->schemaVersion().value(), SqliteSink::latestSchemaVersion());
  EXPECT_EQ((*sink)->rowCount().value(), 1);
  LedgerRecord r = sampleRecord(3);
  r.prompt = "what is 2+2?";
  ASSERT_TRUE((*sink)->writeBatch(std::span<const LedgerRecord>(&r, 1)));
  auto rows = (*sink)->readRecords(10);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].request_id, "old");
  EXPECT_EQ((*rows)[0].prompt, "");
  EXPECT_EQ((*rows)[1], r);
}

TEST(SqliteSink, StoresFeedbackOnceEvenWhenWrittenTwice) {
  auto sink = SqliteSink::open(":memory:");
  ASSERT_TRUE(sink);
  std::vector<FeedbackRecord> fb = {{fromEpochMicros(1'000), "req-1", 0.25}, {fromEpochMicros(2'000), "req-1", 1.0},
                                    {fromEpochMicros(1'000), "unknown", 0.0}};
  ASSERT_TRUE((*sink)->writeFeedback(fb));
  ASSERT_TRUE((*sink)->writeFeedback(fb));
  auto got = (*sink)->readFeedback();
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(*got, fb);
}

TEST(SqliteSink, ReopeningAnUpToDateDatabaseChangesNothing) {
  TempDir dir;
  auto path = dir.path / "ledger.db";
  {
    auto sink = SqliteSink::open(path.string());
    ASSERT_TRUE(sink);
    EXPECT_EQ((*sink)->schemaVersion().value(), SqliteSink::latestSchemaVersion());
    std::vector<LedgerRecord> batch = {sampleRecord(1), sampleRecord(2), sampleRecord(3)};
    ASSERT_TRUE((*sink)->writeBatch(batch));
  }
  auto again = SqliteSink::open(path.string());
  ASSERT_TRUE(again) << again.error().message;
  ASSERT_TRUE((*again)->migrate());
  EXPECT_EQ((*again)->schemaVersion().value(), SqliteSink::latestSchemaVersion());
  EXPECT_EQ((*again)->rowCount().value(), 3);
  EXPECT_EQ(queryOne(path, "SELECT count(*) FROM schema_version"), "1");
}

TEST(SqliteSink, RefusesADatabaseFromANewerVersion) {
  TempDir dir;
  auto path = dir.path / "ledger.db";
  ASSERT_TRUE(SqliteSink::open(path.string()));
  execSql(path, "UPDATE schema_version SET version = 99");
  auto sink = SqliteSink::open(path.string());
  ASSERT_FALSE(sink);
  EXPECT_EQ(sink.error().code, ErrorCode::kCorruptData);
  EXPECT_NE(sink.error().message.find("newer"), std::string::npos) << sink.error().message;
  EXPECT_EQ(queryOne(path, "SELECT version FROM schema_version"), "99");  // left alone
}

TEST(SqliteSink, RefusesAFileThatIsNotADatabase) {
  TempDir dir;
  auto path = dir.path / "ledger.db";
  std::ofstream(path) << "this is not a database, just some text that is long enough to have a header\n";
  auto sink = SqliteSink::open(path.string());
  ASSERT_FALSE(sink);
  EXPECT_EQ(sink.error().code, ErrorCode::kCorruptData) << sink.error().message;
}

TEST(SqliteSink, RefusesAPathItCannotCreate) {
  TempDir dir;
  auto sink = SqliteSink::open((dir.path / "no-such-dir" / "ledger.db").string());
  ASSERT_FALSE(sink);
  EXPECT_EQ(sink.error().code, ErrorCode::kIo);
}

TEST(SpillLine, RoundTripsEveryField) {
  for (int i = 0; i < 40; ++i) {
    LedgerRecord r = sampleRecord(i);
    r.knob = i == 5 ? 0.1 + 0.2 : r.knob;  // a double with no short decimal form
    std::string line = toSpillLine(r);
    ASSERT_EQ(line.back(), '\n');
    ASSERT_EQ(line.find('\n'), line.size() - 1) << "one record, one line";
    auto back = parseSpillLine(line);
    ASSERT_TRUE(back) << back.error().message << "\n" << line;
    EXPECT_EQ(*back, r) << line;
  }
}

TEST(SpillLine, RejectsATruncatedOrIncompleteLine) {
  std::string line = toSpillLine(sampleRecord(1));
  EXPECT_FALSE(parseSpillLine(line.substr(0, line.size() / 2)));
  EXPECT_FALSE(parseSpillLine(R"({"request_id":"x"})"));
  EXPECT_FALSE(parseSpillLine(""));
}

TEST(SpillLine, FeedbackLinesRoundTripAndAreNotRecords) {
  FeedbackRecord f{fromEpochMicros(1'700'000'000'123'456), "req-\"7\"", 0.1 + 0.2};
  std::string line = toSpillLine(f);
  ASSERT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_TRUE(isFeedbackSpillLine(line));
  EXPECT_FALSE(isFeedbackSpillLine(toSpillLine(sampleRecord(1))));
  auto back = parseFeedbackSpillLine(line);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, f);
  EXPECT_FALSE(parseSpillLine(line));
  EXPECT_FALSE(parseFeedbackSpillLine(line.substr(0, line.size() / 2)));
  EXPECT_FALSE(parseFeedbackSpillLine(R"({"feedback":true,"ts_us":1,"request_id":"x","score":1.5})"));
}

}  // namespace
}  // namespace rightsize::ledger

namespace rightsize::ledger {
namespace {

TEST(SqliteSink, StoresResponsesAndPurgesThemByAge) {
  testing::TempDir dir;
  auto sink = SqliteSink::open((dir.path / "l.db").string());
  ASSERT_TRUE(sink) << sink.error().message;
  testing::checkResponseStorage(**sink);
}

TEST(SqliteSink, PurgesWholeDaysIntoRollupsAndKeepsTheReportTrue) {
  TempDir dir;
  const std::string path = (dir.path / "l.db").string();
  auto sink = SqliteSink::open(path);
  ASSERT_TRUE(sink) << sink.error().message;
  testing::checkRetention(**sink, [&](const ReportOptions& o) { return buildReport(path, o); });
}

TEST(SqliteSink, RollsUpEverySumOfADayRouteKeyAndModelAndDeletesItsFeedback) {
  TempDir dir;
  auto sink = SqliteSink::open((dir.path / "l.db").string());
  ASSERT_TRUE(sink) << sink.error().message;
  const int64_t day = 1'795'305'600'000'000;  // 2026-11-22T00:00:00Z
  std::vector<LedgerRecord> rows;
  for (int i = 0; i < 3; ++i) {
    LedgerRecord r = sampleRecord(i);
    r.time = fromEpochMicros(day + i * 3'600'000'000LL);
    r.route = "chat";
    r.key_id = i == 2 ? "" : "key-1";
    r.model = "m";
    r.status = i == 1 ? 429 : 200;
    r.tokens_in = 10 + i;
    r.tokens_out = 20 + i;
    r.cached_tokens = i;
    r.cache_write_tokens = 2 * i;
    r.reasoning_tokens = 3 * i;
    r.usage_estimated = i == 0;
    r.cost_nanos = 100 + i;
    r.reference_cost_nanos = 1000 + i;
    rows.push_back(r);
  }
  LedgerRecord next_day = rows[0];
  next_day.request_id = "next-day";
  next_day.time = fromEpochMicros(day + kMicrosPerDay);
  rows.push_back(next_day);
  ASSERT_TRUE((*sink)->writeBatch(rows));
  std::vector<FeedbackRecord> fb = {{rows[0].time, rows[0].request_id, 0.5}, {next_day.time, "next-day", 1.0}};
  ASSERT_TRUE((*sink)->writeFeedback(fb));
  // Cut at 23:59:59 of the next day: only the first day is whole.
  auto n = (*sink)->purgeRequests(fromEpochMicros(day + 2 * kMicrosPerDay - 1'000'000));
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 3);
  auto rollups = (*sink)->readRollups();
  ASSERT_TRUE(rollups) << rollups.error().message;
  std::vector<RequestRollup> want = {
      {day, "chat", "", "m", 1, 0, 12, 22, 2, 4, 6, 0, 102, 1002},
      {day, "chat", "key-1", "m", 2, 1, 21, 41, 1, 2, 3, 1, 201, 2001},
  };
  EXPECT_EQ(*rollups, want);
  auto left = (*sink)->readRecords(10);
  ASSERT_TRUE(left);
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].request_id, "next-day");
  auto fb_left = (*sink)->readFeedback();
  ASSERT_TRUE(fb_left);
  ASSERT_EQ(fb_left->size(), 1u);
  EXPECT_EQ((*fb_left)[0].request_id, "next-day");
}

TEST(SqliteSink, MigratesAVersion4LedgerToRollupsKeepingItsRows) {
  TempDir dir;
  const auto path = dir.path / "old.db";
  {
    auto sink = SqliteSink::open(path.string());
    ASSERT_TRUE(sink);
    std::vector<LedgerRecord> rows = {sampleRecord(1), sampleRecord(2)};
    ASSERT_TRUE((*sink)->writeBatch(rows));
  }
  // Back to version 4: what a ledger written by the previous release looks like.
  execSql(path, "DROP TABLE request_rollups");
  execSql(path, "DROP TABLE shadow_grades");  // migration 6, newer than version 4 too
  execSql(path, "UPDATE schema_version SET version = 4");
  auto report_v4 = buildReport(path.string(), {});
  ASSERT_TRUE(report_v4) << report_v4.error().message;  // a v4 ledger has no rollups to read
  EXPECT_EQ(report_v4->total.requests, 2);
  auto sink = SqliteSink::open(path.string());
  ASSERT_TRUE(sink) << sink.error().message;
  EXPECT_EQ((*sink)->schemaVersion().value(), SqliteSink::latestSchemaVersion());
  EXPECT_EQ((*sink)->rowCount().value(), 2);
  EXPECT_EQ(queryOne(path, "SELECT count(*) FROM request_rollups"), "0");
}

}  // namespace
}  // namespace rightsize::ledger
