#include "mock_embeddings.h"

#include <bit>
#include <cstdio>

#include "common/strings.h"

namespace rightsize::fakes {

namespace {

int64_t codePointsOf(std::string_view s) {
  int64_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

void appendBase64(std::string& out, const std::vector<unsigned char>& bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (const size_t rest = bytes.size() - i; rest > 0) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (rest == 2 ? uint32_t{bytes[i + 1]} << 8 : 0);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
}

// One token array's raw JSON and length, or an error message.
std::optional<std::string> readTokens(simdjson::dom::array arr, EmbeddingsRequest& out) {
  std::string raw = "[";
  int64_t n = 0;
  for (simdjson::dom::element t : arr) {
    int64_t v = 0;
    if (t.get(v) != simdjson::SUCCESS) return "mock: a token must be an integer";
    if (n++ > 0) raw += ',';
    raw += std::to_string(v);
  }
  if (n == 0) return "mock: a token array must not be empty";
  out.inputs.push_back(raw + "]");
  out.prompt_tokens += n;
  return std::nullopt;
}

}  // namespace

std::optional<std::string> parseEmbeddingsRequest(simdjson::dom::parser& parser, const char* data, size_t len,
                                                  EmbeddingsRequest& out) {
  out = EmbeddingsRequest{};
  simdjson::dom::element root;
  if (auto err = parser.parse(data, len, false).get(root); err != simdjson::SUCCESS)
    return std::string("mock: malformed JSON: ") + simdjson::error_message(err);
  simdjson::dom::object obj;
  if (root.get(obj) != simdjson::SUCCESS) return "mock: request body is not a JSON object";
  std::string_view model;
  if (obj["model"].get(model) != simdjson::SUCCESS) return "mock: 'model' must be a string";
  out.model = std::string(model);
  simdjson::dom::element input;
  if (obj["input"].get(input) != simdjson::SUCCESS) return "mock: 'input' is required";
  std::string_view s;
  simdjson::dom::array arr;
  if (input.get(s) == simdjson::SUCCESS) {
    out.inputs.emplace_back(s);
    out.prompt_tokens = (codePointsOf(s) + 3) / 4;
  } else if (input.get(arr) == simdjson::SUCCESS && arr.size() > 0) {
    simdjson::dom::element first = arr.at(0).value_unsafe();
    if (first.is_int64()) {
      if (auto e = readTokens(arr, out)) return e;
    } else {
      for (simdjson::dom::element el : arr) {
        simdjson::dom::array tokens;
        if (el.get(s) == simdjson::SUCCESS) {
          out.inputs.emplace_back(s);
          out.prompt_tokens += (codePointsOf(s) + 3) / 4;
        } else if (el.get(tokens) == simdjson::SUCCESS) {
          if (auto e = readTokens(tokens, out)) return e;
        } else {
          return "mock: each input must be a string or a token array";
        }
      }
    }
  } else {
    return "mock: 'input' must be a string or a non-empty array";
  }
  if (auto d = obj["dimensions"]; d.error() == simdjson::SUCCESS && !d.is_null()) {
    if (d.get(out.dimensions) != simdjson::SUCCESS || out.dimensions < 1 || out.dimensions > kMaxEmbeddingDimensions)
      return "mock: 'dimensions' must be an integer in [1, 4096]";
  }
  if (auto f = obj["encoding_format"]; f.error() == simdjson::SUCCESS && !f.is_null()) {
    std::string_view v;
    if (f.get(v) != simdjson::SUCCESS || (v != "float" && v != "base64"))
      return "mock: 'encoding_format' must be \"float\" or \"base64\"";
    out.base64 = v == "base64";
  }
  return std::nullopt;
}

float embeddingValue(std::string_view input, int64_t j) {
  const uint64_t x = splitmix64(fnv1a(input) + static_cast<uint64_t>(j));
  // 24 random bits: exactly representable as a float32, so text and base64 agree.
  return static_cast<float>(static_cast<int64_t>(x >> 40) - (int64_t{1} << 23)) / static_cast<float>(1 << 23);
}

void appendEmbeddings(std::string& out, const EmbeddingsRequest& req, std::string_view model) {
  out += R"({"object":"list","data":[)";
  std::vector<unsigned char> bytes;
  char num[32];
  for (size_t i = 0; i < req.inputs.size(); ++i) {
    if (i > 0) out += ',';
    out += R"({"object":"embedding","index":)";
    out += std::to_string(i);
    out += R"(,"embedding":)";
    if (req.base64) {
      bytes.clear();
      for (int64_t j = 0; j < req.dimensions; ++j) {
        const uint32_t bits = std::bit_cast<uint32_t>(embeddingValue(req.inputs[i], j));
        for (int b = 0; b < 4; ++b) bytes.push_back(static_cast<unsigned char>(bits >> (8 * b)));  // little-endian
      }
      out += '"';
      appendBase64(out, bytes);
      out += '"';
    } else {
      out += '[';
      for (int64_t j = 0; j < req.dimensions; ++j) {
        if (j > 0) out += ',';
        const int n = std::snprintf(num, sizeof num, "%.9g", static_cast<double>(embeddingValue(req.inputs[i], j)));
        out.append(num, static_cast<size_t>(n));
      }
      out += ']';
    }
    out += '}';
  }
  out += R"(],"model":)";
  appendJsonString(out, model);
  out += R"(,"usage":{"prompt_tokens":)";
  out += std::to_string(req.prompt_tokens);
  out += R"(,"total_tokens":)";
  out += std::to_string(req.prompt_tokens);
  out += "}}";
}

}  // namespace rightsize::fakes
