#pragma once
// Anthropic as an upstream (provider kind `anthropic`): the gateway's OpenAI Chat Completions
// request is translated to an Anthropic Messages request, and the answer — a whole message, or
// Anthropic stream events — back to OpenAI shapes. Pure functions and one small state machine;
// no I/O. See docs/anthropic.md.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/chat_response.h"
#include "common/result.h"

namespace rightsize::api {

// Anthropic requires max_tokens; requests that set neither max_completion_tokens nor max_tokens
// get this.
inline constexpr int64_t kAnthropicDefaultMaxTokens = 4096;

// Translates an OpenAI Chat Completions body (as rewritten for the upstream) into an Anthropic
// Messages body for model `model_id`:
//   - system and developer messages, wherever they are, → the top-level `system` (joined "\n\n");
//   - user content (string, or text and image_url parts: data: URLs → base64 image sources,
//     other URLs → url sources); assistant text and tool_calls → text and tool_use blocks
//     (arguments parsed into `input`); role tool messages → tool_result blocks in a user turn,
//     consecutive ones merged; consecutive turns of the same role are merged (Anthropic wants
//     user/assistant alternation); empty text is dropped (Anthropic rejects empty text blocks);
//   - tools (function) → {name, description, input_schema}; tool_choice auto/required/none/
//     {function} → auto/any/none/tool; parallel_tool_calls false → disable_parallel_tool_use;
//   - max_completion_tokens, else max_tokens, else kAnthropicDefaultMaxTokens; temperature
//     (clamped to Anthropic's [0, 1]), top_p, stop (→ stop_sequences), stream, user
//     (→ metadata.user_id). Other OpenAI fields are dropped.
// Fails with kInvalidArgument for what cannot be carried: n > 1, audio/file parts, role
// function, tool call arguments that are not a JSON object, no message left.
Result<std::string> chatRequestToAnthropic(std::string_view body, std::string_view model_id);

// An Anthropic message body → an OpenAI chat.completion body (`created` in unix seconds): text
// blocks joined as content, tool_use blocks → tool_calls, thinking dropped, stop_reason →
// finish_reason, usage input (+ cache creation and cache read) / output tokens →
// prompt/completion/total tokens. kUpstreamError when the body is not a message.
Result<std::string> anthropicResponseToChat(std::string_view body, int64_t created, Usage* usage_out = nullptr);

// Turns Anthropic stream events into chat.completion.chunk payloads: message_start → a role
// chunk; text_delta → content deltas; a tool_use block → a tool call (id, name) then its
// input_json_delta pieces as argument deltas; message_stop → a chunk with finish_reason, then a
// usage chunk ("choices": []). ping, content_block_stop, thinking and unknown event types add
// nothing. One per stream; not thread-safe.
class AnthropicToChatStream {
 public:
  explicit AnthropicToChatStream(int64_t created) : created_(created) {}
  // Translates one event's data payload, appending the chunks (payloads, no SSE framing) to
  // `out`. An `error` event, a payload that is not JSON or has no type, or a delta for a block
  // that was never started is an Error.
  Result<void> onEvent(std::string_view data, std::deque<std::string>& out);
  // message_stop was seen: the stream is complete.
  bool done() const { return done_; }

 private:
  void chunk(std::string_view delta_json, std::string_view finish_reason, std::deque<std::string>& out) const;
  // `{"id":…,"object":"chat.completion.chunk","created":…,"model":…,` — every chunk starts so.
  std::string chunkHead() const;

  int64_t created_;
  std::string id_ = "chatcmpl-anthropic";
  std::string model_;
  Usage usage_;
  std::string stop_reason_;
  // Anthropic block index → OpenAI tool call index (-1: a text block; -2: ignored, e.g. thinking).
  std::vector<int> blocks_;
  int tools_ = 0;
  bool done_ = false;
};

}  // namespace rightsize::api
