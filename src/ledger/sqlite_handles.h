#pragma once
// Scope guards for raw SQLite handles: the connection is closed / the statement finalized on
// every path out of a scope.

#include <sqlite3.h>

namespace rightsize::ledger {

struct DbGuard {
  sqlite3* db = nullptr;
  ~DbGuard() { sqlite3_close(db); }
};

struct StmtGuard {
  sqlite3_stmt* s = nullptr;
  ~StmtGuard() { sqlite3_finalize(s); }
};

}  // namespace rightsize::ledger
