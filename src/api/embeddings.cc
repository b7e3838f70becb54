#include "api/embeddings.h"

#include <simdjson.h>

#include "api/chat_request.h"
#include "api/errors.h"

namespace rightsize::api {

namespace {

namespace dom = simdjson::dom;


// One token array (int[]): non-empty, every element a non-negative integer.
Result<int64_t> tokenArray(dom::array arr, const std::string& where) {
  int64_t n = 0;
  for (dom::element t : arr) {
    int64_t v = 0;
    if (t.get(v) != simdjson::SUCCESS || v < 0)
      return badRequest(where + ": a token must be a non-negative integer");
    ++n;
  }
  if (n == 0) return badRequest(where + ": must not be empty");
  return n;
}

Result<void> readInput(dom::element input, EmbeddingsRequest& out) {
  std::string_view s;
  if (input.get(s) == simdjson::SUCCESS) {
    if (s.empty()) return badRequest("input: must not be an empty string");
    out.texts.emplace_back(s);
    out.content_chars = s.size();
    out.items = 1;
    return {};
  }
  dom::array arr;
  if (input.get(arr) != simdjson::SUCCESS)
    return badRequest("input: must be a string, an array of strings, an array of tokens or an array of token arrays");
  if (arr.size() == 0) return badRequest("input: must not be an empty array");
  dom::element first = arr.at(0).value_unsafe();
  if (first.is_int64() || first.is_uint64()) {  // int[]: one input given as tokens
    auto n = tokenArray(arr, "input");
    if (!n) return fail(n.error());
    out.input_tokens = *n;
    out.items = 1;
    return {};
  }
  if (arr.size() > kMaxEmbeddingInputs)
    return badRequest("input: at most " + std::to_string(kMaxEmbeddingInputs) + " items per request, got " +
                    std::to_string(arr.size()));
  const bool strings = first.is_string();
  size_t i = 0;
  for (dom::element el : arr) {
    const std::string where = "input[" + std::to_string(i++) + "]";
    if (strings) {
      if (el.get(s) != simdjson::SUCCESS) return badRequest(where + ": every item must be a string, like input[0]");
      if (s.empty()) return badRequest(where + ": must not be an empty string");
      out.texts.emplace_back(s);
      out.content_chars += s.size();
    } else {
      dom::array tokens;
      if (el.get(tokens) != simdjson::SUCCESS)
        return badRequest(where + ": must be a string or an array of tokens (and every item like input[0])");
      auto n = tokenArray(tokens, where);
      if (!n) return fail(n.error());
      out.input_tokens += *n;
    }
  }
  out.items = arr.size();
  return {};
}

}  // namespace

Result<EmbeddingsRequest> parseEmbeddingsRequest(std::string& body) {
  thread_local dom::parser parser;
  if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING) body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  dom::element root;
  if (auto err = parser.parse(body.data(), body.size(), false).get(root); err)
    return fail(ErrorCode::kMalformedJson, std::string("request body is not valid JSON: ") + simdjson::error_message(err));
  dom::object obj;
  if (root.get(obj) != simdjson::SUCCESS) return badRequest("request body must be a JSON object");
  EmbeddingsRequest out;
  std::string_view model;
  if (obj["model"].get(model) != simdjson::SUCCESS || model.empty())
    return badRequest("model: required, a non-empty string");
  out.model = std::string(model);
  dom::element input;
  if (obj["input"].get(input) != simdjson::SUCCESS) return badRequest("input: required");
  if (auto r = readInput(input, out); !r) return fail(r.error());
  if (dom::element d; obj["dimensions"].get(d) == simdjson::SUCCESS && !d.is_null()) {
    int64_t v = 0;
    if (d.get(v) != simdjson::SUCCESS || v <= 0) return badRequest("dimensions: must be a positive integer");
    out.dimensions = v;
  }
  if (dom::element f; obj["encoding_format"].get(f) == simdjson::SUCCESS && !f.is_null()) {
    std::string_view v;
    if (f.get(v) != simdjson::SUCCESS || (v != "float" && v != "base64"))
      return badRequest("encoding_format: must be \"float\" or \"base64\"");
    out.encoding_format = std::string(v);
  }
  if (dom::element u; obj["user"].get(u) == simdjson::SUCCESS && !u.is_null()) {
    std::string_view v;
    if (u.get(v) != simdjson::SUCCESS) return badRequest("user: must be a string");
    out.user = std::string(v);
  }
  if (dom::element rs; obj["rightsize"].get(rs) == simdjson::SUCCESS) {
    dom::object opts;
    if (rs.get(opts) != simdjson::SUCCESS) return badRequest("rightsize: must be an object");
    if (dom::element sv; opts["sensitive"].get(sv) == simdjson::SUCCESS && sv.get(out.sensitive) != simdjson::SUCCESS)
      return badRequest("rightsize.sensitive: must be a boolean");
  }
  return out;
}

Result<std::string> rewriteEmbeddingsRequest(std::string& body, std::string_view model_id) {
  // The chat rewrite with nothing but the model set is exactly this: "model" replaced,
  // "rightsize" dropped, everything else copied raw.
  Rewrite rw;
  rw.model_id = model_id;
  return rewriteChatRequest(body, rw);
}

}  // namespace rightsize::api
