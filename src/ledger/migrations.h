#pragma once
// Versioned schema migrations, the same way for every SQL sink: a schema_version table holds
// the version reached; migrations are append-only (a released one is never edited).

#include <span>
#include <string>

#include <fmt/format.h>

#include "common/result.h"

namespace rightsize::ledger {

struct Migration {
  int version;
  const char* sql;
};

// Applies, in one transaction, every migration newer than the database's version. `exec` runs
// one statement (Result<void>(const char*)); `schema_version` reads the version reached
// (Result<int>(), 0 when empty). `begin`
// opens the transaction (e.g. SQLite's "BEGIN IMMEDIATE"), `lock` (may be null) is run first
// inside it so that replicas starting together do not race. `what` names the database in
// messages. kCorruptData when the database is newer than `migrations`; rolled back on failure.
template <class Exec, class SchemaVersion>
Result<void> applyMigrations(Exec exec, SchemaVersion schema_version, std::span<const Migration> migrations,
                             const char* begin, const char* lock, const char* what) {
  const int latest = migrations.back().version;
  if (auto r = exec(begin); !r) return r;
  auto rollback = [&exec](Error e) -> Result<void> {
    (void)exec("ROLLBACK");
    return fail(std::move(e));
  };
  if (lock) {
    if (auto r = exec(lock); !r) return rollback(r.error());
  }
  if (auto r = exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"); !r)
    return rollback(r.error());
  auto current = schema_version();
  if (!current) return rollback(current.error());
  if (*current > latest) {
    return rollback(Error{ErrorCode::kCorruptData,
                          fmt::format("ledger: {} schema version {} is newer than this rightsize supports ({}); "
                                      "upgrade rightsize or use another database",
                                      what, *current, latest)});
  }
  for (const Migration& m : migrations) {
    if (m.version <= *current) continue;
    if (auto r = exec(m.sql); !r) {
      Error e = r.error();
      e.message = fmt::format("ledger: {} migration {} failed: {}", what, m.version, e.message);
      return rollback(std::move(e));
    }
  }
  if (*current < latest) {
    if (auto r = exec("DELETE FROM schema_version"); !r) return rollback(r.error());
    const std::string ins = fmt::format("INSERT INTO schema_version (version) VALUES ({})", latest);
    if (auto r = exec(ins.c_str()); !r) return rollback(r.error());
  }
  if (auto r = exec("COMMIT"); !r) return rollback(r.error());
  return {};
}

}  // namespace rightsize::ledger
