#pragma once
// PostgresSink: the ledger for several replicas, one PostgreSQL database shared by all of them
// (libpq). Same rows, same idempotence and same migration scheme as SqliteSink.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ledger/sink.h"

struct pg_conn;

namespace rightsize::ledger {

class PostgresSink final : public LedgerSink {
 public:
  // Newest schema version this binary writes (see kMigrations in postgres_sink.cc). PostgreSQL
  // has its own version sequence, independent of SQLite's.
  static int latestSchemaVersion();

  // Connects to `dsn` (a libpq URI "postgresql://user@host:port/db" or "key=value" string;
  // connect_timeout defaults to 5 s) and runs migrate(). Fails with kIo when the server cannot
  // be reached or refuses the login, kCorruptData when the schema is newer than this binary's.
  static Result<std::unique_ptr<PostgresSink>> open(const std::string& dsn);

  // Connects without migrating, for readers (`rightsize report`, `export-outcomes`): fails with
  // kCorruptData when the database holds no rightsize ledger or a newer schema. Never changes
  // the database.
  static Result<std::unique_ptr<PostgresSink>> openExisting(const std::string& dsn);

  ~PostgresSink() override;
  PostgresSink(const PostgresSink&) = delete;
  PostgresSink& operator=(const PostgresSink&) = delete;

  // One transaction under a cluster-wide advisory lock, so replicas starting together apply
  // each migration once.
  Result<void> migrate() override;
  // One multi-row INSERT ... ON CONFLICT DO NOTHING per 1,000 rows, in one transaction. Text
  // that is not valid UTF-8 (or holds NUL bytes) is stored with those bytes replaced by U+FFFD,
  // so one bad upstream error message cannot make a batch fail forever. A broken connection is
  // re-established on the next call.
  Result<void> writeBatch(std::span<const LedgerRecord> records) override;
  Result<void> writeFeedback(std::span<const FeedbackRecord> feedback) override;
  Result<void> writeShadowGrades(std::span<const ShadowGradeRecord> grades) override;
  Result<void> putResponse(const StoredResponse& r) override;
  Result<std::optional<StoredResponse>> getResponse(std::string_view id) override;
  Result<bool> deleteResponse(std::string_view id) override;
  Result<int64_t> purgeResponses(std::chrono::system_clock::time_point before) override;
  // Each day in its own transaction under an advisory lock (replicas purging together roll up
  // each row once); rows are rolled up and deleted by one statement (see sink.h).
  Result<int64_t> purgeRequests(std::chrono::system_clock::time_point before) override;

  // The schema version stored in the database (0 for an empty one).
  Result<int> schemaVersion();
  Result<int64_t> rowCount();
  // Up to `limit` rows ordered by id (insertion order per replica), after `offset` rows.
  Result<std::vector<LedgerRecord>> readRecords(int64_t limit, int64_t offset = 0);
  Result<std::vector<FeedbackRecord>> readFeedback();
  // Every shadow_grades row in insertion order.
  Result<std::vector<ShadowGradeRecord>> readShadowGrades();
  // Every request_rollups row, ordered by day, route, key_id, model. For tests.
  Result<std::vector<RequestRollup>> readRollups();

  // Runs a read-only query with text parameters and calls `row` with each result row's
  // values (nullptr for SQL NULL). For the report and the outcome export.
  using RowFn = std::function<void(const char* const* values, int columns)>;
  Result<void> query(const std::string& sql, const std::vector<std::string>& params, const RowFn& row);

 private:
  explicit PostgresSink(pg_conn* conn, std::string dsn) : conn_(conn), dsn_(std::move(dsn)) {}
  static Result<pg_conn*> connect(const std::string& dsn);
  Result<void> ensureConnected();
  Result<void> exec(const char* sql);
  // One statement with text parameters (nullptr = NULL); the number of rows it changed.
  Result<int64_t> command(const char* sql, const char* const* values, int count);
  Error connError(const char* what) const;

  pg_conn* conn_ = nullptr;
  std::string dsn_;
};

}  // namespace rightsize::ledger
