#pragma once
// OpenAI Responses API in front of the gateway (POST /v1/responses): the client's request is
// translated to an OpenAI Chat Completions body, runs through the same pipeline as
// /v1/chat/completions, and the Chat Completions answer is translated back — a whole `response`
// object, or the Responses stream events. Pure functions and one small state machine; no I/O.
// See docs/responses.md.

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <string>
#include <string_view>
#include <vector>

#include "api/chat_response.h"
#include "common/result.h"

namespace rightsize::api {

// The output items of recent answers by id (msg_..., fc_...), so that a client that replays them as
// `item_reference` items (the Vercel AI SDK does by default) can be served without keeping
// conversations: bounded by item count and bytes, oldest evicted first; per process.
// Thread-safe.
class ResponseItemStore {
 public:
  explicit ResponseItemStore(size_t max_items = 4096, size_t max_bytes = 32u << 20)
      : max_items_(max_items), max_bytes_(max_bytes) {}
  // Keeps every item of a `response` object's `output` (ignored when not one).
  void putOutput(std::string_view response_json);
  // The item's JSON; nullopt when never stored or evicted.
  std::optional<std::string> get(std::string_view id) const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::string> items_;  // guarded by mu_
  std::deque<std::string> order_;                       // ids, oldest first; guarded by mu_
  size_t bytes_ = 0;                                    // guarded by mu_
  size_t max_items_;
  size_t max_bytes_;
};

// Translates a Responses request body into a Chat Completions body:
// instructions → a leading system message; `input` as a string (one user message) or a list of
// items: messages (roles user/assistant/system/developer, developer → system; string content or
// input_text/output_text/refusal/input_image parts), function_call items (→ assistant tool_calls,
// consecutive calls merged into one assistant turn), function_call_output items (→ role tool
// messages), reasoning items (the model's own replayed reasoning: not sent upstream); function
// tools (flat → nested), tool_choice, parallel_tool_calls, max_output_tokens →
// max_completion_tokens, temperature, top_p, text.format → response_format, text.verbosity →
// verbosity, reasoning.effort → reasoning_effort, metadata, user, safety_identifier,
// prompt_cache_key, service_tier, stream (with the usage chunk asked for) and the gateway's
// `rightsize` object.
// Fails with kMalformedJson for invalid JSON and kInvalidArgument naming the field for what the
// gateway cannot carry: built-in tools (web_search, file_search, computer_use, ...), unknown item
// or content part types, input_file parts, file_id images, item_reference items,
// previous_response_id (see translateResponsesRequest), conversation, prompt, store: true (without
// `items`), background: true, truncation "auto",
// a non-empty include, and any unknown top-level field.
// With `items` (not null), item_reference items are resolved from it (an unknown id is a 400
// naming the item) and `store: true` is accepted (answers are kept there by the caller).
Result<std::string> responsesRequestToChat(std::string_view body, const ResponseItemStore* items = nullptr);

// One Responses request, translated: what responsesRequestToChat returns and what the gateway
// keeps of it when the answer is stored.
struct ResponsesTurn {
  std::string chat;         // the Chat Completions body
  // The conversation this turn's answer continues, as a JSON array of Responses items: the
  // previous response's stored conversation, then this request's input (a string input as one
  // user message item, item references resolved).
  std::string input_items;
  bool store = true;        // the request's `store` (OpenAI's default: true)
};

// responsesRequestToChat with previous_response_id: `previous` is the conversation stored with
// it (ledger::StoredResponse::conversation), looked up by the caller; its items come before the
// request's input, after the new instructions (the previous ones are not carried over, as at
// OpenAI). nullopt: the gateway keeps no responses, and previous_response_id is a 400 saying so.
Result<ResponsesTurn> translateResponsesRequest(std::string_view body, const ResponseItemStore* items,
                                                std::optional<std::string_view> previous);

// The request's previous_response_id; empty when it has none or the body is not JSON.
std::string previousResponseId(std::string_view body);

// The conversation stored with an answer: `input_items` (ResponsesTurn::input_items) followed by
// the `output` items of the `response` object `response_json`; `id` (when given) gets its id
// (empty when it is not a response object).
std::string conversationAfter(std::string_view input_items, std::string_view response_json,
                              std::string* id = nullptr);

// Translates a non-streaming OpenAI chat.completion body into a Responses `response` object:
// content (and refusal) → a message item with one output_text part, tool_calls → function_call
// items, finish_reason length/content_filter → status "incomplete" with incomplete_details,
// usage → input/output tokens with cached and reasoning details (`usage` when given overrides the
// body's). kUpstreamError when the body is not a chat completion.
// What a `response` object echoes of its request (previous_response_id: null when empty).
struct ResponseEcho {
  std::string previous_response_id;
  bool store = false;  // the answer is kept (GET /v1/responses/{id} finds it)
};

Result<std::string> chatResponseToResponses(std::string_view body, const std::optional<Usage>& usage,
                                            const ResponseEcho& echo = {});

// The Responses API error body: OpenAI's {"error": {...}} (api/errors.h), `param` naming the
// field when the message starts with one.
std::string responsesErrorBody(const Error& e);

// Turns a relayed chat.completion.chunk stream into Responses stream events, each a named SSE
// event with a sequence_number: response.created, response.in_progress, then per output item
// response.output_item.added, (message) response.content_part.added, response.output_text.delta…,
// response.output_text.done, response.content_part.done, (function call)
// response.function_call_arguments.delta…/done, response.output_item.done; at the end
// response.completed (or response.incomplete) with the whole response and its usage.
// One per streamed request; not thread-safe.
class ChatToResponsesStream {
 public:
  explicit ChatToResponsesStream(ResponseEcho echo = {});
  // Appends the events for one chunk's data payload to `out`. A payload that is not a chunk (not
  // JSON, an {"error": ...} object, a delta for a tool call that was already closed) is an error:
  // the caller ends the stream with errorEvent().
  Result<void> onChunk(std::string_view data, std::string& out);
  // Appends the closing events (the open item's done events and response.completed). Call once.
  void finish(const Usage& usage, std::string& out);
  // An `error` event ({"type":"error","code","message","param","sequence_number"}) for a failure
  // after the stream started.
  std::string errorEvent(const Error& e);
  // The whole `response` object of response.completed / response.incomplete (empty before finish()).
  const std::string& finalResponse() const { return final_response_; }

  // One output item, as built so far.
  struct Item {
    bool function_call = false;
    std::string id;        // msg_... or fc_...
    std::string text;      // message: the output text; function_call: the arguments
    std::string call_id;   // function_call
    std::string name;      // function_call
    int64_t tool_index = -1;
  };

 private:
  void start(std::string& out);
  void event(std::string_view type, std::string body, std::string& out);
  void openItem(Item item, std::string& out);
  void closeItem(std::string& out);

  bool started_ = false;
  bool open_ = false;             // the last item of items_ is still open
  int64_t seq_ = 0;
  int64_t max_tool_index_ = -1;
  std::string id_;                // chat completion id
  std::string response_id_;       // resp_ + 128 random bits (never derived from id_)
  std::string model_;
  int64_t created_ = 0;
  std::string finish_reason_;
  std::vector<Item> items_;
  std::string final_response_;
  ResponseEcho echo_;
};

}  // namespace rightsize::api
