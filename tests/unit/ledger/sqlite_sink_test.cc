#include "ledger/sqlite_sink.h"

#include <sqlite3.h>

#include <gtest/gtest.h>

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
  for (const char* index : {"requests_ts", "requests_request_id"}) {
    std::string sql = fmt::format("SELECT count(*) FROM sqlite_master WHERE type='index' AND name='{}'", index);
    EXPECT_EQ(queryOne(path, sql.c_str()), "1") << index;
  }
  // Only these two: every further index costs each insert (two composite ones halved throughput).
  EXPECT_EQ(queryOne(path, "SELECT count(*) FROM sqlite_master WHERE type='index' AND sql IS NOT NULL"), "2");
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

}  // namespace
}  // namespace rightsize::ledger
