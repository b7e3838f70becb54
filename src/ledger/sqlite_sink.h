#pragma once
// SqliteSink: the default ledger store, one SQLite file in WAL mode.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ledger/sink.h"

struct sqlite3;
struct sqlite3_stmt;

namespace rightsize::ledger {

class SqliteSink final : public LedgerSink {
 public:
  // Newest schema version this binary writes (see kMigrations in sqlite_sink.cc).
  static int latestSchemaVersion();

  // Opens (creating if needed) the database at `path` (":memory:" for a private in-memory
  // one), sets WAL journaling, synchronous=NORMAL and a busy timeout, and runs migrate().
  // Fails with kIo when the file cannot be opened, kCorruptData when it is not a database
  // or its schema is newer than this binary's.
  static Result<std::unique_ptr<SqliteSink>> open(const std::string& path);

  ~SqliteSink() override;
  SqliteSink(const SqliteSink&) = delete;
  SqliteSink& operator=(const SqliteSink&) = delete;

  Result<void> migrate() override;
  Result<void> writeBatch(std::span<const LedgerRecord> records) override;
  Result<void> writeFeedback(std::span<const FeedbackRecord> feedback) override;
  Result<void> writeShadowGrades(std::span<const ShadowGradeRecord> grades) override;
  Result<void> putResponse(const StoredResponse& r) override;
  Result<std::optional<StoredResponse>> getResponse(std::string_view id) override;
  Result<bool> deleteResponse(std::string_view id) override;
  Result<int64_t> purgeResponses(std::chrono::system_clock::time_point before) override;
  // Each day in its own BEGIN IMMEDIATE transaction (see sink.h).
  Result<int64_t> purgeRequests(std::chrono::system_clock::time_point before) override;

  // The schema version stored in the database (0 for an empty one).
  Result<int> schemaVersion();
  // Number of rows in the requests table.
  Result<int64_t> rowCount();
  // Up to `limit` rows in insertion order, starting after `offset` rows. For tests and
  // exports; the report queries live with the report command.
  Result<std::vector<LedgerRecord>> readRecords(int64_t limit, int64_t offset = 0);
  // Every feedback row in insertion order.
  Result<std::vector<FeedbackRecord>> readFeedback();
  // Every shadow_grades row in insertion order.
  Result<std::vector<ShadowGradeRecord>> readShadowGrades();
  // Every request_rollups row, ordered by day, route, key_id, model. For tests.
  Result<std::vector<RequestRollup>> readRollups();

 private:
  explicit SqliteSink(sqlite3* db) : db_(db) {}
  Result<void> exec(const char* sql);
  Error dbError(const char* what) const;

  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;           // prepared after migrate()
  sqlite3_stmt* insert_many_ = nullptr;      // kRowsPerInsert rows per step, prepared after migrate()
  sqlite3_stmt* insert_feedback_ = nullptr;  // prepared after migrate()
  sqlite3_stmt* insert_shadow_ = nullptr;    // prepared after migrate()
};

}  // namespace rightsize::ledger
