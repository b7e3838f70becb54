#include "server/feedback_endpoint.h"

#include <simdjson.h>

#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "api/errors.h"
#include "common/ids.h"
#include "common/strings.h"

namespace rightsize::server {
namespace {

http::Response error(ErrorCode code, std::string message) {
  Error e{code, std::move(message), 0};
  return http::jsonResponse(static_cast<unsigned>(api::httpStatus(e)), api::errorBody(e));
}

}  // namespace

namespace {

http::Response feedbackResponseUncounted(std::string_view body, Accounting* acc) {
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  simdjson::dom::object obj;
  if (auto err = parser.parse(padded).get(obj); err) {
    return error(ErrorCode::kInvalidArgument, "the body must be a JSON object {\"request_id\": \"...\", \"score\": 0..1}");
  }
  std::string_view id;
  simdjson::dom::element id_el;
  if (obj["request_id"].get(id_el) || id_el.get_string().get(id) || !validRequestId(id)) {
    return error(ErrorCode::kInvalidArgument,
                 "request_id: required, the x-request-id of an earlier response (1-128 characters of A-Z a-z 0-9 - _ . :)");
  }
  simdjson::dom::element score_el;
  double score = 0;
  // get_double() also takes integer literals (0, 1); booleans and strings are refused.
  if (obj["score"].get(score_el) || !score_el.is_number() || score_el.get_double().get(score) ||
      !std::isfinite(score) || score < 0 || score > 1) {
    return error(ErrorCode::kInvalidArgument, "score: required, a number in [0, 1]");
  }
  ledger::FeedbackRecord f;
  f.time = std::chrono::system_clock::now();
  f.request_id.assign(id);
  f.score = score;
  std::string out = "{\"request_id\":";
  appendJsonString(out, id);
  fmt::format_to(std::back_inserter(out), ",\"score\":{},\"status\":\"accepted\"}}", score);
  acc->recordFeedback(std::move(f));
  return http::jsonResponse(202, std::move(out));
}

}  // namespace

http::Response feedbackResponse(std::string_view body, Accounting* acc) {
  if (!acc || !acc->writer()) {
    return error(ErrorCode::kUnavailable, "feedback needs a ledger to be stored in (ledger.kind is off)");
  }
  http::Response res = feedbackResponseUncounted(body, acc);
  acc->metrics().feedback->labels({res.result_int() == 202 ? "accepted" : "rejected"}).inc();
  return res;
}

}  // namespace rightsize::server
