#include "ledger/sqlite_sink.h"

#include <sqlite3.h>

#include <algorithm>

#include <fmt/format.h>

#include "ledger/migrations.h"
#include "ledger/sqlite_handles.h"

namespace rightsize::ledger {
namespace {

// Append-only: a released migration is never edited; a schema change is a new entry.
// Money columns are integer nano-dollars, times integer microseconds (since the epoch for
// ts_us). NULL marks "not applicable": key_id without a key, knob without a knob, ttft_us
// for a non-streamed request.
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE requests (
  id                   INTEGER PRIMARY KEY,
  ts_us                INTEGER NOT NULL,
  request_id           TEXT    NOT NULL,
  key_id               TEXT,
  route                TEXT    NOT NULL,
  model                TEXT    NOT NULL,
  provider             TEXT    NOT NULL,
  candidates           TEXT    NOT NULL,
  knob                 REAL,
  decision_us          INTEGER NOT NULL,
  tokens_in            INTEGER NOT NULL,
  tokens_out           INTEGER NOT NULL,
  cost_nanos           INTEGER NOT NULL,
  reference_model      TEXT    NOT NULL,
  reference_cost_nanos INTEGER NOT NULL,
  latency_us           INTEGER NOT NULL,
  ttft_us              INTEGER,
  status               INTEGER NOT NULL,
  error                TEXT    NOT NULL,
  attempts             INTEGER NOT NULL,
  sensitive            INTEGER NOT NULL,
  stream               INTEGER NOT NULL
);
CREATE UNIQUE INDEX requests_request_id ON requests(request_id);
CREATE INDEX requests_ts ON requests(ts_us);
)sql"},
    // 2: the unique key becomes (ts_us, request_id). A unique index on the random request id
    // alone made every insert touch a random B-tree page (27k rows/s in rs_ledger_bench with
    // gateway-style ids, ~19 us of writer CPU per row); (ts_us, request_id) grows at its right
    // edge, serves the report's time range, and still makes a replayed row a no-op. It also
    // stops a client that reuses an x-request-id at another time from losing the second row.
    // Adds the optional prompt (ledger.store_prompts), attempts_detail (cascade attempts and
    // budget caps, a JSON array) and POST /v1/feedback's table.
    {2, R"sql(
DROP INDEX requests_request_id;
DROP INDEX requests_ts;
CREATE UNIQUE INDEX requests_ts_request_id ON requests(ts_us, request_id);
ALTER TABLE requests ADD COLUMN prompt TEXT;
ALTER TABLE requests ADD COLUMN attempts_detail TEXT;
CREATE TABLE feedback (
  id         INTEGER PRIMARY KEY,
  ts_us      INTEGER NOT NULL,
  request_id TEXT    NOT NULL,
  score      REAL    NOT NULL
);
CREATE UNIQUE INDEX feedback_request_id_ts ON feedback(request_id, ts_us);
)sql"},
    // 3: prompt caching and reasoning. tokens_in still counts every input token; these say how
    // many of them were cache reads and cache writes (priced at their own rates), and how many
    // of tokens_out were reasoning. usage_estimated: the upstream sent no usage.
    {3, R"sql(
ALTER TABLE requests ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0;
)sql"},
    // 4: stored responses of POST /v1/responses (store, previous_response_id), deleted after
    // the retention (responses.retention). conversation and response are NULL for a sensitive
    // request: its content is never stored.
    {4, R"sql(
CREATE TABLE responses (
  id           TEXT    PRIMARY KEY,
  ts_us        INTEGER NOT NULL,
  key_id       TEXT,
  sensitive    INTEGER NOT NULL,
  conversation TEXT,
  response     TEXT
);
CREATE INDEX responses_ts ON responses(ts_us);
)sql"},
    // 5: ledger retention (ledger.retention_days). Request rows older than the retention are
    // summed here per UTC day x route x key x model, then deleted, so `rightsize report` keeps
    // its totals, spend, savings and model mix. day_us: UTC midnight, microseconds since the
    // epoch. key_id '' = no key (a primary key column cannot hold NULL usefully: NULLs never
    // conflict, so re-rolled rows would not add up).
    {5, R"sql(
CREATE TABLE request_rollups (
  day_us               INTEGER NOT NULL,
  route                TEXT    NOT NULL,
  key_id               TEXT    NOT NULL,
  model                TEXT    NOT NULL,
  requests             INTEGER NOT NULL,
  errors               INTEGER NOT NULL,
  tokens_in            INTEGER NOT NULL,
  tokens_out           INTEGER NOT NULL,
  cached_tokens        INTEGER NOT NULL,
  cache_write_tokens   INTEGER NOT NULL,
  reasoning_tokens     INTEGER NOT NULL,
  usage_estimated      INTEGER NOT NULL,
  cost_nanos           INTEGER NOT NULL,
  reference_cost_nanos INTEGER NOT NULL,
  PRIMARY KEY (day_us, route, key_id, model)
);
)sql"},
    // 6: shadow evaluation (docs/shadow.md): one row per shadowed request, its grade against the
    // yardstick model and the shadow spend. Scores are in [0, 1], NULL when the result has none;
    // prompt is NULL for a sensitive request.
    {6, R"sql(
CREATE TABLE shadow_grades (
  id              INTEGER PRIMARY KEY,
  ts_us           INTEGER NOT NULL,
  request_id      TEXT    NOT NULL,
  route           TEXT    NOT NULL,
  model           TEXT    NOT NULL,
  yardstick       TEXT    NOT NULL,
  result          TEXT    NOT NULL,
  served_score    REAL,
  yardstick_score REAL,
  cost_nanos      INTEGER NOT NULL,
  yardstick_cost_nanos INTEGER NOT NULL,
  prompt          TEXT,
  error           TEXT    NOT NULL,
  served_answer   TEXT,
  yardstick_answer TEXT
);
CREATE UNIQUE INDEX shadow_grades_ts_request_id ON shadow_grades(ts_us, request_id);
)sql"},
};

constexpr int kLatest = kMigrations[std::size(kMigrations) - 1].version;

// Rows per multi-row INSERT: one statement step stores this many rows, which halves the writer's
// CPU per row against one step per row (rs_ledger_bench). 32 x 27 = 864 parameters, far below
// SQLite's limit (32,766).
constexpr size_t kRowsPerInsert = 32;

// "INSERT OR IGNORE INTO requests (...) VALUES (?,...,?),(?,...)" for `rows` rows.
std::string insertSql(size_t rows) {
  std::string sql = R"sql(INSERT OR IGNORE INTO requests (ts_us, request_id, key_id, route, model, provider,
  candidates, knob, decision_us, tokens_in, tokens_out, cost_nanos, reference_model, reference_cost_nanos,
  latency_us, ttft_us, status, error, attempts, sensitive, stream, prompt, attempts_detail, cached_tokens,
  cache_write_tokens, reasoning_tokens, usage_estimated) VALUES )sql";
  for (size_t r = 0; r < rows; ++r) {
    sql += r ? ",(" : "(";
    for (int c = 0; c < kRecordColumns; ++c) sql += c ? ",?" : "?";
    sql += ')';
  }
  return sql;
}

constexpr const char* kInsertShadowSql =
    "INSERT OR IGNORE INTO shadow_grades (ts_us, request_id, route, model, yardstick, result, served_score, "
    "yardstick_score, cost_nanos, prompt, error, yardstick_cost_nanos, served_answer, yardstick_answer) VALUES (?1, ?2, "
    "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

constexpr const char* kInsertFeedbackSql =
    "INSERT OR IGNORE INTO feedback (ts_us, request_id, score) VALUES (?1, ?2, ?3)";


void bindText(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}

// Binds one record to parameters base+1 .. base+kRecordColumns. Texts are bound SQLITE_STATIC: they
// must outlive the statement's next reset/clear.
void bindRecord(sqlite3_stmt* s, int base, const LedgerRecord& rec) {
  sqlite3_bind_int64(s, base + 1, toEpochMicros(rec.time));
  bindText(s, base + 2, rec.request_id);
  if (rec.key_id.empty()) sqlite3_bind_null(s, base + 3); else bindText(s, base + 3, rec.key_id);
  bindText(s, base + 4, rec.route);
  bindText(s, base + 5, rec.model);
  bindText(s, base + 6, rec.provider);
  bindText(s, base + 7, rec.candidates);
  if (rec.knob < 0) sqlite3_bind_null(s, base + 8); else sqlite3_bind_double(s, base + 8, rec.knob);
  sqlite3_bind_int64(s, base + 9, rec.decision.count());
  sqlite3_bind_int64(s, base + 10, rec.tokens_in);
  sqlite3_bind_int64(s, base + 11, rec.tokens_out);
  sqlite3_bind_int64(s, base + 12, rec.cost_nanos);
  bindText(s, base + 13, rec.reference_model);
  sqlite3_bind_int64(s, base + 14, rec.reference_cost_nanos);
  sqlite3_bind_int64(s, base + 15, rec.latency.count());
  if (rec.ttft.count() < 0) sqlite3_bind_null(s, base + 16); else sqlite3_bind_int64(s, base + 16, rec.ttft.count());
  sqlite3_bind_int(s, base + 17, rec.status);
  bindText(s, base + 18, rec.error);
  sqlite3_bind_int(s, base + 19, rec.attempts);
  sqlite3_bind_int(s, base + 20, rec.sensitive ? 1 : 0);
  sqlite3_bind_int(s, base + 21, rec.stream ? 1 : 0);
  if (rec.prompt.empty()) sqlite3_bind_null(s, base + 22); else bindText(s, base + 22, rec.prompt);
  if (rec.attempts_detail.empty()) sqlite3_bind_null(s, base + 23); else bindText(s, base + 23, rec.attempts_detail);
  sqlite3_bind_int64(s, base + 24, rec.cached_tokens);
  sqlite3_bind_int64(s, base + 25, rec.cache_write_tokens);
  sqlite3_bind_int64(s, base + 26, rec.reasoning_tokens);
  sqlite3_bind_int(s, base + 27, rec.usage_estimated ? 1 : 0);
}

}  // namespace

int SqliteSink::latestSchemaVersion() { return kLatest; }

Result<std::unique_ptr<SqliteSink>> SqliteSink::open(const std::string& path) {
  sqlite3* db = nullptr;
  // NOMUTEX: a sink is used by one thread at a time (see sink.h).
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return fail(ErrorCode::kIo, fmt::format("ledger: cannot open {}: {}", path, msg));
  }
  std::unique_ptr<SqliteSink> sink(new SqliteSink(db));
  sqlite3_extended_result_codes(db, 1);
  // Several processes (a `rightsize report` next to the server) may share the file.
  sqlite3_busy_timeout(db, 5000);
  // journal_mode returns a row; exec() ignores it. A file that is not a database fails here.
  if (auto r = sink->exec("PRAGMA journal_mode=WAL"); !r) {
    return fail(ErrorCode::kCorruptData, r.error().message);
  }
  // NORMAL in WAL: a commit survives a process crash; a power loss can lose the last
  // commits but never corrupts the file.
  if (auto r = sink->exec("PRAGMA synchronous=NORMAL"); !r) return fail(r.error());
  if (auto r = sink->migrate(); !r) return fail(r.error());
  return sink;
}

SqliteSink::~SqliteSink() {
  sqlite3_finalize(insert_);
  sqlite3_finalize(insert_many_);
  sqlite3_finalize(insert_feedback_);
  sqlite3_finalize(insert_shadow_);
  sqlite3_close(db_);
}

Error SqliteSink::dbError(const char* what) const {
  int code = sqlite3_errcode(db_);
  ErrorCode ec = (code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB
                     ? ErrorCode::kCorruptData
                     : ErrorCode::kIo;
  return Error{ec, fmt::format("ledger: {}: {}", what, sqlite3_errmsg(db_))};
}

Result<void> SqliteSink::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    Error e = dbError("sql");
    e.message = fmt::format("ledger: {}", msg);
    return fail(std::move(e));
  }
  return {};
}

Result<int> SqliteSink::schemaVersion() {
  StmtGuard g;
  // sqlite_master tells whether the version table exists yet (an empty database has none).
  if (sqlite3_prepare_v2(db_,
                         "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='schema_version'",
                         -1, &g.s, nullptr) != SQLITE_OK ||
      sqlite3_step(g.s) != SQLITE_ROW) {
    return fail(dbError("reading schema"));
  }
  if (sqlite3_column_int(g.s, 0) == 0) return 0;
  StmtGuard v;
  if (sqlite3_prepare_v2(db_, "SELECT max(version) FROM schema_version", -1, &v.s, nullptr) != SQLITE_OK ||
      sqlite3_step(v.s) != SQLITE_ROW) {
    return fail(dbError("reading schema_version"));
  }
  return sqlite3_column_int(v.s, 0);  // NULL (no row) reads as 0
}

Result<void> SqliteSink::migrate() {
  // IMMEDIATE takes the write lock up front, so two processes opening one new file do
  // not both apply migration 1.
  if (auto r = applyMigrations([this](const char* sql) { return exec(sql); }, [this] { return schemaVersion(); },
                               kMigrations, "BEGIN IMMEDIATE", nullptr, "database"); !r) return r;
  for (auto [stmt, rows] : {std::pair{&insert_, size_t{1}}, std::pair{&insert_many_, kRowsPerInsert}}) {
    if (*stmt) continue;
    std::string sql = insertSql(rows);
    if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, stmt, nullptr) != SQLITE_OK) {
      return fail(dbError("preparing insert"));
    }
  }
  if (!insert_feedback_ && sqlite3_prepare_v3(db_, kInsertFeedbackSql, -1, SQLITE_PREPARE_PERSISTENT,
                                              &insert_feedback_, nullptr) != SQLITE_OK) {
    return fail(dbError("preparing feedback insert"));
  }
  if (!insert_shadow_ && sqlite3_prepare_v3(db_, kInsertShadowSql, -1, SQLITE_PREPARE_PERSISTENT, &insert_shadow_,
                                            nullptr) != SQLITE_OK) {
    return fail(dbError("preparing shadow grade insert"));
  }
  return {};
}

Result<void> SqliteSink::writeShadowGrades(std::span<const ShadowGradeRecord> grades) {
  if (grades.empty()) return {};
  if (!insert_shadow_) return fail(ErrorCode::kInternal, "ledger: writeShadowGrades before migrate");
  if (auto r = exec("BEGIN"); !r) return r;
  sqlite3_stmt* s = insert_shadow_;
  for (const ShadowGradeRecord& g : grades) {
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, toEpochMicros(g.time));
    bindText(s, 2, g.request_id);
    bindText(s, 3, g.route);
    bindText(s, 4, g.model);
    bindText(s, 5, g.yardstick);
    bindText(s, 6, g.result);
    if (g.served_score >= 0) sqlite3_bind_double(s, 7, g.served_score); else sqlite3_bind_null(s, 7);
    if (g.yardstick_score >= 0) sqlite3_bind_double(s, 8, g.yardstick_score); else sqlite3_bind_null(s, 8);
    sqlite3_bind_int64(s, 9, g.cost_nanos);
    if (g.prompt.empty()) sqlite3_bind_null(s, 10); else bindText(s, 10, g.prompt);
    bindText(s, 11, g.error);
    sqlite3_bind_int64(s, 12, g.yardstick_cost_nanos);
    if (g.served_answer.empty()) sqlite3_bind_null(s, 13); else bindText(s, 13, g.served_answer);
    if (g.yardstick_answer.empty()) sqlite3_bind_null(s, 14); else bindText(s, 14, g.yardstick_answer);
    if (sqlite3_step(s) != SQLITE_DONE) {
      Error e = dbError("shadow grade insert");
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
      exec("ROLLBACK");
      return fail(std::move(e));
    }
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  if (auto r = exec("COMMIT"); !r) {
    exec("ROLLBACK");
    return r;
  }
  return {};
}

Result<std::vector<ShadowGradeRecord>> SqliteSink::readShadowGrades() {
  StmtGuard g;
  if (sqlite3_prepare_v2(db_,
                         "SELECT ts_us, request_id, route, model, yardstick, result, served_score, yardstick_score, "
                         "cost_nanos, prompt, error, yardstick_cost_nanos, served_answer, yardstick_answer "
                         "FROM shadow_grades ORDER BY id",
                         -1, &g.s, nullptr) != SQLITE_OK) {
    return fail(dbError("preparing shadow grade read"));
  }
  std::vector<ShadowGradeRecord> out;
  int rc;
  while ((rc = sqlite3_step(g.s)) == SQLITE_ROW) {
    ShadowGradeRecord r;
    r.time = fromEpochMicros(sqlite3_column_int64(g.s, 0));
    r.request_id = columnText(g.s, 1);
    r.route = columnText(g.s, 2);
    r.model = columnText(g.s, 3);
    r.yardstick = columnText(g.s, 4);
    r.result = columnText(g.s, 5);
    r.served_score = sqlite3_column_type(g.s, 6) == SQLITE_NULL ? -1 : sqlite3_column_double(g.s, 6);
    r.yardstick_score = sqlite3_column_type(g.s, 7) == SQLITE_NULL ? -1 : sqlite3_column_double(g.s, 7);
    r.cost_nanos = sqlite3_column_int64(g.s, 8);
    r.prompt = columnText(g.s, 9);
    r.error = columnText(g.s, 10);
    r.yardstick_cost_nanos = sqlite3_column_int64(g.s, 11);
    r.served_answer = columnText(g.s, 12);
    r.yardstick_answer = columnText(g.s, 13);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return fail(dbError("reading shadow grades"));
  return out;
}

Result<void> SqliteSink::writeFeedback(std::span<const FeedbackRecord> feedback) {
  if (feedback.empty()) return {};
  if (!insert_feedback_) return fail(ErrorCode::kInternal, "ledger: writeFeedback before migrate");
  if (auto r = exec("BEGIN"); !r) return r;
  sqlite3_stmt* s = insert_feedback_;
  for (const FeedbackRecord& f : feedback) {
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, toEpochMicros(f.time));
    bindText(s, 2, f.request_id);
    sqlite3_bind_double(s, 3, f.score);
    if (sqlite3_step(s) != SQLITE_DONE) {
      Error e = dbError("feedback insert");
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
      exec("ROLLBACK");
      return fail(std::move(e));
    }
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  if (auto r = exec("COMMIT"); !r) {
    exec("ROLLBACK");
    return r;
  }
  return {};
}

Result<std::vector<FeedbackRecord>> SqliteSink::readFeedback() {
  StmtGuard g;
  if (sqlite3_prepare_v2(db_, "SELECT ts_us, request_id, score FROM feedback ORDER BY id", -1, &g.s, nullptr) !=
      SQLITE_OK) {
    return fail(dbError("preparing feedback read"));
  }
  std::vector<FeedbackRecord> out;
  int rc;
  while ((rc = sqlite3_step(g.s)) == SQLITE_ROW) {
    FeedbackRecord f;
    f.time = fromEpochMicros(sqlite3_column_int64(g.s, 0));
    f.request_id = columnText(g.s, 1);
    f.score = sqlite3_column_double(g.s, 2);
    out.push_back(std::move(f));
  }
  if (rc != SQLITE_DONE) return fail(dbError("reading feedback"));
  return out;
}

Result<void> SqliteSink::writeBatch(std::span<const LedgerRecord> records) {
  if (records.empty()) return {};
  if (!insert_ || !insert_many_) return fail(ErrorCode::kInternal, "ledger: writeBatch before migrate");
  if (auto r = exec("BEGIN"); !r) return r;
  size_t done = 0;
  while (done < records.size()) {
    const size_t left = records.size() - done;
    sqlite3_stmt* s = left >= kRowsPerInsert ? insert_many_ : insert_;
    const size_t rows = left >= kRowsPerInsert ? kRowsPerInsert : 1;
    for (size_t i = 0; i < rows; ++i) bindRecord(s, static_cast<int>(i) * kRecordColumns, records[done + i]);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    // The bound texts point into `records`; drop them before the caller frees it.
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) {
      Error e = dbError("insert");
      exec("ROLLBACK");
      return fail(std::move(e));
    }
    done += rows;
  }
  if (auto r = exec("COMMIT"); !r) {
    exec("ROLLBACK");
    return r;
  }
  return {};
}

Result<void> SqliteSink::putResponse(const StoredResponse& r) {
  StmtGuard g;
  if (sqlite3_prepare_v2(db_, R"sql(INSERT OR REPLACE INTO responses (id, ts_us, key_id, sensitive, conversation,
  response) VALUES (?1, ?2, ?3, ?4, ?5, ?6))sql", -1, &g.s, nullptr) != SQLITE_OK) {
    return fail(dbError("preparing response insert"));
  }
  bindText(g.s, 1, r.id);
  sqlite3_bind_int64(g.s, 2, toEpochMicros(r.time));
  if (r.key_id.empty()) sqlite3_bind_null(g.s, 3); else bindText(g.s, 3, r.key_id);
  sqlite3_bind_int(g.s, 4, r.sensitive ? 1 : 0);
  if (r.sensitive) {
    sqlite3_bind_null(g.s, 5);
    sqlite3_bind_null(g.s, 6);
  } else {
    bindText(g.s, 5, r.conversation);
    bindText(g.s, 6, r.response);
  }
  if (sqlite3_step(g.s) != SQLITE_DONE) return fail(dbError("response insert"));
  return {};
}

Result<std::optional<StoredResponse>> SqliteSink::getResponse(std::string_view id) {
  StmtGuard g;
  if (sqlite3_prepare_v2(db_, "SELECT ts_us, key_id, sensitive, conversation, response FROM responses WHERE id = ?1",
                         -1, &g.s, nullptr) != SQLITE_OK) {
    return fail(dbError("preparing response read"));
  }
  sqlite3_bind_text(g.s, 1, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
  int rc = sqlite3_step(g.s);
  if (rc == SQLITE_DONE) return std::optional<StoredResponse>();
  if (rc != SQLITE_ROW) return fail(dbError("reading response"));
  StoredResponse r;
  r.id = std::string(id);
  r.time = fromEpochMicros(sqlite3_column_int64(g.s, 0));
  r.key_id = columnText(g.s, 1);
  r.sensitive = sqlite3_column_int(g.s, 2) != 0;
  r.conversation = columnText(g.s, 3);
  r.response = columnText(g.s, 4);
  return std::optional<StoredResponse>(std::move(r));
}

Result<bool> SqliteSink::deleteResponse(std::string_view id) {
  StmtGuard g;
  if (sqlite3_prepare_v2(db_, "DELETE FROM responses WHERE id = ?1", -1, &g.s, nullptr) != SQLITE_OK)
    return fail(dbError("preparing response delete"));
  sqlite3_bind_text(g.s, 1, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
  if (sqlite3_step(g.s) != SQLITE_DONE) return fail(dbError("response delete"));
  return sqlite3_changes(db_) > 0;
}

Result<int64_t> SqliteSink::purgeResponses(std::chrono::system_clock::time_point before) {
  StmtGuard g;
  if (sqlite3_prepare_v2(db_, "DELETE FROM responses WHERE ts_us < ?1", -1, &g.s, nullptr) != SQLITE_OK)
    return fail(dbError("preparing response purge"));
  sqlite3_bind_int64(g.s, 1, toEpochMicros(before));
  if (sqlite3_step(g.s) != SQLITE_DONE) return fail(dbError("response purge"));
  return static_cast<int64_t>(sqlite3_changes64(db_));
}

namespace {

// Rolls up the request rows before ?1 (a UTC midnight) into request_rollups, adding to the
// rows already there (a late row for a purged day adds to its rollup). The WHERE clause also
// keeps SQLite's parser from reading ON CONFLICT as a join constraint of the SELECT.
constexpr const char* kRollupSql = R"sql(
INSERT INTO request_rollups (day_us, route, key_id, model, requests, errors, tokens_in, tokens_out,
  cached_tokens, cache_write_tokens, reasoning_tokens, usage_estimated, cost_nanos, reference_cost_nanos)
SELECT (ts_us / 86400000000) * 86400000000, route, coalesce(key_id, ''), model, count(*),
  sum(status >= 400), sum(tokens_in), sum(tokens_out), sum(cached_tokens), sum(cache_write_tokens),
  sum(reasoning_tokens), sum(usage_estimated != 0), sum(cost_nanos), sum(reference_cost_nanos)
FROM requests WHERE ts_us >= 0 AND ts_us < ?1 GROUP BY 1, 2, 3, 4
ON CONFLICT (day_us, route, key_id, model) DO UPDATE SET
  requests = requests + excluded.requests, errors = errors + excluded.errors,
  tokens_in = tokens_in + excluded.tokens_in, tokens_out = tokens_out + excluded.tokens_out,
  cached_tokens = cached_tokens + excluded.cached_tokens,
  cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
  reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
  usage_estimated = usage_estimated + excluded.usage_estimated, cost_nanos = cost_nanos + excluded.cost_nanos,
  reference_cost_nanos = reference_cost_nanos + excluded.reference_cost_nanos)sql";

}  // namespace

Result<int64_t> SqliteSink::purgeRequests(std::chrono::system_clock::time_point before) {
  const int64_t cut = utcDayStartMicros(toEpochMicros(before));
  int64_t deleted = 0;
  // One day per transaction, oldest first: the first purge of a large ledger holds the write
  // lock for one day's rows at a time, so the ledger writer (busy_timeout 5 s) keeps writing
  // between them. Rows before 1970 (never written by the gateway) are left alone: integer
  // division would put them in the wrong day.
  for (;;) {
    int64_t oldest = 0;
    {
      StmtGuard g;
      if (sqlite3_prepare_v2(db_, "SELECT min(ts_us) FROM requests WHERE ts_us >= 0 AND ts_us < ?1", -1, &g.s,
                             nullptr) != SQLITE_OK)
        return fail(dbError("preparing purge"));
      sqlite3_bind_int64(g.s, 1, cut);
      if (sqlite3_step(g.s) != SQLITE_ROW) return fail(dbError("purge: oldest row"));
      if (sqlite3_column_type(g.s, 0) == SQLITE_NULL) break;
      oldest = sqlite3_column_int64(g.s, 0);
    }
    const int64_t day_end = std::min(cut, utcDayStartMicros(oldest) + kMicrosPerDay);
    if (auto r = exec("BEGIN IMMEDIATE"); !r) return fail(r.error());
    auto rollback = [this](Error e) -> Result<int64_t> {
      (void)exec("ROLLBACK");
      return fail(std::move(e));
    };
    const std::pair<const char*, const char*> steps[] = {
        {kRollupSql, "purge: rollup"},
        {"DELETE FROM requests WHERE ts_us >= 0 AND ts_us < ?1", "purge: delete"},
        {"DELETE FROM feedback WHERE ts_us < ?1", "purge: feedback"},
    };
    for (size_t i = 0; i < std::size(steps); ++i) {
      StmtGuard g;
      if (sqlite3_prepare_v2(db_, steps[i].first, -1, &g.s, nullptr) != SQLITE_OK) return rollback(dbError(steps[i].second));
      sqlite3_bind_int64(g.s, 1, day_end);
      if (sqlite3_step(g.s) != SQLITE_DONE) return rollback(dbError(steps[i].second));
      if (i == 1) deleted += static_cast<int64_t>(sqlite3_changes64(db_));
    }
    if (auto r = exec("COMMIT"); !r) return rollback(r.error());
  }
  return deleted;
}

Result<std::vector<RequestRollup>> SqliteSink::readRollups() {
  StmtGuard g;
  if (sqlite3_prepare_v2(db_, R"sql(SELECT day_us, route, key_id, model, requests, errors, tokens_in, tokens_out,
  cached_tokens, cache_write_tokens, reasoning_tokens, usage_estimated, cost_nanos, reference_cost_nanos
FROM request_rollups ORDER BY day_us, route, key_id, model)sql", -1, &g.s, nullptr) != SQLITE_OK)
    return fail(dbError("preparing rollup read"));
  std::vector<RequestRollup> out;
  int rc;
  while ((rc = sqlite3_step(g.s)) == SQLITE_ROW) {
    RequestRollup r;
    r.day_us = sqlite3_column_int64(g.s, 0);
    r.route = columnText(g.s, 1);
    r.key_id = columnText(g.s, 2);
    r.model = columnText(g.s, 3);
    int64_t* nums[] = {&r.requests, &r.errors, &r.tokens_in, &r.tokens_out, &r.cached_tokens,
                       &r.cache_write_tokens, &r.reasoning_tokens, &r.usage_estimated, &r.cost_nanos,
                       &r.reference_cost_nanos};
    for (size_t i = 0; i < std::size(nums); ++i) *nums[i] = sqlite3_column_int64(g.s, static_cast<int>(i) + 4);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return fail(dbError("reading rollups"));
  return out;
}

Result<int64_t> SqliteSink::rowCount() {
  StmtGuard g;
  if (sqlite3_prepare_v2(db_, "SELECT count(*) FROM requests", -1, &g.s, nullptr) != SQLITE_OK ||
      sqlite3_step(g.s) != SQLITE_ROW) {
    return fail(dbError("counting rows"));
  }
  return sqlite3_column_int64(g.s, 0);
}

Result<std::vector<LedgerRecord>> SqliteSink::readRecords(int64_t limit, int64_t offset) {
  StmtGuard g;
  if (sqlite3_prepare_v2(db_, R"sql(
SELECT ts_us, request_id, key_id, route, model, provider, candidates, knob, decision_us, tokens_in,
  tokens_out, cost_nanos, reference_model, reference_cost_nanos, latency_us, ttft_us, status, error,
  attempts, sensitive, stream, prompt, attempts_detail, cached_tokens, cache_write_tokens, reasoning_tokens,
  usage_estimated
FROM requests ORDER BY id LIMIT ?1 OFFSET ?2)sql",
                         -1, &g.s, nullptr) != SQLITE_OK) {
    return fail(dbError("preparing read"));
  }
  sqlite3_bind_int64(g.s, 1, limit);
  sqlite3_bind_int64(g.s, 2, offset);
  std::vector<LedgerRecord> out;
  int rc;
  while ((rc = sqlite3_step(g.s)) == SQLITE_ROW) {
    sqlite3_stmt* s = g.s;
    LedgerRecord r;
    r.time = fromEpochMicros(sqlite3_column_int64(s, 0));
    r.request_id = columnText(s, 1);
    r.key_id = columnText(s, 2);
    r.route = columnText(s, 3);
    r.model = columnText(s, 4);
    r.provider = columnText(s, 5);
    r.candidates = columnText(s, 6);
    r.knob = sqlite3_column_type(s, 7) == SQLITE_NULL ? -1 : sqlite3_column_double(s, 7);
    r.decision = std::chrono::microseconds(sqlite3_column_int64(s, 8));
    r.tokens_in = sqlite3_column_int64(s, 9);
    r.tokens_out = sqlite3_column_int64(s, 10);
    r.cost_nanos = sqlite3_column_int64(s, 11);
    r.reference_model = columnText(s, 12);
    r.reference_cost_nanos = sqlite3_column_int64(s, 13);
    r.latency = std::chrono::microseconds(sqlite3_column_int64(s, 14));
    r.ttft = std::chrono::microseconds(sqlite3_column_type(s, 15) == SQLITE_NULL ? -1
                                                                                  : sqlite3_column_int64(s, 15));
    r.status = sqlite3_column_int(s, 16);
    r.error = columnText(s, 17);
    r.attempts = sqlite3_column_int(s, 18);
    r.sensitive = sqlite3_column_int(s, 19) != 0;
    r.stream = sqlite3_column_int(s, 20) != 0;
    r.prompt = columnText(s, 21);
    r.attempts_detail = columnText(s, 22);
    r.cached_tokens = sqlite3_column_int64(s, 23);
    r.cache_write_tokens = sqlite3_column_int64(s, 24);
    r.reasoning_tokens = sqlite3_column_int64(s, 25);
    r.usage_estimated = sqlite3_column_int(s, 26) != 0;
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return fail(dbError("reading rows"));
  return out;
}

}  // namespace rightsize::ledger
