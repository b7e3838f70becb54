#pragma once
// Anthropic Messages API in front of the gateway (POST /v1/messages): the client's request is
// translated to an OpenAI Chat Completions body, runs through the same pipeline as
// /v1/chat/completions, and the OpenAI-shaped answer is translated back — a whole message, or
// Anthropic stream events. Pure functions and one small state machine; no I/O. See docs/anthropic.md.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/chat_response.h"
#include "common/result.h"

namespace rightsize::api {

// Translates an Anthropic Messages request body into an OpenAI Chat Completions body:
// system → a leading system message; user/assistant turns with text, image (base64 → data: URL,
// url → URL), tool_use (→ assistant tool_calls) and tool_result (→ role tool messages, before the
// rest of that user turn); thinking blocks are dropped; tools → function tools; tool_choice
// auto/any/tool/none → auto/required/{function}/none (disable_parallel_tool_use →
// parallel_tool_calls false); stop_sequences → stop; metadata.user_id → user; max_tokens,
// temperature, top_p, stream and the gateway's `rightsize` object are carried over. Streams ask
// for the usage chunk (the final message_delta reports usage). Other fields (top_k, thinking,
// service_tier, ...) are dropped.
// Fails with kMalformedJson for invalid JSON and kInvalidArgument (naming the field) for what the
// Messages API would reject or the gateway cannot carry: missing model/messages/max_tokens, a
// role other than user/assistant, an unknown block type, a server tool, a bad image source.
Result<std::string> anthropicRequestToChat(std::string_view body);

// The same for a POST /v1/messages/count_tokens body (a Messages request without max_tokens):
// the Chat Completions body whose content the gateway estimates. Same errors, max_tokens optional.
Result<std::string> anthropicCountTokensToChat(std::string_view body);

// The client's count_tokens body for an Anthropic upstream: `model` replaced by `model_id`, the
// gateway's `rightsize` object removed, every other field as sent. kMalformedJson / kInvalidArgument
// when the body is not a JSON object.
Result<std::string> anthropicCountTokensBody(std::string_view body, std::string_view model_id);

// Translates a non-streaming OpenAI chat.completion body into an Anthropic message: content text
// (and refusal) → a text block, tool_calls → tool_use blocks (arguments parsed as the `input`
// object; arguments that are not a JSON object are kept as {"_raw_arguments": "<text>"}),
// finish_reason → stop_reason, usage → input_tokens/output_tokens (`usage` when given overrides
// the body's). kUpstreamError when the body is not a chat completion.
Result<std::string> chatResponseToAnthropic(std::string_view body, const std::optional<Usage>& usage);

// Turns a relayed OpenAI chat.completion.chunk stream into Anthropic stream events:
// message_start, content_block_start/delta/stop (text_delta; input_json_delta for tool calls, one
// tool_use block per OpenAI tool call index), then message_delta (stop_reason, usage) and
// message_stop at the end. One per streamed request; not thread-safe.
class ChatToAnthropicStream {
 public:
  // Appends the events for one chunk's data payload to `out`. A payload that is not a chunk (not
  // JSON, an {"error": ...} object, a tool call delta for a tool call whose block was closed) is
  // an error: the caller ends the stream with anthropicErrorEvent().
  Result<void> onChunk(std::string_view data, std::string& out);
  // Appends the closing events: the open block's content_block_stop, message_delta with
  // stop_reason and `usage` (input and output tokens), message_stop. Call once, at [DONE].
  void finish(const Usage& usage, std::string& out);

 private:
  enum class Block { kNone, kText, kTool };
  void start(std::string_view id, std::string_view model, std::string& out);
  void closeBlock(std::string& out);
  void openBlock(Block kind, std::string_view content_block_json, std::string& out);
  // A content_block_delta event for the open block: {"type": delta_type, field: value}.
  void blockDelta(std::string_view delta_type, std::string_view field, std::string_view value, std::string& out) const;

  bool started_ = false;
  Block block_ = Block::kNone;
  int index_ = -1;               // Anthropic content block index of the open (or last) block
  int64_t tool_index_ = -1;      // OpenAI tool call index of the open tool_use block
  int64_t max_tool_index_ = -1;  // highest tool call index seen (earlier ones are closed)
  std::string finish_reason_;
};

}  // namespace rightsize::api
