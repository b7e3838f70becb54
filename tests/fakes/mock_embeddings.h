#pragma once
// The Embeddings half of rs_mock_upstream: POST /v1/embeddings. Pure: no I/O; the server
// (mock_upstream.cc) applies the model-string directives (status=N, fail_first=K, retry_after=S,
// require_key=K) and writes what this builds. See mock_upstream.cc's header and README.md.

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rightsize::fakes {

inline constexpr int64_t kDefaultEmbeddingDimensions = 8;
inline constexpr int64_t kMaxEmbeddingDimensions = 4096;

// The fields of an embeddings request the mock needs.
struct EmbeddingsRequest {
  std::string model;                 // the full model string, directives included
  std::vector<std::string> inputs;   // each input as hashed: the text, or a token array's raw JSON
  int64_t prompt_tokens = 0;         // sum over inputs of ceil(code points / 4); a token array: its length
  int64_t dimensions = kDefaultEmbeddingDimensions;
  bool base64 = false;               // encoding_format "base64"
};

// Reads `data[0, len)` (simdjson::SIMDJSON_PADDING readable bytes past `len`). Returns an error
// message (for a 400) on malformed JSON, a missing/mistyped model or input, an empty input,
// dimensions outside [1, kMaxEmbeddingDimensions] or an unknown encoding_format.
std::optional<std::string> parseEmbeddingsRequest(simdjson::dom::parser& parser, const char* data, size_t len,
                                                  EmbeddingsRequest& out);

// Element `j` of the deterministic vector of `input`: a float32 in [-1, 1) from a hash of the
// input and j (FNV-1a, then splitmix64).
float embeddingValue(std::string_view input, int64_t j);

// Appends the OpenAI list: {"object":"list","data":[{"object":"embedding","index":i,
// "embedding":[...] or "<base64 of little-endian float32>"}...],"model":model,
// "usage":{"prompt_tokens":n,"total_tokens":n}}.
void appendEmbeddings(std::string& out, const EmbeddingsRequest& req, std::string_view model);

}  // namespace rightsize::fakes
