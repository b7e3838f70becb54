#pragma once
// Feedback -> outcomes: turns the scores clients sent to POST /v1/feedback into an outcome file
// (SPEC "Data formats") that `rightsize train` reads, one line per request that has feedback, a
// stored prompt and a successful answer:
//
//   {"id": REQUEST_ID, "task": ROUTE, "prompt": THE_HUMANS_ASK,
//    "outcomes": {MODEL: {"score": S, "cost_usd": C}}, "source": "feedback"}
//
// MODEL is the model that answered, C what that answer cost (the ledger's cost_nanos / 1e9), S
// the newest feedback score for the request. A client id reused for several requests: the newest
// request with that id is the one scored.
//
// Shadow-graded requests (shadow_grades, docs/shadow.md) follow, one line each when the grade is
// agree, disagree or scored and its prompt was stored (not sensitive), ordered by request id:
//
//   {"id": REQUEST_ID "/shadow", "task": ROUTE, "prompt": THE_HUMANS_ASK,
//    "outcomes": {SERVED: {"score": S1, "cost_usd": C1}, YARDSTICK: {"score": S2, "cost_usd": C2}},
//    "source": "shadow"}
//
// agree: S1 = S2 = 1; disagree: S1 = 0, S2 = 1 (the yardstick is the reference); scored: the
// judge's scores in [0, 1]. C1 is the served request's cost_nanos (0 when its row is gone), C2 the
// yardstick answer's (shadow_grades.yardstick_cost_nanos). A repeated grade of one request: once.

#include <cstdint>
#include <string>

#include "common/result.h"

namespace rightsize::ledger {

struct LedgerSource {
  enum class Kind { kSqlite, kPostgres };
  Kind kind = Kind::kSqlite;
  std::string location;  // the SQLite file, or the PostgreSQL dsn
};

struct ExportSummary {
  int64_t requests_with_feedback = 0;  // distinct request ids in the feedback table
  int64_t written = 0;                 // outcome lines written
  int64_t unknown_request = 0;         // feedback for a request id the ledger does not hold
  int64_t no_prompt = 0;               // request stored without its prompt (store_prompts was off)
  int64_t failed_request = 0;          // request answered with an error (status >= 400): nothing to score
  int64_t shadow_written = 0;          // shadow outcome lines written
  int64_t shadow_skipped = 0;          // shadow grades not exported: error result, or no prompt (sensitive)
};

// Reads the ledger (read-only; never creates or migrates it) and writes the outcome file at
// `out_path`, gzip-compressed when the name ends in ".gz". Lines are ordered by request id.
// Fails with kIo (cannot read the ledger, cannot write the file) or kCorruptData (not a
// rightsize ledger, or a schema without feedback / newer than this binary's).
Result<ExportSummary> exportOutcomes(const LedgerSource& source, const std::string& out_path);

}  // namespace rightsize::ledger
