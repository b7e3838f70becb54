#include "ledger/outcome_export.h"

#include <sqlite3.h>
#include <zlib.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "common/strings.h"
#include "ledger/postgres_sink.h"
#include "ledger/record.h"
#include "ledger/sqlite_handles.h"
#include "ledger/sqlite_sink.h"

namespace rightsize::ledger {
namespace {

// Every feedback row, with the request rows of the same id (NULLs when there is none). Both
// SQLite and PostgreSQL run it as written.
constexpr const char* kJoinSql = R"sql(
SELECT f.request_id, f.ts_us, f.id, f.score, r.ts_us, r.route, r.model, r.cost_nanos, r.status, r.prompt
FROM feedback f LEFT JOIN requests r ON r.request_id = f.request_id)sql";

struct Scored {
  // Newest feedback (by time, then insertion id).
  int64_t fb_ts = INT64_MIN, fb_id = INT64_MIN;
  double score = 0;
  // Newest request with the id, if any.
  bool has_request = false;
  int64_t req_ts = INT64_MIN;
  std::string route, model, prompt;
  bool has_prompt = false;
  Nanos cost_nanos = 0;
  int status = 0;
};

struct Row {
  const char* request_id;
  int64_t fb_ts, fb_id;
  double score;
  bool has_request;
  int64_t req_ts;
  const char *route, *model, *prompt;
  Nanos cost_nanos;
  int status;
};

void merge(std::map<std::string, Scored>& out, const Row& row) {
  Scored& s = out[row.request_id];
  if (row.fb_ts > s.fb_ts || (row.fb_ts == s.fb_ts && row.fb_id > s.fb_id)) {
    s.fb_ts = row.fb_ts;
    s.fb_id = row.fb_id;
    s.score = row.score;
  }
  if (row.has_request && (!s.has_request || row.req_ts > s.req_ts)) {
    s.has_request = true;
    s.req_ts = row.req_ts;
    s.route = row.route ? row.route : "";
    s.model = row.model ? row.model : "";
    s.has_prompt = row.prompt != nullptr && row.prompt[0] != '\0';
    s.prompt = s.has_prompt ? row.prompt : "";
    s.cost_nanos = row.cost_nanos;
    s.status = row.status;
  }
}


Result<void> readSqlite(const std::string& path, std::map<std::string, Scored>& out) {
  DbGuard db;
  int rc = sqlite3_open_v2(path.c_str(), &db.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db.db ? sqlite3_errmsg(db.db) : sqlite3_errstr(rc);
    return fail(ErrorCode::kIo, fmt::format("ledger {}: cannot open: {}", path, msg));
  }
  sqlite3_busy_timeout(db.db, 5000);
  int version = -1;
  {
    StmtGuard g;
    if (sqlite3_prepare_v2(db.db, "SELECT max(version) FROM schema_version", -1, &g.s, nullptr) != SQLITE_OK ||
        sqlite3_step(g.s) != SQLITE_ROW) {
      return fail(ErrorCode::kCorruptData,
                  fmt::format("ledger {}: not a rightsize ledger: {}", path, sqlite3_errmsg(db.db)));
    }
    version = sqlite3_column_int(g.s, 0);
  }
  if (version > SqliteSink::latestSchemaVersion()) {
    return fail(ErrorCode::kCorruptData, fmt::format("ledger {}: schema version {} is newer than this rightsize "
                                                     "supports ({})",
                                                     path, version, SqliteSink::latestSchemaVersion()));
  }
  if (version < 2) {
    return fail(ErrorCode::kCorruptData,
                fmt::format("ledger {}: schema version {} has no feedback table (start the gateway once on it to "
                            "migrate it)",
                            path, version));
  }
  StmtGuard q;
  if (sqlite3_prepare_v2(db.db, kJoinSql, -1, &q.s, nullptr) != SQLITE_OK) {
    return fail(ErrorCode::kIo, fmt::format("ledger {}: {}", path, sqlite3_errmsg(db.db)));
  }
  auto text = [&](int i) { return reinterpret_cast<const char*>(sqlite3_column_text(q.s, i)); };
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    Row row{};
    row.request_id = text(0);
    row.fb_ts = sqlite3_column_int64(q.s, 1);
    row.fb_id = sqlite3_column_int64(q.s, 2);
    row.score = sqlite3_column_double(q.s, 3);
    row.has_request = sqlite3_column_type(q.s, 4) != SQLITE_NULL;
    row.req_ts = sqlite3_column_int64(q.s, 4);
    row.route = text(5);
    row.model = text(6);
    row.cost_nanos = sqlite3_column_int64(q.s, 7);
    row.status = sqlite3_column_int(q.s, 8);
    row.prompt = text(9);
    if (!row.request_id) continue;
    merge(out, row);
  }
  if (rc != SQLITE_DONE) return fail(ErrorCode::kIo, fmt::format("ledger {}: {}", path, sqlite3_errmsg(db.db)));
  return {};
}

// Shadow grades with the served request's cost (0 when its row is gone).
constexpr const char* kShadowSql = R"sql(
SELECT s.request_id, s.route, s.model, s.yardstick, s.result, coalesce(s.served_score, -1),
       coalesce(s.yardstick_score, -1), s.yardstick_cost_nanos, s.prompt,
       coalesce((SELECT max(r.cost_nanos) FROM requests r WHERE r.request_id = s.request_id AND r.ts_us = s.ts_us), 0),
       s.served_answer, s.yardstick_answer
FROM shadow_grades s ORDER BY s.request_id, s.id)sql";

struct ShadowRow {
  std::string request_id, route, model, yardstick, result, prompt;
  std::string served_answer, yard_answer;  // "" when not stored (sensitive, or no answer)
  bool has_prompt = false;
  double served = -1, yard = -1;
  Nanos yard_cost = 0, served_cost = 0;
};

Result<void> readSqliteShadow(const std::string& path, std::vector<ShadowRow>& out) {
  DbGuard db;
  int rc = sqlite3_open_v2(path.c_str(), &db.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return fail(ErrorCode::kIo, fmt::format("ledger {}: cannot open", path));
  sqlite3_busy_timeout(db.db, 5000);
  int version = 0;
  {
    StmtGuard g;
    if (sqlite3_prepare_v2(db.db, "SELECT max(version) FROM schema_version", -1, &g.s, nullptr) == SQLITE_OK &&
        sqlite3_step(g.s) == SQLITE_ROW)
      version = sqlite3_column_int(g.s, 0);
  }
  if (version < 6) return {};  // no shadow_grades yet
  StmtGuard q;
  if (sqlite3_prepare_v2(db.db, kShadowSql, -1, &q.s, nullptr) != SQLITE_OK) {
    return fail(ErrorCode::kIo, fmt::format("ledger {}: {}", path, sqlite3_errmsg(db.db)));
  }
  auto text = [&](int i) {
    const char* p = reinterpret_cast<const char*>(sqlite3_column_text(q.s, i));
    return std::string(p ? p : "");
  };
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    ShadowRow r;
    r.request_id = text(0);
    r.route = text(1);
    r.model = text(2);
    r.yardstick = text(3);
    r.result = text(4);
    r.served = sqlite3_column_double(q.s, 5);
    r.yard = sqlite3_column_double(q.s, 6);
    r.yard_cost = sqlite3_column_int64(q.s, 7);
    r.has_prompt = sqlite3_column_type(q.s, 8) != SQLITE_NULL;
    r.prompt = text(8);
    r.served_cost = sqlite3_column_int64(q.s, 9);
    r.served_answer = text(10);
    r.yard_answer = text(11);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return fail(ErrorCode::kIo, fmt::format("ledger {}: {}", path, sqlite3_errmsg(db.db)));
  return {};
}

template <typename T>
T num(const char* s) {
  T v{};
  if (s) std::from_chars(s, s + std::strlen(s), v);
  return v;
}

Result<void> readPostgres(const std::string& dsn, std::map<std::string, Scored>& out) {
  auto db = PostgresSink::openExisting(dsn);
  if (!db) return fail(db.error());
  return (*db)->query(kJoinSql, {}, [&](const char* const* v, int) {
    Row row{};
    row.request_id = v[0];
    row.fb_ts = num<int64_t>(v[1]);
    row.fb_id = num<int64_t>(v[2]);
    row.score = num<double>(v[3]);
    row.has_request = v[4] != nullptr;
    row.req_ts = num<int64_t>(v[4]);
    row.route = v[5];
    row.model = v[6];
    row.cost_nanos = num<int64_t>(v[7]);
    row.status = num<int>(v[8]);
    row.prompt = v[9];
    if (row.request_id) merge(out, row);
  });
}

Result<void> readPostgresShadow(const std::string& dsn, std::vector<ShadowRow>& out) {
  auto db = PostgresSink::openExisting(dsn);
  if (!db) return fail(db.error());
  auto version = (*db)->schemaVersion();
  if (!version) return fail(version.error());
  if (*version < 5) return {};  // no shadow_grades yet
  auto txt = [](const char* s) { return std::string(s ? s : ""); };
  return (*db)->query(kShadowSql, {}, [&](const char* const* v, int) {
    ShadowRow r;
    r.request_id = txt(v[0]);
    r.route = txt(v[1]);
    r.model = txt(v[2]);
    r.yardstick = txt(v[3]);
    r.result = txt(v[4]);
    r.served = num<double>(v[5]);
    r.yard = num<double>(v[6]);
    r.yard_cost = num<int64_t>(v[7]);
    r.has_prompt = v[8] != nullptr;
    r.prompt = txt(v[8]);
    r.served_cost = num<int64_t>(v[9]);
    r.served_answer = txt(v[10]);
    r.yard_answer = txt(v[11]);
    out.push_back(std::move(r));
  });
}

// Writes plain or gzip text; the first failure sticks.
class OutFile {
 public:
  static Result<OutFile> open(const std::string& path) {
    OutFile f;
    f.path_ = path;
    if (path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0) {
      f.gz_ = gzopen(path.c_str(), "wb");
      if (!f.gz_) return fail(ErrorCode::kIo, fmt::format("cannot write {}: {}", path, std::strerror(errno)));
    } else {
      f.plain_ = std::fopen(path.c_str(), "wb");
      if (!f.plain_) return fail(ErrorCode::kIo, fmt::format("cannot write {}: {}", path, std::strerror(errno)));
    }
    return f;
  }
  OutFile(OutFile&& o) noexcept : path_(std::move(o.path_)), gz_(o.gz_), plain_(o.plain_), ok_(o.ok_) {
    o.gz_ = nullptr;
    o.plain_ = nullptr;
  }
  ~OutFile() {
    if (gz_) gzclose(gz_);
    if (plain_) std::fclose(plain_);
  }
  void write(const std::string& s) {
    if (!ok_ || s.empty()) return;
    if (gz_) ok_ = gzwrite(gz_, s.data(), static_cast<unsigned>(s.size())) == static_cast<int>(s.size());
    else ok_ = std::fwrite(s.data(), 1, s.size(), plain_) == s.size();
  }
  Result<void> close() {
    bool closed = true;
    if (gz_) closed = gzclose(gz_) == Z_OK;
    if (plain_) closed = std::fclose(plain_) == 0;
    gz_ = nullptr;
    plain_ = nullptr;
    if (!ok_ || !closed) return fail(ErrorCode::kIo, fmt::format("error writing {}", path_));
    return {};
  }

 private:
  OutFile() = default;
  std::string path_;
  gzFile gz_ = nullptr;
  std::FILE* plain_ = nullptr;
  bool ok_ = true;
};

}  // namespace

Result<ExportSummary> exportOutcomes(const LedgerSource& source, const std::string& out_path) {
  std::map<std::string, Scored> scored;
  auto r = source.kind == LedgerSource::Kind::kSqlite ? readSqlite(source.location, scored)
                                                      : readPostgres(source.location, scored);
  if (!r) return fail(r.error());
  auto out = OutFile::open(out_path);
  if (!out) return fail(out.error());
  ExportSummary sum;
  for (const auto& [id, s] : scored) {
    ++sum.requests_with_feedback;
    if (!s.has_request) {
      ++sum.unknown_request;
      continue;
    }
    if (s.status >= 400 || s.model.empty()) {
      ++sum.failed_request;
      continue;
    }
    if (!s.has_prompt) {
      ++sum.no_prompt;
      continue;
    }
    std::string line = "{\"id\":";
    appendJsonString(line, id);
    line += ",\"task\":";
    appendJsonString(line, s.route);
    line += ",\"prompt\":";
    appendJsonString(line, s.prompt);
    line += ",\"outcomes\":{";
    appendJsonString(line, s.model);
    fmt::format_to(std::back_inserter(line), ":{{\"score\":{},\"cost_usd\":{}}}}},\"source\":\"feedback\"}}\n",
                   s.score, nanosToUsd(s.cost_nanos));
    out->write(line);
    ++sum.written;
  }
  std::vector<ShadowRow> shadow;
  auto sr = source.kind == LedgerSource::Kind::kSqlite ? readSqliteShadow(source.location, shadow)
                                                       : readPostgresShadow(source.location, shadow);
  if (!sr) return fail(sr.error());
  std::string last_id;
  for (const ShadowRow& s : shadow) {
    if (s.request_id == last_id) continue;  // one line per request
    double served = 0, yard = 0;
    if (s.result == "agree") {
      served = yard = 1;
    } else if (s.result == "disagree") {
      served = 0;
      yard = 1;
    } else if (s.result == "scored" && s.served >= 0 && s.yard >= 0) {
      served = s.served;
      yard = s.yard;
    } else {
      ++sum.shadow_skipped;
      continue;
    }
    if (!s.has_prompt || s.prompt.empty() || s.model == s.yardstick) {
      ++sum.shadow_skipped;
      continue;
    }
    last_id = s.request_id;
    std::string line = "{\"id\":";
    appendJsonString(line, s.request_id + "/shadow");
    line += ",\"task\":";
    appendJsonString(line, s.route);
    line += ",\"prompt\":";
    appendJsonString(line, s.prompt);
    line += ",\"outcomes\":{";
    // One model's outcome; its answer as `response` when stored (what `plan`'s extractors read).
    auto outcome = [&line](const std::string& model, double score, Nanos cost, const std::string& answer) {
      appendJsonString(line, model);
      fmt::format_to(std::back_inserter(line), ":{{\"score\":{},\"cost_usd\":{}", score, nanosToUsd(cost));
      if (!answer.empty()) {
        line += ",\"response\":";
        appendJsonString(line, answer);
      }
      line += '}';
    };
    outcome(s.model, served, s.served_cost, s.served_answer);
    line += ',';
    outcome(s.yardstick, yard, s.yard_cost, s.yard_answer);
    line += "},\"source\":\"shadow\"}\n";
    out->write(line);
    ++sum.shadow_written;
  }
  if (auto c = out->close(); !c) return fail(c.error());
  return sum;
}

}  // namespace rightsize::ledger
