#pragma once
// LedgerSink: where ledger rows end up (SQLite by default, PostgreSQL for several replicas).

#include <chrono>
#include <optional>
#include <span>
#include <string_view>

#include "common/result.h"
#include "ledger/record.h"

namespace rightsize::ledger {

// A sink is used by one thread at a time (the LedgerWriter's thread); implementations
// need not be thread-safe.
class LedgerSink {
 public:
  virtual ~LedgerSink() = default;

  // Brings the schema up to the newest version this binary knows. Idempotent: on an
  // up-to-date database it changes nothing. Fails (kCorruptData) on a database whose
  // schema is newer than this binary's, and on any database error.
  virtual Result<void> migrate() = 0;

  // Writes all of `records` atomically (one transaction): on success every record is
  // stored, on failure none is. A record whose (request_id, time) is already stored is
  // skipped (the same client id at another time is another request), so writing a batch twice (a retry after an ambiguous failure, a spill replay after a
  // crash) stores each request once.
  virtual Result<void> writeBatch(std::span<const LedgerRecord> records) = 0;

  // Writes feedback rows atomically, like writeBatch; a row whose (request_id, time) is
  // already stored is skipped. The default fails: a sink that keeps no feedback.
  virtual Result<void> writeFeedback(std::span<const FeedbackRecord> feedback) {
    if (feedback.empty()) return {};
    return fail(ErrorCode::kInternal, "ledger: this sink does not store feedback");
  }

  // Writes shadow grades atomically, like writeBatch; a row whose (request_id, time) is already
  // stored is skipped. The default fails: a sink that keeps no shadow grades.
  virtual Result<void> writeShadowGrades(std::span<const ShadowGradeRecord> grades) {
    if (grades.empty()) return {};
    return fail(ErrorCode::kInternal, "ledger: this sink does not store shadow grades");
  }

  // Stored responses (POST /v1/responses with `store`). The defaults fail: a sink that keeps
  // none. putResponse replaces a response with the same id; getResponse gives nullopt for an
  // unknown id; deleteResponse says whether one was deleted; purgeResponses deletes every
  // response stored before `before` and returns how many.
  virtual Result<void> putResponse(const StoredResponse& r);
  virtual Result<std::optional<StoredResponse>> getResponse(std::string_view id);
  virtual Result<bool> deleteResponse(std::string_view id);
  virtual Result<int64_t> purgeResponses(std::chrono::system_clock::time_point before);

  // Ledger retention (ledger.retention_days, docs/ledger.md "Retention"). `before` is rounded
  // down to UTC midnight: only whole UTC days are purged. For each UTC day that still has
  // request rows before that cut, oldest first, one transaction adds the day's rows to
  // request_rollups (per day x route x key_id x model: requests, errors, tokens, usage_estimated,
  // cost and reference cost; added to a rollup row already there) and deletes them, with the
  // feedback rows of that day. Returns the number of request rows deleted. Safe to re-run: a
  // second call finds no rows before the cut and changes nothing; a failure leaves the failing
  // day untouched (days before it stay purged). The default fails: a sink that keeps no rollups.
  virtual Result<int64_t> purgeRequests(std::chrono::system_clock::time_point before);
};

}  // namespace rightsize::ledger
