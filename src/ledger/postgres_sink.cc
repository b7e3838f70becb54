#include "ledger/postgres_sink.h"

#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <deque>
#include <optional>
#include <cstring>

#include <fmt/format.h>

#include "ledger/migrations.h"

namespace rightsize::ledger {
namespace {

// Append-only, like SQLite's list: a released migration is never edited. The unique key is
// (ts_us, request_id), for the reason given in sqlite_sink.cc (migration 2): it grows at its
// right edge, serves the report's time range, and makes a replayed row a no-op. Money is
// integer nano-dollars, times integer microseconds since the epoch; NULL = not applicable.
constexpr Migration kPgMigrations[] = {
    {1, R"sql(
CREATE TABLE requests (
  id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ts_us                BIGINT           NOT NULL,
  request_id           TEXT             NOT NULL,
  key_id               TEXT,
  route                TEXT             NOT NULL,
  model                TEXT             NOT NULL,
  provider             TEXT             NOT NULL,
  candidates           TEXT             NOT NULL,
  knob                 DOUBLE PRECISION,
  decision_us          BIGINT           NOT NULL,
  tokens_in            BIGINT           NOT NULL,
  tokens_out           BIGINT           NOT NULL,
  cost_nanos           BIGINT           NOT NULL,
  reference_model      TEXT             NOT NULL,
  reference_cost_nanos BIGINT           NOT NULL,
  latency_us           BIGINT           NOT NULL,
  ttft_us              BIGINT,
  status               INTEGER          NOT NULL,
  error                TEXT             NOT NULL,
  attempts             INTEGER          NOT NULL,
  sensitive            BOOLEAN          NOT NULL,
  stream               BOOLEAN          NOT NULL,
  prompt               TEXT,
  attempts_detail      TEXT
);
CREATE UNIQUE INDEX requests_ts_request_id ON requests (ts_us, request_id);
CREATE TABLE feedback (
  id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ts_us      BIGINT           NOT NULL,
  request_id TEXT             NOT NULL,
  score      DOUBLE PRECISION NOT NULL
);
CREATE UNIQUE INDEX feedback_request_id_ts ON feedback (request_id, ts_us);
)sql"},
    // 2: prompt caching and reasoning (as SQLite's migration 3).
    {2, R"sql(
ALTER TABLE requests ADD COLUMN cached_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN cache_write_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN reasoning_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN usage_estimated BOOLEAN NOT NULL DEFAULT FALSE;
)sql"},
    // 3: stored responses of POST /v1/responses, as SQLite's migration 4.
    {3, R"sql(
CREATE TABLE responses (
  id           TEXT    PRIMARY KEY,
  ts_us        BIGINT  NOT NULL,
  key_id       TEXT,
  sensitive    BOOLEAN NOT NULL,
  conversation TEXT,
  response     TEXT
);
CREATE INDEX responses_ts ON responses (ts_us);
)sql"},
    // 4: ledger retention, as SQLite's migration 5: the purged request rows summed per UTC day
    // (day_us, midnight in microseconds) x route x key ('' = no key) x model.
    {4, R"sql(
CREATE TABLE request_rollups (
  day_us               BIGINT NOT NULL,
  route                TEXT   NOT NULL,
  key_id               TEXT   NOT NULL,
  model                TEXT   NOT NULL,
  requests             BIGINT NOT NULL,
  errors               BIGINT NOT NULL,
  tokens_in            BIGINT NOT NULL,
  tokens_out           BIGINT NOT NULL,
  cached_tokens        BIGINT NOT NULL,
  cache_write_tokens   BIGINT NOT NULL,
  reasoning_tokens     BIGINT NOT NULL,
  usage_estimated      BIGINT NOT NULL,
  cost_nanos           BIGINT NOT NULL,
  reference_cost_nanos BIGINT NOT NULL,
  PRIMARY KEY (day_us, route, key_id, model)
);
)sql"},
    // 5: shadow evaluation, as SQLite's migration 6: one row per shadowed request, its grade
    // against the yardstick and the shadow spend; scores NULL when none, prompt NULL when sensitive.
    {5, R"sql(
CREATE TABLE shadow_grades (
  id              BIGSERIAL PRIMARY KEY,
  ts_us           BIGINT NOT NULL,
  request_id      TEXT   NOT NULL,
  route           TEXT   NOT NULL,
  model           TEXT   NOT NULL,
  yardstick       TEXT   NOT NULL,
  result          TEXT   NOT NULL,
  served_score    DOUBLE PRECISION,
  yardstick_score DOUBLE PRECISION,
  cost_nanos      BIGINT NOT NULL,
  yardstick_cost_nanos BIGINT NOT NULL,
  prompt          TEXT,
  error           TEXT   NOT NULL,
  served_answer   TEXT,
  yardstick_answer TEXT
);
CREATE UNIQUE INDEX shadow_grades_ts_request_id ON shadow_grades (ts_us, request_id);
)sql"},
};

constexpr int kPgLatest = kPgMigrations[std::size(kPgMigrations) - 1].version;
// Any constant shared by every rightsize process: the advisory lock migrations hold.
constexpr const char* kMigrationLock = "SELECT pg_advisory_xact_lock(7263512001)";
// Held by a retention purge: replicas purging at the same time would both roll up the same rows.
constexpr const char* kPurgeLock = "SELECT pg_advisory_xact_lock(7263512002)";
// One statement, one snapshot: exactly the rows deleted are rolled up (a row a writer commits
// meanwhile is either in both or in neither), and the deleted count is returned.
constexpr const char* kRollupAndDeleteSql = R"sql(
WITH gone AS (
  DELETE FROM requests WHERE ts_us >= 0 AND ts_us < $1
  RETURNING ts_us, route, key_id, model, status, tokens_in, tokens_out, cached_tokens, cache_write_tokens,
    reasoning_tokens, usage_estimated, cost_nanos, reference_cost_nanos
), rolled AS (
  INSERT INTO request_rollups (day_us, route, key_id, model, requests, errors, tokens_in, tokens_out,
    cached_tokens, cache_write_tokens, reasoning_tokens, usage_estimated, cost_nanos, reference_cost_nanos)
  SELECT (ts_us / 86400000000) * 86400000000, route, coalesce(key_id, ''), model, count(*),
    count(*) FILTER (WHERE status >= 400), sum(tokens_in), sum(tokens_out), sum(cached_tokens),
    sum(cache_write_tokens), sum(reasoning_tokens), count(*) FILTER (WHERE usage_estimated), sum(cost_nanos),
    sum(reference_cost_nanos)
  FROM gone GROUP BY 1, 2, 3, 4
  ON CONFLICT (day_us, route, key_id, model) DO UPDATE SET
    requests = request_rollups.requests + EXCLUDED.requests, errors = request_rollups.errors + EXCLUDED.errors,
    tokens_in = request_rollups.tokens_in + EXCLUDED.tokens_in,
    tokens_out = request_rollups.tokens_out + EXCLUDED.tokens_out,
    cached_tokens = request_rollups.cached_tokens + EXCLUDED.cached_tokens,
    cache_write_tokens = request_rollups.cache_write_tokens + EXCLUDED.cache_write_tokens,
    reasoning_tokens = request_rollups.reasoning_tokens + EXCLUDED.reasoning_tokens,
    usage_estimated = request_rollups.usage_estimated + EXCLUDED.usage_estimated,
    cost_nanos = request_rollups.cost_nanos + EXCLUDED.cost_nanos,
    reference_cost_nanos = request_rollups.reference_cost_nanos + EXCLUDED.reference_cost_nanos
)
SELECT count(*) FROM gone)sql";
constexpr size_t kRowsPerStatement = 1000;  // 27,000 parameters, under libpq's 65,535

// Frees a PGresult on every path out of a scope.
struct ResultGuard {
  PGresult* r = nullptr;
  ~ResultGuard() { PQclear(r); }
};

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one (NUL counts as invalid:
// PostgreSQL text cannot hold it).
size_t utf8SequenceLength(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c == 0) return 0;
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if ((c & 0xe0) == 0xc0) n = 2, cp = c & 0x1f;
  else if ((c & 0xf0) == 0xe0) n = 3, cp = c & 0x0f;
  else if ((c & 0xf8) == 0xf0) n = 4, cp = c & 0x07;
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3f);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid too.
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  return n;
}

bool storableText(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string repairedText(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8SequenceLength(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  return out;
}

// Parameter values for one statement: pointers into the records' own strings when they are
// storable as they are, else into owned copies; numbers formatted into fixed slots.
class Params {
 public:
  explicit Params(size_t count) {
    values_.reserve(count);
    numbers_.reserve(count);
  }
  void text(const std::string& s) {
    if (storableText(s)) {
      values_.push_back(s.c_str());
    } else {
      repaired_.push_back(repairedText(s));
      values_.push_back(repaired_.back().c_str());
    }
  }
  void textOrNull(const std::string& s) {
    if (s.empty()) values_.push_back(nullptr); else text(s);
  }
  void null() { values_.push_back(nullptr); }
  template <typename T>
  void number(T v) {
    numbers_.emplace_back();
    auto& slot = numbers_.back();
    auto r = std::to_chars(slot.data(), slot.data() + slot.size() - 1, v);
    *r.ptr = '\0';
    values_.push_back(slot.data());
  }
  void boolean(bool b) { values_.push_back(b ? "t" : "f"); }
  const char* const* data() const { return values_.data(); }
  int size() const { return static_cast<int>(values_.size()); }

 private:
  std::vector<const char*> values_;
  std::vector<std::array<char, 32>> numbers_;  // reserved up front: pointers stay valid
  std::deque<std::string> repaired_;            // a deque never moves its elements
};

// "INSERT ... VALUES ($1,...,$27),($28,...) ON CONFLICT DO NOTHING" for `rows` rows.
std::string pgInsertSql(size_t rows) {
  std::string sql =
      "INSERT INTO requests (ts_us, request_id, key_id, route, model, provider, candidates, knob, decision_us, "
      "tokens_in, tokens_out, cost_nanos, reference_model, reference_cost_nanos, latency_us, ttft_us, status, "
      "error, attempts, sensitive, stream, prompt, attempts_detail, cached_tokens, cache_write_tokens, "
      "reasoning_tokens, usage_estimated) VALUES ";
  sql.reserve(sql.size() + rows * kRecordColumns * 7);
  int p = 1;
  for (size_t r = 0; r < rows; ++r) {
    sql += r ? ",(" : "(";
    for (int c = 0; c < kRecordColumns; ++c) {
      if (c) sql += ',';
      fmt::format_to(std::back_inserter(sql), "${}", p++);
    }
    sql += ')';
  }
  sql += " ON CONFLICT (ts_us, request_id) DO NOTHING";
  return sql;
}

template <typename T>
T parseNumber(const char* s, T fallback = 0) {
  if (!s) return fallback;
  T v{};
  auto r = std::from_chars(s, s + std::strlen(s), v);
  return r.ec == std::errc() ? v : fallback;
}

}  // namespace

int PostgresSink::latestSchemaVersion() { return kPgLatest; }

Result<pg_conn*> PostgresSink::connect(const std::string& dsn) {
  // The dsn comes last with expand_dbname: its own settings override these defaults.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"5", "rightsize", dsn.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, 1);
  if (!conn) return fail(ErrorCode::kIo, "ledger: postgres: out of memory connecting");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    PQfinish(conn);
    return fail(ErrorCode::kIo, fmt::format("ledger: cannot connect to postgres: {}", msg));
  }
  // Server NOTICEs ("relation schema_version already exists, skipping" at every start) would go
  // to stderr; they are not worth a log line.
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  // Ledger statements are small; a hung server must not hold the writer thread forever.
  ResultGuard g{PQexec(conn, "SET statement_timeout = '30s'")};
  return conn;
}

Result<std::unique_ptr<PostgresSink>> PostgresSink::open(const std::string& dsn) {
  auto conn = connect(dsn);
  if (!conn) return fail(conn.error());
  std::unique_ptr<PostgresSink> sink(new PostgresSink(*conn, dsn));
  if (auto r = sink->migrate(); !r) return fail(r.error());
  return sink;
}

Result<std::unique_ptr<PostgresSink>> PostgresSink::openExisting(const std::string& dsn) {
  auto conn = connect(dsn);
  if (!conn) return fail(conn.error());
  std::unique_ptr<PostgresSink> sink(new PostgresSink(*conn, dsn));
  auto version = sink->schemaVersion();
  if (!version) return fail(version.error());
  if (*version == 0) {
    return fail(ErrorCode::kCorruptData, "ledger: the postgres database holds no rightsize ledger "
                                         "(no schema_version table): has a gateway written to it?");
  }
  if (*version > kPgLatest) {
    return fail(ErrorCode::kCorruptData,
                fmt::format("ledger: postgres schema version {} is newer than this rightsize supports ({})",
                            *version, kPgLatest));
  }
  return sink;
}

PostgresSink::~PostgresSink() { PQfinish(conn_); }

Error PostgresSink::connError(const char* what) const {
  std::string msg = PQerrorMessage(conn_);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return Error{ErrorCode::kIo, fmt::format("ledger: postgres: {}: {}", what, msg)};
}

Result<void> PostgresSink::ensureConnected() {
  if (PQstatus(conn_) == CONNECTION_OK) return {};
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) return fail(connError("reconnecting"));
  ResultGuard g{PQexec(conn_, "SET statement_timeout = '30s'")};
  return {};
}

Result<void> PostgresSink::exec(const char* sql) {
  ResultGuard g{PQexec(conn_, sql)};
  auto st = PQresultStatus(g.r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return fail(connError("sql"));
  return {};
}

Result<int> PostgresSink::schemaVersion() {
  if (auto r = ensureConnected(); !r) return fail(r.error());
  int version = 0;
  bool exists = false;
  // to_regclass is NULL when the table does not exist (an empty database).
  auto r = query("SELECT to_regclass('schema_version') IS NOT NULL", {},
                 [&](const char* const* v, int) { exists = v[0] && v[0][0] == 't'; });
  if (!r) return fail(r.error());
  if (!exists) return 0;
  r = query("SELECT coalesce(max(version), 0) FROM schema_version", {},
            [&](const char* const* v, int) { version = parseNumber<int>(v[0]); });
  if (!r) return fail(r.error());
  return version;
}

Result<void> PostgresSink::migrate() {
  if (auto r = ensureConnected(); !r) return r;
  return applyMigrations([this](const char* sql) { return exec(sql); }, [this] { return schemaVersion(); },
                         kPgMigrations, "BEGIN", kMigrationLock, "postgres");
}

Result<void> PostgresSink::writeBatch(std::span<const LedgerRecord> records) {
  if (records.empty()) return {};
  if (auto r = ensureConnected(); !r) return r;
  if (auto r = exec("BEGIN"); !r) return r;
  for (size_t off = 0; off < records.size(); off += kRowsPerStatement) {
    size_t n = std::min(kRowsPerStatement, records.size() - off);
    Params p(n * kRecordColumns);
    for (const LedgerRecord& rec : records.subspan(off, n)) {
      p.number(toEpochMicros(rec.time));
      p.text(rec.request_id);
      p.textOrNull(rec.key_id);
      p.text(rec.route);
      p.text(rec.model);
      p.text(rec.provider);
      p.text(rec.candidates);
      if (rec.knob < 0) p.null(); else p.number(rec.knob);
      p.number(rec.decision.count());
      p.number(rec.tokens_in);
      p.number(rec.tokens_out);
      p.number(rec.cost_nanos);
      p.text(rec.reference_model);
      p.number(rec.reference_cost_nanos);
      p.number(rec.latency.count());
      if (rec.ttft.count() < 0) p.null(); else p.number(rec.ttft.count());
      p.number(rec.status);
      p.text(rec.error);
      p.number(rec.attempts);
      p.boolean(rec.sensitive);
      p.boolean(rec.stream);
      p.textOrNull(rec.prompt);
      p.textOrNull(rec.attempts_detail);
      p.number(rec.cached_tokens);
      p.number(rec.cache_write_tokens);
      p.number(rec.reasoning_tokens);
      p.boolean(rec.usage_estimated);
    }
    std::string sql = pgInsertSql(n);
    ResultGuard g{PQexecParams(conn_, sql.c_str(), p.size(), nullptr, p.data(), nullptr, nullptr, 0)};
    if (PQresultStatus(g.r) != PGRES_COMMAND_OK) {
      Error e = connError("insert");
      exec("ROLLBACK");
      return fail(std::move(e));
    }
  }
  // A COMMIT whose answer is lost (connection dropped) is ambiguous; the retry is safe because
  // a row already stored is skipped.
  if (auto r = exec("COMMIT"); !r) {
    exec("ROLLBACK");
    return r;
  }
  return {};
}

Result<void> PostgresSink::writeFeedback(std::span<const FeedbackRecord> feedback) {
  if (feedback.empty()) return {};
  if (auto r = ensureConnected(); !r) return r;
  for (size_t off = 0; off < feedback.size(); off += kRowsPerStatement) {
    size_t n = std::min(kRowsPerStatement, feedback.size() - off);
    Params p(n * 3);
    std::string sql = "INSERT INTO feedback (ts_us, request_id, score) VALUES ";
    int k = 1;
    for (const FeedbackRecord& f : feedback.subspan(off, n)) {
      p.number(toEpochMicros(f.time));
      p.text(f.request_id);
      p.number(f.score);
      fmt::format_to(std::back_inserter(sql), "{}(${},${},${})", k == 1 ? "" : ",", k, k + 1, k + 2);
      k += 3;
    }
    sql += " ON CONFLICT (request_id, ts_us) DO NOTHING";
    // One statement per 1,000 rows, each its own transaction: feedback is rare, and a row
    // written twice is skipped, so a partial failure is simply retried.
    ResultGuard g{PQexecParams(conn_, sql.c_str(), p.size(), nullptr, p.data(), nullptr, nullptr, 0)};
    if (PQresultStatus(g.r) != PGRES_COMMAND_OK) return fail(connError("feedback insert"));
  }
  return {};
}

Result<void> PostgresSink::writeShadowGrades(std::span<const ShadowGradeRecord> grades) {
  if (grades.empty()) return {};
  if (auto r = ensureConnected(); !r) return r;
  constexpr int kCols = 14;
  for (size_t off = 0; off < grades.size(); off += kRowsPerStatement) {
    size_t n = std::min(kRowsPerStatement, grades.size() - off);
    Params p(n * kCols);
    std::string sql =
        "INSERT INTO shadow_grades (ts_us, request_id, route, model, yardstick, result, served_score, "
        "yardstick_score, cost_nanos, prompt, error, yardstick_cost_nanos, served_answer, yardstick_answer) VALUES ";
    int k = 1;
    for (const ShadowGradeRecord& g : grades.subspan(off, n)) {
      p.number(toEpochMicros(g.time));
      p.text(g.request_id);
      p.text(g.route);
      p.text(g.model);
      p.text(g.yardstick);
      p.text(g.result);
      if (g.served_score >= 0) p.number(g.served_score); else p.null();
      if (g.yardstick_score >= 0) p.number(g.yardstick_score); else p.null();
      p.number(g.cost_nanos);
      p.textOrNull(g.prompt);
      p.text(g.error);
      p.number(g.yardstick_cost_nanos);
      p.textOrNull(g.served_answer);
      p.textOrNull(g.yardstick_answer);
      sql += k == 1 ? "(" : ",(";
      for (int c = 0; c < kCols; ++c) fmt::format_to(std::back_inserter(sql), "{}${}", c ? "," : "", k + c);
      sql += ')';
      k += kCols;
    }
    sql += " ON CONFLICT (ts_us, request_id) DO NOTHING";
    // Like feedback: one statement per batch, a row written twice is skipped.
    ResultGuard g{PQexecParams(conn_, sql.c_str(), p.size(), nullptr, p.data(), nullptr, nullptr, 0)};
    if (PQresultStatus(g.r) != PGRES_COMMAND_OK) return fail(connError("shadow grade insert"));
  }
  return {};
}

Result<int64_t> PostgresSink::command(const char* sql, const char* const* values, int count) {
  if (auto r = ensureConnected(); !r) return fail(r.error());
  ResultGuard g{PQexecParams(conn_, sql, count, nullptr, values, nullptr, nullptr, 0)};
  if (PQresultStatus(g.r) != PGRES_COMMAND_OK) return fail(connError("sql"));
  return parseNumber<int64_t>(PQcmdTuples(g.r));
}

Result<void> PostgresSink::putResponse(const StoredResponse& r) {
  Params p(6);
  p.text(r.id);
  p.number(toEpochMicros(r.time));
  p.textOrNull(r.key_id);
  p.boolean(r.sensitive);
  if (r.sensitive) {
    p.null();
    p.null();
  } else {
    p.text(r.conversation);
    p.text(r.response);
  }
  auto n = command(R"sql(INSERT INTO responses (id, ts_us, key_id, sensitive, conversation, response)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET ts_us = EXCLUDED.ts_us, key_id = EXCLUDED.key_id,
  sensitive = EXCLUDED.sensitive, conversation = EXCLUDED.conversation, response = EXCLUDED.response)sql",
                   p.data(), p.size());
  if (!n) return fail(n.error());
  return {};
}

Result<std::optional<StoredResponse>> PostgresSink::getResponse(std::string_view id) {
  std::optional<StoredResponse> out;
  auto text = [](const char* s) { return s ? std::string(s) : std::string(); };
  auto r = query("SELECT ts_us, key_id, sensitive, conversation, response FROM responses WHERE id = $1",
                 {std::string(id)}, [&](const char* const* v, int) {
                   StoredResponse s;
                   s.id = std::string(id);
                   s.time = fromEpochMicros(parseNumber<int64_t>(v[0]));
                   s.key_id = text(v[1]);
                   s.sensitive = v[2] && v[2][0] == 't';
                   s.conversation = text(v[3]);
                   s.response = text(v[4]);
                   out = std::move(s);
                 });
  if (!r) return fail(r.error());
  return out;
}

Result<bool> PostgresSink::deleteResponse(std::string_view id) {
  const std::string sid(id);
  const char* values[] = {sid.c_str()};
  auto n = command("DELETE FROM responses WHERE id = $1", values, 1);
  if (!n) return fail(n.error());
  return *n > 0;
}

Result<int64_t> PostgresSink::purgeResponses(std::chrono::system_clock::time_point before) {
  const std::string ts = std::to_string(toEpochMicros(before));
  const char* values[] = {ts.c_str()};
  return command("DELETE FROM responses WHERE ts_us < $1", values, 1);
}

Result<int64_t> PostgresSink::purgeRequests(std::chrono::system_clock::time_point before) {
  const int64_t cut = utcDayStartMicros(toEpochMicros(before));
  int64_t deleted = 0;
  // One day per transaction, oldest first, as in SqliteSink (statement_timeout is 30 s).
  for (;;) {
    std::optional<int64_t> oldest;
    auto r = query("SELECT min(ts_us) FROM requests WHERE ts_us >= 0 AND ts_us < $1", {std::to_string(cut)},
                   [&](const char* const* v, int) {
                     if (v[0]) oldest = parseNumber<int64_t>(v[0]);
                   });
    if (!r) return fail(r.error());
    if (!oldest) break;
    const std::string day_end = std::to_string(std::min(cut, utcDayStartMicros(*oldest) + kMicrosPerDay));
    if (auto b = exec("BEGIN"); !b) return fail(b.error());
    auto rollback = [this](Error e) -> Result<int64_t> {
      (void)exec("ROLLBACK");
      return fail(std::move(e));
    };
    if (auto l = exec(kPurgeLock); !l) return rollback(l.error());
    int64_t n = 0;
    if (auto q = query(kRollupAndDeleteSql, {day_end}, [&](const char* const* v, int) { n = parseNumber<int64_t>(v[0]); });
        !q)
      return rollback(q.error());
    const char* values[] = {day_end.c_str()};
    if (auto f = command("DELETE FROM feedback WHERE ts_us < $1", values, 1); !f) return rollback(f.error());
    if (auto c = exec("COMMIT"); !c) return rollback(c.error());
    deleted += n;
  }
  return deleted;
}

Result<std::vector<RequestRollup>> PostgresSink::readRollups() {
  std::vector<RequestRollup> out;
  auto r = query(R"sql(SELECT day_us, route, key_id, model, requests, errors, tokens_in, tokens_out, cached_tokens,
  cache_write_tokens, reasoning_tokens, usage_estimated, cost_nanos, reference_cost_nanos
FROM request_rollups ORDER BY day_us, route, key_id, model)sql",
                 {}, [&](const char* const* v, int) {
                   RequestRollup x;
                   x.day_us = parseNumber<int64_t>(v[0]);
                   x.route = v[1] ? v[1] : "";
                   x.key_id = v[2] ? v[2] : "";
                   x.model = v[3] ? v[3] : "";
                   int64_t* nums[] = {&x.requests, &x.errors, &x.tokens_in, &x.tokens_out, &x.cached_tokens,
                                      &x.cache_write_tokens, &x.reasoning_tokens, &x.usage_estimated,
                                      &x.cost_nanos, &x.reference_cost_nanos};
                   for (size_t i = 0; i < std::size(nums); ++i) *nums[i] = parseNumber<int64_t>(v[i + 4]);
                   out.push_back(std::move(x));
                 });
  if (!r) return fail(r.error());
  return out;
}

Result<void> PostgresSink::query(const std::string& sql, const std::vector<std::string>& params, const RowFn& row) {
  if (auto r = ensureConnected(); !r) return r;
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.c_str());
  // Single-row mode: rows are handed over as they arrive, so a report over millions of rows
  // never holds the whole result set in memory.
  if (!PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                         nullptr, 0))
    return fail(connError("query"));
  PQsetSingleRowMode(conn_);  // if refused, the rows simply come in one result
  std::optional<Error> failed;
  std::vector<const char*> v;
  // Every result must be read (until null) before the connection takes another query.
  while (PGresult* res = PQgetResult(conn_)) {
    ResultGuard g{res};
    const ExecStatusType st = PQresultStatus(res);
    if (failed) continue;
    if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK) {
      failed = connError("query");
      continue;
    }
    const int rows = PQntuples(res), cols = PQnfields(res);
    v.resize(static_cast<size_t>(cols));
    for (int i = 0; i < rows; ++i) {
      for (int c = 0; c < cols; ++c) v[static_cast<size_t>(c)] = PQgetisnull(res, i, c) ? nullptr : PQgetvalue(res, i, c);
      row(v.data(), cols);
    }
  }
  if (failed) return fail(*failed);
  return {};
}

Result<int64_t> PostgresSink::rowCount() {
  int64_t n = 0;
  auto r = query("SELECT count(*) FROM requests", {}, [&](const char* const* v, int) { n = parseNumber<int64_t>(v[0]); });
  if (!r) return fail(r.error());
  return n;
}

Result<std::vector<LedgerRecord>> PostgresSink::readRecords(int64_t limit, int64_t offset) {
  std::vector<LedgerRecord> out;
  auto text = [](const char* s) { return s ? std::string(s) : std::string(); };
  auto r = query(R"sql(
SELECT ts_us, request_id, key_id, route, model, provider, candidates, knob, decision_us, tokens_in,
  tokens_out, cost_nanos, reference_model, reference_cost_nanos, latency_us, ttft_us, status, error,
  attempts, sensitive, stream, prompt, attempts_detail, cached_tokens, cache_write_tokens, reasoning_tokens,
  usage_estimated
FROM requests ORDER BY id LIMIT $1 OFFSET $2)sql",
                 {std::to_string(limit), std::to_string(offset)}, [&](const char* const* v, int) {
                   LedgerRecord rec;
                   rec.time = fromEpochMicros(parseNumber<int64_t>(v[0]));
                   rec.request_id = text(v[1]);
                   rec.key_id = text(v[2]);
                   rec.route = text(v[3]);
                   rec.model = text(v[4]);
                   rec.provider = text(v[5]);
                   rec.candidates = text(v[6]);
                   rec.knob = parseNumber<double>(v[7], -1);
                   rec.decision = std::chrono::microseconds(parseNumber<int64_t>(v[8]));
                   rec.tokens_in = parseNumber<int64_t>(v[9]);
                   rec.tokens_out = parseNumber<int64_t>(v[10]);
                   rec.cost_nanos = parseNumber<int64_t>(v[11]);
                   rec.reference_model = text(v[12]);
                   rec.reference_cost_nanos = parseNumber<int64_t>(v[13]);
                   rec.latency = std::chrono::microseconds(parseNumber<int64_t>(v[14]));
                   rec.ttft = std::chrono::microseconds(parseNumber<int64_t>(v[15], -1));
                   rec.status = parseNumber<int>(v[16]);
                   rec.error = text(v[17]);
                   rec.attempts = parseNumber<int>(v[18]);
                   rec.sensitive = v[19] && v[19][0] == 't';
                   rec.stream = v[20] && v[20][0] == 't';
                   rec.prompt = text(v[21]);
                   rec.attempts_detail = text(v[22]);
                   rec.cached_tokens = parseNumber<int64_t>(v[23]);
                   rec.cache_write_tokens = parseNumber<int64_t>(v[24]);
                   rec.reasoning_tokens = parseNumber<int64_t>(v[25]);
                   rec.usage_estimated = v[26] && v[26][0] == 't';
                   out.push_back(std::move(rec));
                 });
  if (!r) return fail(r.error());
  return out;
}

Result<std::vector<FeedbackRecord>> PostgresSink::readFeedback() {
  std::vector<FeedbackRecord> out;
  auto r = query("SELECT ts_us, request_id, score FROM feedback ORDER BY id", {}, [&](const char* const* v, int) {
    out.push_back(FeedbackRecord{fromEpochMicros(parseNumber<int64_t>(v[0])), v[1] ? v[1] : "",
                                 parseNumber<double>(v[2])});
  });
  if (!r) return fail(r.error());
  return out;
}

Result<std::vector<ShadowGradeRecord>> PostgresSink::readShadowGrades() {
  std::vector<ShadowGradeRecord> out;
  auto r = query("SELECT ts_us, request_id, route, model, yardstick, result, served_score, yardstick_score, "
                 "cost_nanos, prompt, error, yardstick_cost_nanos, served_answer, yardstick_answer FROM shadow_grades "
                 "ORDER BY id",
                 {}, [&](const char* const* v, int) {
                   ShadowGradeRecord g;
                   g.time = fromEpochMicros(parseNumber<int64_t>(v[0]));
                   g.request_id = v[1] ? v[1] : "";
                   g.route = v[2] ? v[2] : "";
                   g.model = v[3] ? v[3] : "";
                   g.yardstick = v[4] ? v[4] : "";
                   g.result = v[5] ? v[5] : "";
                   g.served_score = v[6] ? parseNumber<double>(v[6]) : -1;
                   g.yardstick_score = v[7] ? parseNumber<double>(v[7]) : -1;
                   g.cost_nanos = parseNumber<int64_t>(v[8]);
                   g.prompt = v[9] ? v[9] : "";
                   g.error = v[10] ? v[10] : "";
                   g.yardstick_cost_nanos = parseNumber<int64_t>(v[11]);
                   g.served_answer = v[12] ? v[12] : "";
                   g.yardstick_answer = v[13] ? v[13] : "";
                   out.push_back(std::move(g));
                 });
  if (!r) return fail(r.error());
  return out;
}

}  // namespace rightsize::ledger
