#include "api/chat_response.h"

#include <simdjson.h>

#include <algorithm>

namespace rightsize::api {

namespace {

namespace od = simdjson::ondemand;

// Reads `key` of a *_tokens_details object ({"cached_tokens": N, ...}) into `out`.
void readDetail(od::value v, std::string_view wanted, int64_t& out) {
  od::object o;
  if (v.get_object().get(o) != simdjson::SUCCESS) return;
  for (auto f : o) {
    std::string_view key;
    if (f.unescaped_key().get(key) != simdjson::SUCCESS) return;
    int64_t n = 0;
    if (key == wanted && f.value().get_int64().get(n) == simdjson::SUCCESS && n >= 0) out = n;
  }
}

std::optional<Usage> readUsage(od::value v) {
  od::object u;
  if (v.get_object().get(u) != simdjson::SUCCESS) return std::nullopt;
  Usage usage;
  for (auto f : u) {
    std::string_view key;
    if (f.unescaped_key().get(key) != simdjson::SUCCESS) return std::nullopt;
    int64_t n = 0;
    if (key == "prompt_tokens" || key == "input_tokens") {
      if (f.value().get_int64().get(n) == simdjson::SUCCESS) usage.prompt_tokens = n;
    } else if (key == "completion_tokens" || key == "output_tokens") {
      if (f.value().get_int64().get(n) == simdjson::SUCCESS) usage.completion_tokens = n;
    } else if (key == "prompt_tokens_details" || key == "input_tokens_details") {
      od::value d;
      if (f.value().get(d) == simdjson::SUCCESS) readDetail(d, "cached_tokens", usage.cached_tokens);
    } else if (key == "completion_tokens_details" || key == "output_tokens_details") {
      od::value d;
      if (f.value().get(d) == simdjson::SUCCESS) readDetail(d, "reasoning_tokens", usage.reasoning_tokens);
    }
  }
  // Details never exceed their totals, whatever an upstream sends.
  usage.cached_tokens = std::min(usage.cached_tokens, usage.prompt_tokens);
  usage.reasoning_tokens = std::min(usage.reasoning_tokens, usage.completion_tokens);
  return usage;
}

// The JSON text arrives without simdjson's padding; copy into a padded buffer (reused).
simdjson::padded_string_view pad(std::string_view s) {
  thread_local std::string buf;
  buf.assign(s);
  buf.reserve(s.size() + simdjson::SIMDJSON_PADDING);
  return simdjson::padded_string_view(buf.data(), buf.size(), buf.capacity());
}

}  // namespace

void appendUsageJson(std::string& out, const Usage& u) {
  out += R"("usage":{"prompt_tokens":)";
  out += std::to_string(u.prompt_tokens);
  out += R"(,"completion_tokens":)";
  out += std::to_string(u.completion_tokens);
  out += R"(,"total_tokens":)";
  out += std::to_string(u.prompt_tokens + u.completion_tokens);
  if (u.cached_tokens > 0) {
    out += R"(,"prompt_tokens_details":{"cached_tokens":)";
    out += std::to_string(u.cached_tokens);
    out += '}';
  }
  if (u.reasoning_tokens > 0) {
    out += R"(,"completion_tokens_details":{"reasoning_tokens":)";
    out += std::to_string(u.reasoning_tokens);
    out += '}';
  }
  out += '}';
}

void appendAnthropicUsageJson(std::string& out, const Usage& u) {
  const int64_t uncached = std::max<int64_t>(u.prompt_tokens - u.cached_tokens - u.cache_write_tokens, 0);
  out += R"("usage":{"input_tokens":)";
  out += std::to_string(uncached);
  if (u.cache_write_tokens > 0) {
    out += R"(,"cache_creation_input_tokens":)";
    out += std::to_string(u.cache_write_tokens);
  }
  if (u.cached_tokens > 0) {
    out += R"(,"cache_read_input_tokens":)";
    out += std::to_string(u.cached_tokens);
  }
  out += R"(,"output_tokens":)";
  out += std::to_string(u.completion_tokens);
  out += '}';
}

std::optional<Usage> responseUsage(std::string_view body) {
  thread_local od::parser parser;
  od::document doc;
  if (parser.iterate(pad(body)).get(doc) != simdjson::SUCCESS) return std::nullopt;
  od::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) return std::nullopt;
  for (auto f : obj) {
    std::string_view key;
    if (f.unescaped_key().get(key) != simdjson::SUCCESS) return std::nullopt;
    if (key == "usage") {
      od::value v;
      if (f.value().get(v) != simdjson::SUCCESS) return std::nullopt;
      return readUsage(v);
    }
  }
  return std::nullopt;
}

// True when `data` has a "usage" key whose value is an object (not null). With
// stream_options.include_usage every chunk carries "usage":null; only the last has an object.
bool hasUsageObject(std::string_view data) {
  for (size_t pos = data.find("\"usage\""); pos != std::string_view::npos; pos = data.find("\"usage\"", pos + 1)) {
    size_t i = pos + 7;
    while (i < data.size() && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r')) ++i;
    if (i >= data.size() || data[i] != ':') continue;
    ++i;
    while (i < data.size() && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r')) ++i;
    if (i < data.size() && data[i] == '{') return true;
  }
  return false;
}

ChunkInfo inspectChunk(std::string_view data) {
  ChunkInfo info;
  // Fast path: every chunk but the usage one is relayed without being parsed.
  if (!hasUsageObject(data)) return info;
  thread_local od::parser parser;
  od::document doc;
  od::object obj;
  if (parser.iterate(pad(data)).get(doc) != simdjson::SUCCESS || doc.get_object().get(obj) != simdjson::SUCCESS)
    return info;
  for (auto f : obj) {
    std::string_view key;
    if (f.unescaped_key().get(key) != simdjson::SUCCESS) break;
    od::value v;
    if (f.value().get(v) != simdjson::SUCCESS) break;
    if (key == "usage") {
      bool is_null = false;
      if (v.is_null().get(is_null) == simdjson::SUCCESS && !is_null) info.usage = readUsage(v);
    } else if (key == "choices") {
      od::array a;
      if (v.get_array().get(a) == simdjson::SUCCESS) {
        size_t n = 0;
        if (a.count_elements().get(n) == simdjson::SUCCESS) info.empty_choices = (n == 0);
      }
    }
  }
  return info;
}

}  // namespace rightsize::api
