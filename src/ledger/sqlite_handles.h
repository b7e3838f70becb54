#pragma once
// Scope guards for raw SQLite handles (the connection is closed / the statement finalized on
// every path out of a scope), and reading a text column.

#include <sqlite3.h>

#include <string>

namespace rightsize::ledger {

struct DbGuard {
  sqlite3* db = nullptr;
  ~DbGuard() { sqlite3_close(db); }
};

struct StmtGuard {
  sqlite3_stmt* s = nullptr;
  ~StmtGuard() { sqlite3_finalize(s); }
};

// Column `i` of the current row as a string ("" for NULL); embedded NULs kept.
inline std::string columnText(sqlite3_stmt* s, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s, i))) : std::string();
}

}  // namespace rightsize::ledger
