#pragma once
// One ledger row: everything rightsize knows about one client request once it is answered.

#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>

#include "common/money.h"

namespace rightsize::ledger {

// Ledger money is integer nano-dollars (common/money.h): exact sums in SQL (int64 holds 9.2e9 USD).
using rightsize::Nanos;
using rightsize::nanosToUsd;

struct LedgerRecord {
  // When the request arrived. Stored with microsecond precision.
  std::chrono::system_clock::time_point time{};
  std::string request_id;   // x-request-id; unique per request (the ledger ignores a repeat)
  std::string key_id;       // virtual key id; empty when the request used no key
  std::string route;        // route name (or the model name when a model was named directly)
  std::string model;        // chosen model's name in the config
  std::string provider;     // provider that answered (or was last tried)
  std::string candidates;   // candidate model names considered, comma-joined
  double knob = -1;         // the learned policy's knob; -1 when the policy has none
  std::chrono::microseconds decision{0};  // routing decision time
  int64_t tokens_in = 0;           // every input token, cached and cache-written ones included
  int64_t tokens_out = 0;          // reasoning tokens included
  int64_t cached_tokens = 0;       // of tokens_in: read from the provider's prompt cache
  int64_t cache_write_tokens = 0;  // of tokens_in: written to the cache
  int64_t reasoning_tokens = 0;    // of tokens_out
  bool usage_estimated = false;    // the upstream sent no usage: tokens and cost are estimates
  Nanos cost_nanos = 0;
  std::string reference_model;
  Nanos reference_cost_nanos = 0;
  std::chrono::microseconds latency{0};   // request arrival to last byte sent
  std::chrono::microseconds ttft{-1};     // time to first token; -1 when not streamed
  int status = 0;                         // HTTP status sent to the client
  std::string error;                      // error message sent, empty on success
  int attempts = 0;                       // upstream calls made (x-rightsize-attempts)
  bool sensitive = false;
  bool stream = false;
  // The human's ask (api::humanAsk) when ledger.store_prompts is on; empty otherwise (stored
  // as NULL). What `rightsize export-outcomes` turns into an outcome's prompt.
  std::string prompt;
  // JSON array, one object per upstream answer the request paid for, when there is more to say
  // than `attempts`: cascade attempts (model, result, failed check, cost, latency) and the
  // budget caps applied ({"model":..,"max_completion_tokens":..,"reasoning_effort":..}). Empty
  // for a plain request. cost_nanos already includes every attempt's cost.
  std::string attempts_detail;

  bool operator==(const LedgerRecord&) const = default;
};

// Columns of one requests row as the SQL sinks bind a LedgerRecord (sqlite_sink.cc, postgres_sink.cc).
inline constexpr int kRecordColumns = 27;

// One POST /v1/feedback: a score for an earlier request, stored as given (the request may not
// be written yet, or may be unknown; `rightsize export-outcomes` joins them).
struct FeedbackRecord {
  std::chrono::system_clock::time_point time{};  // when the feedback arrived
  std::string request_id;
  double score = 0;                              // in [0, 1]

  bool operator==(const FeedbackRecord&) const = default;
};

// One shadowed request's grade (docs/shadow.md): the served answer compared with the yardstick
// model's answer to the same request, asked after the client was answered.
struct ShadowGradeRecord {
  std::chrono::system_clock::time_point time{};  // when the shadowed request arrived
  std::string request_id;
  std::string route;
  std::string model;            // the model that served the client
  std::string yardstick;        // the model it was compared with
  std::string result;           // agree | disagree | scored | error
  double served_score = -1;     // judge: the served answer's score in [0, 1]; -1 when none
  double yardstick_score = -1;  // judge: the yardstick answer's score in [0, 1]; -1 when none
  Nanos cost_nanos = 0;         // shadow spend: the yardstick's and the judge's calls
  Nanos yardstick_cost_nanos = 0;  // of cost_nanos, the yardstick's answer (its cost_usd as an outcome)
  std::string prompt;           // the human's ask; empty for a sensitive request (stored as NULL)
  std::string error;            // result error: why, one line
  // The two answers' texts (what `plan` compares with its extractors once exported as outcomes);
  // empty for a sensitive request or when there was none (stored as NULL).
  std::string served_answer;
  std::string yardstick_answer;

  bool operator==(const ShadowGradeRecord&) const = default;
};

// One stored answer of POST /v1/responses (`store`, `previous_response_id`; docs/responses.md),
// kept in the ledger's database for the retention, readable only with the key that made it.
struct StoredResponse {
  std::string id;                                // resp_...
  std::chrono::system_clock::time_point time{};  // when it was answered
  std::string key_id;                            // empty when the gateway has no keys
  // A sensitive request's content is never stored: conversation and response are empty.
  bool sensitive = false;
  // The conversation so far as a JSON array of Responses items: every earlier turn's input and
  // output, this request's input, then its output items. What previous_response_id continues.
  std::string conversation;
  std::string response;                          // the `response` object as the client got it

  bool operator==(const StoredResponse&) const = default;
};

// One request_rollups row: the sums of the purged request rows of one UTC day, route, key and
// model (ledger retention, docs/ledger.md "Retention").
struct RequestRollup {
  int64_t day_us = 0;   // UTC midnight, microseconds since the epoch
  std::string route;
  std::string key_id;   // "" without a key
  std::string model;
  int64_t requests = 0, errors = 0;  // errors: status >= 400
  int64_t tokens_in = 0, tokens_out = 0, cached_tokens = 0, cache_write_tokens = 0, reasoning_tokens = 0;
  int64_t usage_estimated = 0;       // rows whose usage the gateway estimated
  int64_t cost_nanos = 0, reference_cost_nanos = 0;

  bool operator==(const RequestRollup&) const = default;
};

// Microseconds since the Unix epoch, the unit the ledger stores time in.
inline int64_t toEpochMicros(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}
inline std::chrono::system_clock::time_point fromEpochMicros(int64_t us) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::microseconds(us)));
}

// One UTC day in microseconds, and the UTC midnight at or before `us` (floor, also for times
// before 1970): the day a request_rollups row stands for.
inline constexpr int64_t kMicrosPerDay = 86'400'000'000;
inline constexpr int64_t utcDayStartMicros(int64_t us) {
  const int64_t q = us / kMicrosPerDay;
  return (us % kMicrosPerDay < 0 ? q - 1 : q) * kMicrosPerDay;
}

}  // namespace rightsize::ledger
