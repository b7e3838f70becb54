// PostgresSink against a real server: set RS_TEST_PG_URL (e.g. the url printed by
// tests/node/lib/postgres.js's startPostgres()) to run these; without it they are skipped. The
// node test ledger_postgres.test.js always runs a server and covers the sink end to end.
#include "ledger/postgres_sink.h"

#include <libpq-fe.h>

#include <cstdlib>
#include <random>

#include <gtest/gtest.h>

#include "ledger/outcome_export.h"
#include "ledger/report.h"
#include "ledger/sqlite_sink.h"
#include "ledger/writer.h"
#include "unit/ledger/ledger_test_util.h"

namespace rightsize::ledger {
namespace {

using testing::sampleRecord;

// A fresh database on the RS_TEST_PG_URL server, dropped at scope exit.
class TestDatabase {
 public:
  TestDatabase() {
    const char* url = std::getenv("RS_TEST_PG_URL");
    if (!url || !*url) return;
    admin_ = PQconnectdb(url);
    if (PQstatus(admin_) != CONNECTION_OK) {
      error_ = PQerrorMessage(admin_);
      return;
    }
    std::random_device rd;
    name_ = fmt::format("rs_test_{:x}{:x}", rd(), rd());
    run(fmt::format("CREATE DATABASE {}", name_));
    // The same connection options with another dbname, as keyword=value pairs.
    PQconninfoOption* opts = PQconninfoParse(url, nullptr);
    for (PQconninfoOption* o = opts; o && o->keyword; ++o) {
      if (!o->val || std::string_view(o->keyword) == "dbname") continue;
      dsn_ += fmt::format("{}='{}' ", o->keyword, o->val);
    }
    PQconninfoFree(opts);
    dsn_ += fmt::format("dbname='{}'", name_);
  }
  ~TestDatabase() {
    if (!name_.empty()) run(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name_));
    if (admin_) PQfinish(admin_);
  }
  bool available() const { return !dsn_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& dsn() const { return dsn_; }
  void run(const std::string& sql) {
    PGresult* r = PQexec(admin_, sql.c_str());
    EXPECT_TRUE(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
        << sql << ": " << PQerrorMessage(admin_);
    PQclear(r);
  }
  // Runs SQL in the test database and returns the first value.
  std::string queryOne(const std::string& sql) {
    PGconn* c = PQconnectdb(dsn_.c_str());
    PGresult* r = PQexec(c, sql.c_str());
    std::string out = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    EXPECT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << sql << ": " << PQerrorMessage(c);
    PQclear(r);
    PQfinish(c);
    return out;
  }

 private:
  PGconn* admin_ = nullptr;
  std::string name_, dsn_, error_;
};

#define REQUIRE_PG(db)                                                           \
  TestDatabase db;                                                               \
  if (!db.available()) {                                                         \
    if (!db.error().empty()) FAIL() << "RS_TEST_PG_URL: " << db.error();         \
    GTEST_SKIP() << "set RS_TEST_PG_URL to run the PostgreSQL sink tests";       \
  }

TEST(PostgresSink, StoresEveryRecordOfABatchWithEveryField) {
  REQUIRE_PG(db);
  auto sink = PostgresSink::open(db.dsn());
  ASSERT_TRUE(sink) << sink.error().message;
  std::vector<LedgerRecord> batch;
  for (int i = 0; i < 2500; ++i) batch.push_back(sampleRecord(i));  // more than one statement's rows
  ASSERT_TRUE((*sink)->writeBatch(std::span<const LedgerRecord>(batch.data(), 100)));
  auto r = (*sink)->writeBatch(std::span<const LedgerRecord>(batch.data() + 100, 2400));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*sink)->rowCount().value(), 2500);
  auto rows = (*sink)->readRecords(10000);
  ASSERT_TRUE(rows) << rows.error().message;
  ASSERT_EQ(rows->size(), 2500u);
  for (size_t i = 0; i < rows->size(); ++i) EXPECT_EQ((*rows)[i], batch[i]) << "row " << i;
  EXPECT_EQ(db.queryOne("SELECT count(*) FROM requests WHERE key_id IS NULL AND knob IS NULL AND ttft_us IS NULL "
                        "AND request_id = 'req-000006'"),
            "1");
}

TEST(PostgresSink, StoresARepeatedRowOnceAndTheSameIdAtAnotherTimeTwice) {
  REQUIRE_PG(db);
  auto sink = PostgresSink::open(db.dsn());
  ASSERT_TRUE(sink) << sink.error().message;
  LedgerRecord a = sampleRecord(1), b = sampleRecord(1);
  b.time += std::chrono::seconds(3);
  std::vector<LedgerRecord> batch = {a, b};
  ASSERT_TRUE((*sink)->writeBatch(batch));
  ASSERT_TRUE((*sink)->writeBatch(batch));
  EXPECT_EQ((*sink)->rowCount().value(), 2);
}

TEST(PostgresSink, ReplacesInvalidUtf8AndNulInsteadOfFailingTheBatch) {
  REQUIRE_PG(db);
  auto sink = PostgresSink::open(db.dsn());
  ASSERT_TRUE(sink);
  LedgerRecord r = sampleRecord(2);
  r.error = std::string("bad \xff\xfe bytes and a NUL \0 here", 29);
  ASSERT_TRUE((*sink)->writeBatch(std::span<const LedgerRecord>(&r, 1)));
  auto rows = (*sink)->readRecords(10);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].error, "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes and a NUL \xEF\xBF\xBD here");
}

TEST(PostgresSink, MigratesOnceAndRefusesANewerSchema) {
  REQUIRE_PG(db);
  {
    auto sink = PostgresSink::open(db.dsn());
    ASSERT_TRUE(sink) << sink.error().message;
    EXPECT_EQ((*sink)->schemaVersion().value(), PostgresSink::latestSchemaVersion());
    auto again = PostgresSink::open(db.dsn());  // up to date: changes nothing
    ASSERT_TRUE(again) << again.error().message;
  }
  EXPECT_EQ(db.queryOne("SELECT count(*) FROM schema_version"), "1");
  db.queryOne("SELECT 1");
  {
    PGconn* c = PQconnectdb(db.dsn().c_str());
    PQclear(PQexec(c, "UPDATE schema_version SET version = 99"));
    PQfinish(c);
  }
  auto sink = PostgresSink::open(db.dsn());
  ASSERT_FALSE(sink);
  EXPECT_EQ(sink.error().code, ErrorCode::kCorruptData);
  EXPECT_NE(sink.error().message.find("newer"), std::string::npos) << sink.error().message;
  EXPECT_EQ(db.queryOne("SELECT version FROM schema_version"), "99");
}

TEST(PostgresSink, OpenExistingRefusesAnEmptyDatabaseAndChangesNothing) {
  REQUIRE_PG(db);
  auto sink = PostgresSink::openExisting(db.dsn());
  ASSERT_FALSE(sink);
  EXPECT_EQ(sink.error().code, ErrorCode::kCorruptData);
  EXPECT_EQ(db.queryOne("SELECT to_regclass('schema_version') IS NULL"), "t");
}

TEST(PostgresSink, UnreachableServerIsAnIoError) {
  // Port 1 on loopback: nothing listens there.
  auto sink = PostgresSink::open("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2");
  ASSERT_FALSE(sink);
  EXPECT_EQ(sink.error().code, ErrorCode::kIo);
  EXPECT_NE(sink.error().message.find("cannot connect"), std::string::npos) << sink.error().message;
}

TEST(PostgresSink, ReconnectsAfterTheServerDroppedItsConnection) {
  REQUIRE_PG(db);
  auto sink = PostgresSink::open(db.dsn());
  ASSERT_TRUE(sink);
  LedgerRecord a = sampleRecord(1), b = sampleRecord(2);
  ASSERT_TRUE((*sink)->writeBatch(std::span<const LedgerRecord>(&a, 1)));
  // What a server restart or a killed backend looks like to the sink.
  EXPECT_EQ(db.queryOne("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = "
                        "current_database() AND application_name = 'rightsize'"),
            "1");
  // The first write may find the connection dead (the writer retries it); the next one reconnects.
  auto first = (*sink)->writeBatch(std::span<const LedgerRecord>(&b, 1));
  if (!first) {
    EXPECT_EQ(first.error().code, ErrorCode::kIo);
    auto second = (*sink)->writeBatch(std::span<const LedgerRecord>(&b, 1));
    ASSERT_TRUE(second) << second.error().message;
  }
  EXPECT_EQ((*sink)->rowCount().value(), 2);
}

TEST(PostgresSink, StoresResponsesAndPurgesThemByAge) {
  REQUIRE_PG(db);
  auto sink = PostgresSink::open(db.dsn());
  ASSERT_TRUE(sink) << sink.error().message;
  testing::checkResponseStorage(**sink);
}

TEST(PostgresSink, StoresFeedbackOnce) {
  REQUIRE_PG(db);
  auto sink = PostgresSink::open(db.dsn());
  ASSERT_TRUE(sink);
  std::vector<FeedbackRecord> fb = {{fromEpochMicros(1'000), "req-1", 0.25}, {fromEpochMicros(2'000), "req-1", 1.0}};
  ASSERT_TRUE((*sink)->writeFeedback(fb));
  ASSERT_TRUE((*sink)->writeFeedback(fb));
  auto got = (*sink)->readFeedback();
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(*got, fb);
}

TEST(PostgresSink, StoresShadowGradesOnceWithEveryField) {
  REQUIRE_PG(db);
  auto sink = PostgresSink::open(db.dsn());
  ASSERT_TRUE(sink);
  ShadowGradeRecord a;
  a.time = fromEpochMicros(1'000);
  a.request_id = "req-1";
  a.route = "auto";
  a.model = "small";
  a.yardstick = "big";
  a.result = "agree";
  a.cost_nanos = 1234;
  a.yardstick_cost_nanos = 1000;
  a.prompt = "what is 2+2? é";
  ShadowGradeRecord b = a;
  b.time = fromEpochMicros(2'000);
  b.result = "scored";
  b.served_score = 0.7;
  b.yardstick_score = 0.9;
  b.prompt = "";  // sensitive: NULL
  ShadowGradeRecord c = a;
  c.time = fromEpochMicros(3'000);
  c.result = "error";
  c.error = "yardstick: timeout";
  std::vector<ShadowGradeRecord> rows = {a, b, c};
  ASSERT_TRUE((*sink)->writeShadowGrades(rows));
  ASSERT_TRUE((*sink)->writeShadowGrades(rows));
  auto got = (*sink)->readShadowGrades();
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(*got, rows);
}

TEST(PostgresSink, ShadowReportAndOutcomesMatchSqlites) {
  REQUIRE_PG(db);
  testing::TempDir dir;
  auto pg = PostgresSink::open(db.dsn());
  auto lite = SqliteSink::open((dir.path / "l.db").string());
  ASSERT_TRUE(pg && lite);
  std::vector<LedgerRecord> batch;
  std::vector<ShadowGradeRecord> grades;
  const char* results[] = {"agree", "disagree", "scored", "error"};
  for (int i = 0; i < 40; ++i) {
    batch.push_back(sampleRecord(i));
    ShadowGradeRecord g;
    g.time = batch.back().time;
    g.request_id = batch.back().request_id;
    g.route = batch.back().route;
    g.model = batch.back().model == "gpt-4o" ? "gpt-4o-mini" : batch.back().model;
    g.yardstick = "gpt-4o";
    g.result = results[i % 4];
    if (g.result == "scored") {
      g.served_score = 0.1 * (i % 10);
      g.yardstick_score = 0.9;
    }
    g.cost_nanos = 500 + i;
    g.yardstick_cost_nanos = 400 + i;
    g.prompt = i % 5 == 0 ? "" : fmt::format("ask {}", i);
    grades.push_back(std::move(g));
  }
  ASSERT_TRUE((*pg)->writeBatch(batch));
  ASSERT_TRUE((*lite)->writeBatch(batch));
  ASSERT_TRUE((*pg)->writeShadowGrades(grades));
  ASSERT_TRUE((*lite)->writeShadowGrades(grades));
  auto a = buildReportPostgres(db.dsn(), {});
  auto b = buildReport((dir.path / "l.db").string(), {});
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_FALSE(a->shadow.empty());
  EXPECT_EQ(formatReportJson(*a), formatReportJson(*b));
  EXPECT_EQ(formatReportText(*a), formatReportText(*b));
  const auto out_pg = dir.path / "pg.jsonl", out_lite = dir.path / "lite.jsonl";
  auto ea = exportOutcomes(LedgerSource{LedgerSource::Kind::kPostgres, db.dsn()}, out_pg.string());
  auto eb = exportOutcomes(LedgerSource{LedgerSource::Kind::kSqlite, (dir.path / "l.db").string()}, out_lite.string());
  ASSERT_TRUE(ea) << ea.error().message;
  ASSERT_TRUE(eb) << eb.error().message;
  EXPECT_GT(ea->shadow_written, 0);
  EXPECT_EQ(ea->shadow_written, eb->shadow_written);
  EXPECT_EQ(testing::readLines(out_pg), testing::readLines(out_lite));
}

TEST(PostgresSink, ReportMatchesTheSqliteReportOfTheSameRows) {
  REQUIRE_PG(db);
  testing::TempDir dir;
  auto pg = PostgresSink::open(db.dsn());
  auto lite = SqliteSink::open((dir.path / "l.db").string());
  ASSERT_TRUE(pg && lite);
  std::vector<LedgerRecord> batch;
  for (int i = 0; i < 300; ++i) {
    batch.push_back(sampleRecord(i));
    batch.back().time += std::chrono::hours(i);  // several UTC days
  }
  ASSERT_TRUE((*pg)->writeBatch(batch));
  ASSERT_TRUE((*lite)->writeBatch(batch));
  for (auto by : {ReportGrouping::kRoute, ReportGrouping::kKey, ReportGrouping::kDay, ReportGrouping::kModel}) {
    ReportOptions o;
    o.by = by;
    o.since_us = toEpochMicros(batch[10].time);
    auto a = buildReportPostgres(db.dsn(), o);
    auto b = buildReport((dir.path / "l.db").string(), o);
    ASSERT_TRUE(a) << a.error().message;
    ASSERT_TRUE(b) << b.error().message;
    EXPECT_EQ(formatReportJson(*a), formatReportJson(*b)) << reportGroupingName(by);
    EXPECT_EQ(a->total.requests, 290);
  }
}

TEST(PostgresSink, WriterThroughPostgresLosesNothingFromManyThreads) {
  REQUIRE_PG(db);
  auto sink = PostgresSink::open(db.dsn());
  ASSERT_TRUE(sink);
  testing::TempDir dir;
  WriterOptions o;
  o.spill_path = dir.path / "spill.jsonl";
  o.flush_interval = std::chrono::milliseconds(5);
  LedgerWriter w(**sink, o);
  w.start();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) w.submit(sampleRecord(t * 1000 + i));
    });
  }
  for (auto& th : threads) th.join();
  w.flushAndStop();
  EXPECT_EQ(w.stats().written, 4000u);
  EXPECT_EQ(w.stats().spilled, 0u);
  EXPECT_EQ((*sink)->rowCount().value(), 4000);
}

TEST(PostgresSink, PurgesWholeDaysIntoRollupsAndKeepsTheReportTrue) {
  REQUIRE_PG(db);
  auto sink = PostgresSink::open(db.dsn());
  ASSERT_TRUE(sink) << sink.error().message;
  testing::checkRetention(**sink, [&](const ReportOptions& o) { return buildReportPostgres(db.dsn(), o); });
}

TEST(PostgresSink, RollupsAndReportAfterAPurgeEqualSqlites) {
  REQUIRE_PG(db);
  testing::TempDir dir;
  const std::string path = (dir.path / "l.db").string();
  auto pg = PostgresSink::open(db.dsn());
  auto lite = SqliteSink::open(path);
  ASSERT_TRUE(pg && lite);
  std::vector<LedgerRecord> batch;
  for (int i = 0; i < 300; ++i) {
    batch.push_back(sampleRecord(i));
    batch.back().time += std::chrono::hours(i);
  }
  ASSERT_TRUE((*pg)->writeBatch(batch));
  ASSERT_TRUE((*lite)->writeBatch(batch));
  EXPECT_EQ((*pg)->purgeRequests(batch[150].time).value(), (*lite)->purgeRequests(batch[150].time).value());
  auto a = (*pg)->readRollups();
  auto b = (*lite)->readRollups();
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(a->empty());
  EXPECT_EQ(*a, *b);
  for (auto by : {ReportGrouping::kRoute, ReportGrouping::kKey, ReportGrouping::kDay, ReportGrouping::kModel}) {
    ReportOptions o;
    o.by = by;
    auto x = buildReportPostgres(db.dsn(), o);
    auto y = buildReport(path, o);
    ASSERT_TRUE(x && y);
    EXPECT_EQ(formatReportJson(*x), formatReportJson(*y)) << reportGroupingName(by);
  }
}

}  // namespace
}  // namespace rightsize::ledger
