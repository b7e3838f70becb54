#pragma once
// What the gateway reads from upstream Chat Completions responses and stream chunks.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rightsize::api {

// Token counts of one answer, in OpenAI's terms. `prompt_tokens` counts every input token,
// cached and cache-written ones included (OpenAI: prompt_tokens_details.cached_tokens is part
// of prompt_tokens; an Anthropic answer's input_tokens + cache_read + cache_creation). Each
// category is priced at its own rate (routing/cost_estimate.h).
struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;       // of prompt_tokens, read from the provider's prompt cache
  int64_t cache_write_tokens = 0;  // of prompt_tokens, written to the cache (Anthropic creation)
  int64_t reasoning_tokens = 0;    // of completion_tokens (completion_tokens_details)
};

// Appends `"usage":{...}` in Chat Completions' shape: prompt/completion/total tokens, and
// prompt_tokens_details.cached_tokens / completion_tokens_details.reasoning_tokens when non-zero.
void appendUsageJson(std::string& out, const Usage& u);

// Appends `"usage":{...}` in Anthropic Messages' shape: input_tokens (uncached),
// cache_read_input_tokens, cache_creation_input_tokens (when non-zero), output_tokens.
void appendAnthropicUsageJson(std::string& out, const Usage& u);

struct ChunkInfo {
  std::optional<Usage> usage;     // present when the chunk carries a non-null usage object
  bool empty_choices = false;     // "choices": [] (the usage-only chunk of include_usage)
};

// Usage of a non-streaming response body; nullopt when absent or the body is not JSON.
std::optional<Usage> responseUsage(std::string_view body);

// Inspects one stream chunk's data payload. Only a chunk whose "usage" is an object is parsed;
// every other chunk returns an empty ChunkInfo at the cost of a substring search.
ChunkInfo inspectChunk(std::string_view data);

}  // namespace rightsize::api
