#pragma once
// OpenAI Embeddings requests (POST /v1/embeddings): what the gateway reads from one, and the body
// it forwards. The gateway never changes what a client asked of the model except `model`; the
// answer (`{"object":"list","data":[...],"model","usage"}`, float arrays or base64) is relayed
// as the upstream sent it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace rightsize::api {

// The most inputs one request may carry (OpenAI's limit).
inline constexpr size_t kMaxEmbeddingInputs = 2048;

struct EmbeddingsRequest {
  std::string model;
  std::vector<std::string> texts;      // the string inputs (privacy scans them); empty for token inputs
  size_t items = 0;                    // inputs to embed: strings or token arrays
  int64_t input_tokens = 0;            // tokens given as integers (token-array inputs)
  size_t content_chars = 0;            // bytes of all string inputs, for token estimates
  std::optional<int64_t> dimensions;
  std::string encoding_format;         // "float" | "base64" | "" (absent: the upstream's default)
  std::optional<std::string> user;
  bool sensitive = false;              // "rightsize": {"sensitive": true} (the only rightsize option read here)
};

// Parses and validates an Embeddings body. `body` may be grown in capacity (padding for
// simdjson), never changed in content. Fails with kMalformedJson for invalid JSON and
// kInvalidArgument naming the field for: a body that is not an object; model missing or not a
// non-empty string; input missing, empty (""/[]), of the wrong type (string | string[] | int[] |
// int[][], never mixed), an empty or negative token, more than kMaxEmbeddingInputs items;
// dimensions not a positive integer; encoding_format other than "float"/"base64"; user not a
// string; rightsize not an object or rightsize.sensitive not a boolean.
Result<EmbeddingsRequest> parseEmbeddingsRequest(std::string& body);

// The body for an upstream: "model" replaced by `model_id`, "rightsize" removed, every other
// field byte for byte in its original order. `body` must have passed parseEmbeddingsRequest.
Result<std::string> rewriteEmbeddingsRequest(std::string& body, std::string_view model_id);

}  // namespace rightsize::api
