#include "api/anthropic_common.h"

#include "api/errors.h"
#include "common/strings.h"

namespace rightsize::api {

std::string_view finishReasonFromStopReason(std::string_view r) {
  if (r == "max_tokens") return "length";
  if (r == "tool_use") return "tool_calls";
  if (r == "refusal") return "content_filter";
  return "stop";
}

std::string_view stopReasonFromFinishReason(std::string_view r) {
  if (r == "length") return "max_tokens";
  if (r == "tool_calls" || r == "function_call") return "tool_use";
  if (r == "content_filter") return "refusal";
  return "end_turn";
}

const char* anthropicErrorType(int status) {
  switch (status) {
    case 400:
    case 405:
    case 422:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
    case 529:
      return "overloaded_error";
    case 504:
      return "timeout_error";
    default:
      return "api_error";
  }
}

std::string anthropicErrorBody(const Error& e) {
  std::string out = R"({"type":"error","error":{"type":)";
  appendJsonString(out, anthropicErrorType(httpStatus(e)));
  out += R"(,"message":)";
  appendJsonString(out, e.message);
  out += "}}";
  return out;
}

std::string anthropicErrorEvent(const Error& e) {
  std::string out;
  appendAnthropicEvent(out, "error", anthropicErrorBody(e));
  return out;
}

void appendAnthropicEvent(std::string& out, std::string_view type, std::string_view json) {
  out += "event: ";
  out += type;
  out += "\ndata: ";
  out += json;
  out += "\n\n";
}

namespace anthropic_json {

void appendValue(std::string& out, simdjson::dom::element el) { out += simdjson::minify(el); }

std::string_view stringField(simdjson::dom::element obj, std::string_view key, std::string_view fallback) {
  std::string_view v;
  if (obj.is_object() && obj[key].get(v) == simdjson::SUCCESS) return v;
  return fallback;
}

}  // namespace anthropic_json

}  // namespace rightsize::api
