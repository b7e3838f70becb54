#pragma once
// The pure half of rs_mock_upstream: behaviour directives, reading a chat request, and building the
// OpenAI-shaped JSON it answers with. No I/O; every function appends to a caller-owned string so the
// server can reuse one buffer per connection. See mock_upstream.cc and README.md for the behaviour.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "common/strings.h"

namespace rightsize::fakes {

// Behaviour asked for by a request's `model` string, `name;key=value;key=value...`.
struct Directives {
  std::string name;                          // the part before the first ';', echoed back as `model`
  int status = 0;                            // 0: succeed; else answer with this HTTP status
  int fail_first = -1;                       // -1: every request fails with `status`; K: only the first K
  std::string retry_after;                   // empty: no Retry-After header on errors
  std::chrono::milliseconds latency{0};      // before the response head
  std::chrono::milliseconds chunk_gap{0};    // between streamed chunks
  std::chrono::milliseconds slow_body_gap{0};  // non-streaming: between body pieces
  int chunks = -1;                           // -1: one content chunk per word
  int reset_after = -1;                      // -1: stream to the end
  bool truncate = false;
  bool hang = false;
  std::optional<std::string> require_key;
  std::optional<std::string> reply;          // URL-decoded
  double logprob = -0.05;                    // every token's logprob, when the request asks for logprobs
  int64_t cached = 0;                        // usage.prompt_tokens_details.cached_tokens (capped at prompt_tokens)
  int64_t reasoning = 0;                     // usage.completion_tokens_details.reasoning_tokens, added to completion
  bool no_usage = false;                     // never send usage (a local server that leaves it out)
};

// Parses `model` into `out`. Returns an error message (for a 400) on an unknown key or a bad value.
std::optional<std::string> parseDirectives(std::string_view model, Directives& out);

// The fields of a chat request the mock needs.
struct ChatRequest {
  std::string model;          // the full model string, directives included
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool logprobs = false;       // "logprobs": true
  std::string user_prefix;    // first <= 40 bytes of the last user message (never splits a UTF-8 sequence)
  int64_t prompt_chars = 0;   // Unicode code points over all message contents
};

// Reads `data[0, len)` as a chat request. `data` must have simdjson::SIMDJSON_PADDING readable bytes past
// `len`. Returns an error message (for a 400) on malformed JSON or a missing/mistyped field.
// `parser` is reused across calls (one per thread).
std::optional<std::string> parseChatRequest(simdjson::dom::parser& parser, const char* data, size_t len,
                                            ChatRequest& out);

// The reply text: `reply=` if given; else "w1 w2 ... wN" for `chunks=N`; else "mock reply to: " + prefix.
std::string replyText(const ChatRequest& req, const Directives& d);

// Splits `reply` into the streamed content pieces (views into `reply`) whose concatenation is `reply`:
// with `reply=` and `chunks=N`, N byte-balanced pieces (UTF-8 safe); otherwise one piece per word (a word
// with the whitespace after it; leading whitespace goes with the first piece).
void splitReply(std::string_view reply, const Directives& d, std::vector<std::string_view>& out);

// Number of whitespace-separated words.
int64_t countWords(std::string_view s);

// JSON string literals: the gateway's own escaper (common/strings.h).
using rightsize::appendJsonString;

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;     // written as prompt_tokens_details when > 0
  int64_t reasoning_tokens = 0;  // written as completion_tokens_details when > 0
  bool omit = false;             // no "usage" at all
};

// What every response object of one request shares.
struct CompletionMeta {
  std::string_view id;     // "chatcmpl-mock-N"
  int64_t created = 0;     // unix seconds
  std::string_view model;  // Directives::name
  bool include_usage = false;
  std::optional<double> logprob;  // non-streaming: set when the request asked for logprobs
};

// `choices[0].logprobs` is null, or with `m.logprob` one {"token","logprob","bytes","top_logprobs":[]} entry
// per whitespace-separated word of `content`.
void appendCompletion(std::string& out, const CompletionMeta& m, std::string_view content, Usage u);
// A streamed chunk object (no SSE framing). `role_only`: delta {"role":"assistant"}; `finish`: delta {} and
// finish_reason "stop"; otherwise delta {"content": content}. With include_usage, carries "usage":null.
void appendChunk(std::string& out, const CompletionMeta& m, std::string_view content, bool role_only,
                 bool finish);
void appendUsageChunk(std::string& out, const CompletionMeta& m, Usage u);
// {"error":{"message":...,"type":...,"code":<code_json>}}; `code_json` is a JSON value, e.g. "404" or "\"x\"".
void appendError(std::string& out, std::string_view message, std::string_view type, std::string_view code_json);

// Percent-decodes %XX sequences; anything else is copied as is.
std::string percentDecode(std::string_view s);

}  // namespace rightsize::fakes
