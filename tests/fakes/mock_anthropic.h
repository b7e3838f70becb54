#pragma once
// The Anthropic half of rs_mock_upstream: POST /v1/messages. It checks the request the way the
// Messages API does — strictly, so a gateway that sends a wrong shape gets a 400 naming the
// problem — and answers with a message or a stream of Anthropic events. Pure: no I/O; the
// server (mock_upstream.cc) writes what this returns. See README.md ("Anthropic mode").

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rightsize::fakes {

struct AnthropicAnswer {
  unsigned status = 200;
  std::string model;                // the request's model string (for the per-model counters); empty if unparsed
  std::string body;                 // the JSON body (a message, or an Anthropic error), when !stream
  bool stream = false;              // answer with `events` as text/event-stream
  std::vector<std::string> events;  // whole SSE events: "event: <type>\ndata: <json>\n\n"
};

// Answers one request. `data` must have simdjson::SIMDJSON_PADDING readable bytes past `len`.
// `api_key` / `version`: the x-api-key and anthropic-version headers (empty when absent).
// `id`: a number for the message id. Checks, in order: headers (401 without x-api-key, 400
// without anthropic-version), then the body (400 `invalid_request_error` naming the problem).
// Directives in the model string (`name;key=value`): status=N (that status with an Anthropic
// error body), stream_error=1 (a stream sends an `error` event after its first text delta),
// bad_event=1 (a stream sends an event whose data is not JSON after message_start), cut_stream=1 (a stream
// ends cleanly after its first text delta, without message_stop), garbage=1 (a non-streaming 200 whose body
// is cut-short JSON), cache_read=N / cache_write=N (usage.cache_read_input_tokens / cache_creation_input_tokens).
AnthropicAnswer answerAnthropic(simdjson::dom::parser& parser, const char* data, size_t len, std::string_view api_key,
                                std::string_view version, uint64_t id);

}  // namespace rightsize::fakes
