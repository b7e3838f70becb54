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
};

// Reads the ledger (read-only; never creates or migrates it) and writes the outcome file at
// `out_path`, gzip-compressed when the name ends in ".gz". Lines are ordered by request id.
// Fails with kIo (cannot read the ledger, cannot write the file) or kCorruptData (not a
// rightsize ledger, or a schema without feedback / newer than this binary's).
Result<ExportSummary> exportOutcomes(const LedgerSource& source, const std::string& out_path);

}  // namespace rightsize::ledger
