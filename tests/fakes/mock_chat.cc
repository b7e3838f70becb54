#include "mock_chat.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "common/strings.h"

namespace rightsize::fakes {
namespace {

bool isContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

int64_t codePoints(std::string_view s) {
  int64_t n = 0;
  for (char c : s) n += isContinuation(c) ? 0 : 1;
  return n;
}

bool parseInt(std::string_view v, int& out) {
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && p == v.data() + v.size() && out >= 0;
}

bool parseLogprob(std::string_view v, double& out) {
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && p == v.data() + v.size() && std::isfinite(out) && out <= 0;
}

void appendInt(std::string& out, int64_t v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, p);
}

// Text of one message's content: a string, or the "text" parts of an array joined with '\n'.
// Returns false if the content is of another type (null counts as empty).
bool contentText(simdjson::dom::element content, std::string& text) {
  text.clear();
  if (content.is_string()) {
    text = std::string_view(content.get_string().value_unsafe());
    return true;
  }
  if (content.is_null()) return true;
  simdjson::dom::array parts;
  if (content.get(parts) != simdjson::SUCCESS) return false;
  bool first = true;
  for (simdjson::dom::element part : parts) {
    std::string_view t;
    if (part["text"].get(t) != simdjson::SUCCESS) continue;
    if (!first) text += '\n';
    text += t;
    first = false;
  }
  return true;
}

void appendHead(std::string& out, const CompletionMeta& m, std::string_view object) {
  out += "{\"id\":";
  appendJsonString(out, m.id);
  out += ",\"object\":\"";
  out += object;
  out += "\",\"created\":";
  appendInt(out, m.created);
  out += ",\"model\":";
  appendJsonString(out, m.model);
  out += ",\"system_fingerprint\":null";
}

void appendLogprobs(std::string& out, std::string_view content, double logprob) {
  char num[32];
  auto [end, ec] = std::to_chars(num, num + sizeof num, logprob);
  out += "{\"content\":[";
  bool first = true;
  size_t i = 0;
  while (i < content.size()) {
    while (i < content.size() && isSpace(content[i])) ++i;
    size_t start = i;
    while (i < content.size() && !isSpace(content[i])) ++i;
    if (i == start) break;
    std::string_view token = content.substr(start, i - start);
    if (!first) out += ',';
    first = false;
    out += "{\"token\":";
    appendJsonString(out, token);
    out += ",\"logprob\":";
    out.append(num, end);
    out += ",\"bytes\":[";
    for (size_t b = 0; b < token.size(); ++b) {
      if (b > 0) out += ',';
      appendInt(out, static_cast<unsigned char>(token[b]));
    }
    out += "],\"top_logprobs\":[]}";
  }
  out += "],\"refusal\":null}";
}

void appendUsage(std::string& out, Usage u) {
  out += "{\"prompt_tokens\":";
  appendInt(out, u.prompt_tokens);
  out += ",\"completion_tokens\":";
  appendInt(out, u.completion_tokens);
  out += ",\"total_tokens\":";
  appendInt(out, u.prompt_tokens + u.completion_tokens);
  if (u.cached_tokens > 0) {
    out += ",\"prompt_tokens_details\":{\"cached_tokens\":";
    appendInt(out, u.cached_tokens);
    out += '}';
  }
  if (u.reasoning_tokens > 0) {
    out += ",\"completion_tokens_details\":{\"reasoning_tokens\":";
    appendInt(out, u.reasoning_tokens);
    out += '}';
  }
  out += '}';
}

}  // namespace

std::optional<std::string> parseDirectives(std::string_view model, Directives& out) {
  out = Directives{};
  size_t semi = model.find(';');
  out.name = std::string(model.substr(0, semi));
  while (semi != std::string_view::npos) {
    model.remove_prefix(semi + 1);
    semi = model.find(';');
    std::string_view item = model.substr(0, semi);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) return "mock: directive '" + std::string(item) + "' has no '='";
    std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    int n = 0;
    bool numeric = parseInt(value, n);
    auto bad = [&] { return "mock: bad value for directive '" + std::string(key) + "'"; };
    if (key == "status") {
      if (!numeric || n < 100 || n > 999) return bad();
      out.status = n;
    } else if (key == "fail_first") {
      if (!numeric) return bad();
      out.fail_first = n;
    } else if (key == "retry_after") {
      if (value.empty() || value.find_first_of("\r\n") != std::string_view::npos) return bad();
      out.retry_after = std::string(value);
    } else if (key == "latency_ms") {
      if (!numeric) return bad();
      out.latency = std::chrono::milliseconds(n);
    } else if (key == "chunks") {
      if (!numeric) return bad();
      out.chunks = n;
    } else if (key == "chunk_ms") {
      if (!numeric) return bad();
      out.chunk_gap = std::chrono::milliseconds(n);
    } else if (key == "reset_after") {
      if (!numeric) return bad();
      out.reset_after = n;
    } else if (key == "slow_body_ms") {
      if (!numeric) return bad();
      out.slow_body_gap = std::chrono::milliseconds(n);
    } else if (key == "truncate") {
      if (!numeric) return bad();
      out.truncate = n != 0;
    } else if (key == "hang") {
      if (!numeric) return bad();
      out.hang = n != 0;
    } else if (key == "require_key") {
      out.require_key = percentDecode(value);
    } else if (key == "reply") {
      out.reply = percentDecode(value);
    } else if (key == "logprob") {
      if (!parseLogprob(value, out.logprob)) return bad();
    } else if (key == "cached") {
      if (!numeric || n < 0) return bad();
      out.cached = n;
    } else if (key == "reasoning") {
      if (!numeric || n < 0) return bad();
      out.reasoning = n;
    } else if (key == "no_usage") {
      if (!numeric) return bad();
      out.no_usage = n != 0;
    } else {
      return "mock: unknown directive '" + std::string(key) + "'";
    }
  }
  if (out.fail_first >= 0 && out.status == 0) out.status = 500;
  return std::nullopt;
}

std::optional<std::string> parseChatRequest(simdjson::dom::parser& parser, const char* data, size_t len,
                                            ChatRequest& out) {
  out = ChatRequest{};
  simdjson::dom::element root;
  if (auto err = parser.parse(data, len, false).get(root); err != simdjson::SUCCESS)
    return std::string("mock: malformed JSON: ") + simdjson::error_message(err);
  simdjson::dom::object obj;
  if (root.get(obj) != simdjson::SUCCESS) return "mock: request body is not a JSON object";
  std::string_view model;
  if (obj["model"].get(model) != simdjson::SUCCESS) return "mock: 'model' must be a string";
  out.model = std::string(model);
  simdjson::dom::array messages;
  if (obj["messages"].get(messages) != simdjson::SUCCESS) return "mock: 'messages' must be an array";
  if (auto s = obj["stream"]; s.error() == simdjson::SUCCESS && !s.is_null()) {
    if (s.get(out.stream) != simdjson::SUCCESS) return "mock: 'stream' must be a boolean";
  }
  if (auto so = obj["stream_options"]; so.error() == simdjson::SUCCESS && so.is_object()) {
    bool b = false;
    if (so["include_usage"].get(b) == simdjson::SUCCESS) out.include_usage = b;
  }
  if (bool b = false; obj["logprobs"].get(b) == simdjson::SUCCESS) out.logprobs = b;
  std::string text, last_user;
  for (simdjson::dom::element msg : messages) {
    simdjson::dom::object m;
    if (msg.get(m) != simdjson::SUCCESS) return "mock: each message must be an object";
    std::string_view role;
    if (m["role"].get(role) != simdjson::SUCCESS) return "mock: each message needs a string 'role'";
    if (auto content = m["content"]; content.error() == simdjson::SUCCESS) {
      if (!contentText(content.value_unsafe(), text)) return "mock: 'content' must be a string, array or null";
      out.prompt_chars += codePoints(text);
      if (role == "user") last_user.swap(text);
    }
  }
  size_t cut = std::min<size_t>(last_user.size(), 40);
  while (cut > 0 && cut < last_user.size() && isContinuation(last_user[cut])) --cut;
  out.user_prefix = last_user.substr(0, cut);
  return std::nullopt;
}

std::string replyText(const ChatRequest& req, const Directives& d) {
  if (d.reply) return *d.reply;
  if (d.chunks >= 0) {
    std::string r;
    for (int i = 1; i <= d.chunks; ++i) {
      if (i > 1) r += ' ';
      r += 'w';
      appendInt(r, i);
    }
    return r;
  }
  return "mock reply to: " + req.user_prefix;
}

void splitReply(std::string_view reply, const Directives& d, std::vector<std::string_view>& out) {
  out.clear();
  if (d.reply && d.chunks >= 0) {
    size_t start = 0;
    for (int i = 1; i <= d.chunks; ++i) {
      size_t end = i == d.chunks ? reply.size() : reply.size() * i / d.chunks;
      while (end > start && end < reply.size() && isContinuation(reply[end])) --end;
      out.push_back(reply.substr(start, end - start));
      start = end;
    }
    return;
  }
  // Each piece ends where the next word starts.
  size_t start = 0, i = 0;
  while (i < reply.size() && isSpace(reply[i])) ++i;
  while (i < reply.size()) {
    while (i < reply.size() && !isSpace(reply[i])) ++i;
    while (i < reply.size() && isSpace(reply[i])) ++i;
    out.push_back(reply.substr(start, i - start));
    start = i;
  }
  if (start < reply.size()) out.push_back(reply.substr(start));  // whitespace-only reply
}

int64_t countWords(std::string_view s) {
  int64_t n = 0;
  bool in_word = false;
  for (char c : s) {
    bool space = isSpace(c);
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

void appendCompletion(std::string& out, const CompletionMeta& m, std::string_view content, Usage u) {
  appendHead(out, m, "chat.completion");
  out += ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":";
  appendJsonString(out, content);
  out += ",\"refusal\":null},\"logprobs\":";
  if (m.logprob) {
    appendLogprobs(out, content, *m.logprob);
  } else {
    out += "null";
  }
  out += ",\"finish_reason\":\"stop\"}]";
  if (!u.omit) {
    out += ",\"usage\":";
    appendUsage(out, u);
  }
  out += '}';
}

void appendChunk(std::string& out, const CompletionMeta& m, std::string_view content, bool role_only,
                 bool finish) {
  appendHead(out, m, "chat.completion.chunk");
  out += ",\"choices\":[{\"index\":0,\"delta\":";
  if (role_only) {
    out += "{\"role\":\"assistant\"}";
  } else if (finish) {
    out += "{}";
  } else {
    out += "{\"content\":";
    appendJsonString(out, content);
    out += '}';
  }
  out += ",\"logprobs\":null,\"finish_reason\":";
  out += finish ? "\"stop\"" : "null";
  out += "}]";
  if (m.include_usage) out += ",\"usage\":null";
  out += '}';
}

void appendUsageChunk(std::string& out, const CompletionMeta& m, Usage u) {
  appendHead(out, m, "chat.completion.chunk");
  out += ",\"choices\":[],\"usage\":";
  appendUsage(out, u);
  out += '}';
}

void appendError(std::string& out, std::string_view message, std::string_view type, std::string_view code_json) {
  out += "{\"error\":{\"message\":";
  appendJsonString(out, message);
  out += ",\"type\":";
  appendJsonString(out, type);
  out += ",\"code\":";
  out += code_json;
  out += "}}";
}

std::string percentDecode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

}  // namespace rightsize::fakes
