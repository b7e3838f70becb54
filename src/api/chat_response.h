#pragma once
// What the gateway reads from upstream Chat Completions responses and stream chunks.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rightsize::api {

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

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
