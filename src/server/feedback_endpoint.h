#pragma once
// POST /v1/feedback {"request_id": "...", "score": 0..1}: a client's verdict on an earlier
// answer, stored in the ledger's feedback table (through the ledger writer: the io thread never
// waits on the database) and turned into outcomes by `rightsize export-outcomes`.

#include <string_view>

#include "http/server.h"
#include "server/accounting.h"

namespace rightsize::server {

// Validates `body` and queues the feedback. Answers:
//   202 {"request_id": ..., "score": ..., "status": "accepted"}   queued (or spilled, never lost)
//   400 OpenAI error body: not a JSON object, request_id missing / not a string / not 1-128 chars
//       of [A-Za-z0-9-_.:], score missing / not a number / outside [0, 1]
//   503 no ledger to store it in (ledger.kind off, or `acc` null)
// The request id is not looked up: a row may still be in the writer's queue, and the ledger may
// be another replica's. Feedback for an id the ledger never holds is kept and skipped (counted)
// by export-outcomes. Other fields in the body are ignored. Thread-safe.
http::Response feedbackResponse(std::string_view body, Accounting* acc);

}  // namespace rightsize::server
