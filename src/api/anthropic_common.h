#pragma once
// Pieces shared by the two Anthropic translators (anthropic_ingress.h: Anthropic clients in front
// of the gateway; anthropic_egress.h: Anthropic as an upstream): stop-reason mapping, error
// bodies, SSE framing, and a little JSON writing over simdjson DOM values. Pure, no I/O.

#include <simdjson.h>

#include <string>
#include <string_view>

#include "common/result.h"

namespace rightsize::api {

// The Messages API version the gateway speaks upstream (sent as `anthropic-version`).
inline constexpr std::string_view kAnthropicVersion = "2023-06-01";

// OpenAI finish_reason for an Anthropic stop_reason: end_turn/stop_sequence/pause_turn → stop,
// max_tokens → length, tool_use → tool_calls, refusal → content_filter; anything else → stop.
std::string_view finishReasonFromStopReason(std::string_view stop_reason);
// Anthropic stop_reason for an OpenAI finish_reason: stop → end_turn, length → max_tokens,
// tool_calls/function_call → tool_use, content_filter → refusal; anything else → end_turn.
std::string_view stopReasonFromFinishReason(std::string_view finish_reason);

// Anthropic error `type` for an HTTP status: 400 invalid_request_error, 401 authentication_error,
// 403 permission_error, 404 not_found_error, 413 request_too_large, 429 rate_limit_error,
// 503/529 overloaded_error, 504 timeout_error, anything else api_error.
const char* anthropicErrorType(int status);

// {"type":"error","error":{"type":...,"message":...}} for the error's HTTP status (api/errors.h).
std::string anthropicErrorBody(const Error& e);
// The same as an SSE event ("event: error\ndata: {...}\n\n"), for failures after a stream started.
std::string anthropicErrorEvent(const Error& e);

// Appends "event: <type>\ndata: <json>\n\n".
void appendAnthropicEvent(std::string& out, std::string_view type, std::string_view json);

namespace anthropic_json {

// Appends `el` as compact JSON.
void appendValue(std::string& out, simdjson::dom::element el);
// The string value of `key` in `obj`, or `fallback` when absent or not a string.
std::string_view stringField(simdjson::dom::element obj, std::string_view key, std::string_view fallback = {});

}  // namespace anthropic_json

}  // namespace rightsize::api
