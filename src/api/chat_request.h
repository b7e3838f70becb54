#pragma once
// OpenAI Chat Completions requests: validation of what the gateway must understand, and a
// byte-preserving rewrite for the upstream (every field the gateway does not own is
// forwarded exactly as the client sent it).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/chat_types.h"
#include "common/result.h"

namespace rightsize::api {

// The optional `"rightsize": {...}` body field (removed before forwarding).
struct RightsizeOptions {
  std::optional<double> quality;       // (0, 1]
  std::optional<double> max_cost_usd;  // >= 0
  bool sensitive = false;
  std::string session;
};

struct ChatRequest {
  std::string model;
  bool stream = false;
  bool include_usage = false;          // the client asked for stream_options.include_usage
  std::optional<int64_t> max_tokens;   // max_completion_tokens, else max_tokens
  std::vector<ChatMessage> messages;
  RightsizeOptions rightsize;
  size_t content_chars = 0;            // all message text, for token estimates
  // Read for routing rules and cascade checks; forwarded untouched.
  std::vector<std::pair<std::string, std::string>> metadata;  // "metadata" entries with string values
  std::optional<std::string> user;     // "user", when a string
  std::string response_schema;         // response_format.json_schema.schema as JSON text ("" if none)
};

// Parses and validates a Chat Completions body. `body` may be grown in capacity (padding for
// simdjson), never changed in content. Fails with kMalformedJson for invalid JSON and
// kInvalidArgument (message names the field) for a schema problem: model missing or not a
// non-empty string, messages missing/empty/not objects, a role that isn't a string, content of
// the wrong type, stream not a boolean, bad rightsize options.
Result<ChatRequest> parseChatRequest(std::string& body);

struct Rewrite {
  std::string_view model_id;           // replaces "model"
  bool force_include_usage = false;    // set stream_options.include_usage = true
  std::optional<int64_t> max_tokens_cap;  // lowers max_completion_tokens/max_tokens (adds one if absent)
  bool force_non_stream = false;       // "stream": false and no stream_options (cascade attempts)
  bool request_logprobs = false;       // "logprobs": true (cascade logprob check)
  // minimal|low|medium|high: a higher reasoning_effort is lowered to this, an absent one is added.
  std::string_view reasoning_effort_cap{};
};

// Orders reasoning efforts: none < minimal < low < medium < high; -1 for an unknown value.
int reasoningEffortRank(std::string_view effort);

// Rebuilds the body for an upstream: "model" replaced, "rightsize" removed, stream_options
// adjusted as asked; all other fields byte for byte in their original order. `body` must have
// passed parseChatRequest (or, with only model_id set, parseEmbeddingsRequest: api/embeddings.h).
Result<std::string> rewriteChatRequest(std::string& body, const Rewrite& rw);

// Rough token estimate used before the call (routing, budgets): ~4 characters per token.
inline int64_t estimateTokens(size_t chars) { return static_cast<int64_t>((chars + 3) / 4); }

}  // namespace rightsize::api
