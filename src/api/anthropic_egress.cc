#include "api/anthropic_egress.h"

#include <simdjson.h>

#include <algorithm>
#include <vector>

#include "api/anthropic_common.h"
#include "api/errors.h"
#include "common/strings.h"

namespace rightsize::api {

namespace {

namespace dom = simdjson::dom;
using anthropic_json::appendValue;
using anthropic_json::stringField;


struct Turn {
  std::string_view role;  // "user" or "assistant"
  std::string blocks;     // comma-separated content blocks
};

void addBlock(std::string& blocks, std::string_view block) {
  if (!blocks.empty()) blocks += ',';
  blocks += block;
}

std::string textBlock(std::string_view text) {
  std::string b = R"({"type":"text","text":)";
  appendJsonString(b, text);
  b += '}';
  return b;
}

// Text of OpenAI content: a string, null, or an array of parts of which only text is accepted
// (`what` names the message for errors).
Result<std::string> plainText(dom::element content, const std::string& what) {
  if (content.is_null()) return std::string();
  std::string_view s;
  if (content.get(s) == simdjson::SUCCESS) return std::string(s);
  dom::array parts;
  if (content.get(parts) != simdjson::SUCCESS) return badRequest(what + ": must be a string, an array of parts, or null");
  std::string text;
  for (dom::element p : parts) {
    std::string_view type = stringField(p, "type");
    if (type != "text" && type != "refusal")
      return badRequest(what + ": part type '" + std::string(type) + "' is not supported here (text only)");
    text += stringField(p, type == "text" ? "text" : "refusal");
  }
  return text;
}

// image_url part → Anthropic image block.
Result<std::string> imageBlock(dom::element part, const std::string& what) {
  dom::element image_url;
  std::string_view url;
  if (part["image_url"].get(image_url) != simdjson::SUCCESS) return badRequest(what + ".image_url: required");
  if (image_url.get(url) != simdjson::SUCCESS && image_url["url"].get(url) != simdjson::SUCCESS)
    return badRequest(what + ".image_url.url: required string");
  std::string b = R"({"type":"image","source":)";
  if (url.substr(0, 5) == "data:") {
    size_t comma = url.find(',');
    std::string_view meta = url.substr(5, comma == std::string_view::npos ? 0 : comma - 5);
    constexpr std::string_view kB64 = ";base64";
    if (comma == std::string_view::npos || meta.size() <= kB64.size() || meta.substr(meta.size() - kB64.size()) != kB64)
      return badRequest(what + ".image_url.url: a data: URL must be base64 (data:<media type>;base64,<data>)");
    b += R"({"type":"base64","media_type":)";
    appendJsonString(b, meta.substr(0, meta.size() - kB64.size()));
    b += R"(,"data":)";
    appendJsonString(b, url.substr(comma + 1));
    b += '}';
  } else {
    b += R"({"type":"url","url":)";
    appendJsonString(b, url);
    b += '}';
  }
  b += '}';
  return b;
}

Result<void> userBlocks(dom::element content, const std::string& what, std::string& blocks) {
  std::string_view s;
  if (content.get(s) == simdjson::SUCCESS) {
    if (!s.empty()) addBlock(blocks, textBlock(s));
    return {};
  }
  if (content.is_null()) return {};
  dom::array parts;
  if (content.get(parts) != simdjson::SUCCESS) return badRequest(what + ": must be a string or an array of parts");
  size_t j = 0;
  for (dom::element p : parts) {
    const std::string w = what + "[" + std::to_string(j++) + "]";
    std::string_view type = stringField(p, "type");
    if (type == "text") {
      std::string_view t = stringField(p, "text");
      if (!t.empty()) addBlock(blocks, textBlock(t));
    } else if (type == "image_url") {
      auto b = imageBlock(p, w);
      if (!b) return fail(b.error());
      addBlock(blocks, *b);
    } else {
      return badRequest(w + ": part type '" + std::string(type) +
                 "' cannot be sent to an Anthropic model (text and image_url only)");
    }
  }
  return {};
}

Result<void> assistantBlocks(dom::element m, const std::string& what, std::string& blocks) {
  thread_local dom::parser args_parser;
  dom::element content;
  if (m["content"].get(content) == simdjson::SUCCESS) {
    auto text = plainText(content, what + ".content");
    if (!text) return fail(text.error());
    if (!text->empty()) addBlock(blocks, textBlock(*text));
  }
  dom::element calls_el;
  if (m["tool_calls"].get(calls_el) != simdjson::SUCCESS || calls_el.is_null()) return {};
  dom::array calls;
  if (calls_el.get(calls) != simdjson::SUCCESS) return badRequest(what + ".tool_calls: must be an array");
  size_t j = 0;
  for (dom::element c : calls) {
    const std::string w = what + ".tool_calls[" + std::to_string(j++) + "]";
    dom::element fn;
    std::string_view id, name;
    if (c["id"].get(id) != simdjson::SUCCESS) return badRequest(w + ".id: required string");
    if (c["function"].get(fn) != simdjson::SUCCESS || fn["name"].get(name) != simdjson::SUCCESS)
      return badRequest(w + ".function.name: required string");
    std::string_view args = stringField(fn, "arguments");
    std::string b = R"({"type":"tool_use","id":)";
    appendJsonString(b, id);
    b += R"(,"name":)";
    appendJsonString(b, name);
    b += R"(,"input":)";
    if (trim(args).empty()) {
      b += "{}";
    } else {
      dom::element input;
      if (args_parser.parse(args.data(), args.size()).get(input) != simdjson::SUCCESS || !input.is_object())
        return badRequest(w + ".function.arguments: must be a JSON object (Anthropic tool input)");
      appendValue(b, input);
    }
    b += '}';
    addBlock(blocks, b);
  }
  return {};
}

Result<void> appendTools(std::string& out, dom::array tools) {
  out += R"(,"tools":[)";
  size_t i = 0;
  for (dom::element t : tools) {
    const std::string w = "tools[" + std::to_string(i) + "]";
    if (stringField(t, "type", "function") != "function")
      return badRequest(w + ".type: only function tools can be sent to an Anthropic model");
    dom::element fn;
    std::string_view name;
    if (t["function"].get(fn) != simdjson::SUCCESS || fn["name"].get(name) != simdjson::SUCCESS)
      return badRequest(w + ".function.name: required string");
    if (i++ > 0) out += ',';
    out += R"({"name":)";
    appendJsonString(out, name);
    std::string_view desc;
    if (fn["description"].get(desc) == simdjson::SUCCESS) {
      out += R"(,"description":)";
      appendJsonString(out, desc);
    }
    out += R"(,"input_schema":)";
    dom::element params;
    if (fn["parameters"].get(params) == simdjson::SUCCESS && params.is_object())
      appendValue(out, params);
    else
      out += R"({"type":"object","properties":{}})";
    out += '}';
  }
  out += ']';
  return {};
}

// `choice` null: none given (auto, for disable_parallel_tool_use).
Result<void> appendToolChoice(std::string& out, const dom::element* choice, bool no_parallel) {
  std::string_view s;
  std::string c;
  if (!choice) {
    c = R"({"type":"auto")";
  } else if (choice->get(s) == simdjson::SUCCESS) {
    if (s == "auto")
      c = R"({"type":"auto")";
    else if (s == "required")
      c = R"({"type":"any")";
    else if (s == "none")
      c = R"({"type":"none")";
    else
      return badRequest("tool_choice: must be auto, required, none or a function");
  } else {
    dom::element fn;
    std::string_view name;
    if ((*choice)["function"].get(fn) != simdjson::SUCCESS || fn["name"].get(name) != simdjson::SUCCESS)
      return badRequest("tool_choice.function.name: required string");
    c = R"({"type":"tool","name":)";
    appendJsonString(c, name);
  }
  if (no_parallel && s != "none") c += R"(,"disable_parallel_tool_use":true)";
  out += R"(,"tool_choice":)";
  out += c;
  out += '}';
  return {};
}

}  // namespace

Result<std::string> chatRequestToAnthropic(std::string_view body, std::string_view model_id) {
  thread_local dom::parser parser;
  dom::element root;
  if (auto err = parser.parse(body.data(), body.size()).get(root))
    return fail(ErrorCode::kMalformedJson,
                std::string("request body is not valid JSON: ") + simdjson::error_message(err));
  if (!root.is_object()) return badRequest("request body must be a JSON object");
  dom::array messages;
  if (root["messages"].get(messages) != simdjson::SUCCESS) return badRequest("'messages' must be an array");

  std::string system;
  std::vector<Turn> turns;
  size_t i = 0;
  for (dom::element m : messages) {
    const std::string what = "messages[" + std::to_string(i++) + "]";
    std::string_view role = stringField(m, "role");
    dom::element content;
    const bool has_content = m["content"].get(content) == simdjson::SUCCESS;
    std::string blocks;
    std::string_view turn_role = "user";
    if (role == "system" || role == "developer") {
      if (!has_content) continue;
      auto text = plainText(content, what + ".content");
      if (!text) return fail(text.error());
      if (text->empty()) continue;
      if (!system.empty()) system += "\n\n";
      system += *text;
      continue;
    } else if (role == "user") {
      if (has_content) {
        if (auto r = userBlocks(content, what + ".content", blocks); !r) return fail(r.error());
      }
    } else if (role == "assistant") {
      turn_role = "assistant";
      if (auto r = assistantBlocks(m, what, blocks); !r) return fail(r.error());
    } else if (role == "tool") {
      std::string_view id;
      if (m["tool_call_id"].get(id) != simdjson::SUCCESS) return badRequest(what + ".tool_call_id: required string");
      std::string text;
      if (has_content) {
        auto t = plainText(content, what + ".content");
        if (!t) return fail(t.error());
        text = std::move(*t);
      }
      blocks = R"({"type":"tool_result","tool_use_id":)";
      appendJsonString(blocks, id);
      if (!text.empty()) {
        blocks += R"(,"content":)";
        appendJsonString(blocks, text);
      }
      blocks += '}';
    } else {
      return badRequest(what + ".role: '" + std::string(role) + "' cannot be sent to an Anthropic model");
    }
    if (blocks.empty()) continue;
    if (!turns.empty() && turns.back().role == turn_role) {
      addBlock(turns.back().blocks, blocks);
    } else {
      turns.push_back(Turn{turn_role, std::move(blocks)});
    }
  }
  if (turns.empty()) return badRequest("messages: no user or assistant message with content to send");

  int64_t max_tokens = kAnthropicDefaultMaxTokens;
  int64_t n = 0;
  if (root["max_completion_tokens"].get(n) == simdjson::SUCCESS && n > 0)
    max_tokens = n;
  else if (root["max_tokens"].get(n) == simdjson::SUCCESS && n > 0)
    max_tokens = n;
  if (root["n"].get(n) == simdjson::SUCCESS && n != 1)
    return badRequest("n: an Anthropic model returns one choice (n must be 1)");

  std::string out = R"({"model":)";
  appendJsonString(out, model_id);
  out += R"(,"max_tokens":)";
  out += std::to_string(max_tokens);
  if (!system.empty()) {
    out += R"(,"system":)";
    appendJsonString(out, system);
  }
  out += R"(,"messages":[)";
  for (size_t t = 0; t < turns.size(); ++t) {
    if (t > 0) out += ',';
    out += R"({"role":")";
    out += turns[t].role;
    out += R"(","content":[)";
    out += turns[t].blocks;
    out += "]}";
  }
  out += ']';
  bool stream = false;
  if (root["stream"].get(stream) == simdjson::SUCCESS && stream) out += R"(,"stream":true)";
  dom::element el;
  double num = 0;
  if (root["temperature"].get(el) == simdjson::SUCCESS && el.get(num) == simdjson::SUCCESS) {
    out += R"(,"temperature":)";
    if (num < 0)
      out += '0';  // OpenAI allows up to 2, Anthropic up to 1
    else if (num > 1)
      out += '1';
    else
      appendValue(out, el);
  }
  if (root["top_p"].get(el) == simdjson::SUCCESS && el.is_number()) {
    out += R"(,"top_p":)";
    appendValue(out, el);
  }
  if (root["stop"].get(el) == simdjson::SUCCESS && !el.is_null()) {
    std::string_view s;
    dom::array stops;
    if (el.get(s) == simdjson::SUCCESS) {
      out += R"(,"stop_sequences":[)";
      appendJsonString(out, s);
      out += ']';
    } else if (el.get(stops) == simdjson::SUCCESS && stops.size() > 0) {
      for (dom::element x : stops)
        if (!x.is_string()) return badRequest("stop: must be a string or an array of strings");
      out += R"(,"stop_sequences":)";
      appendValue(out, el);
    }
  }
  dom::array tools;
  if (root["tools"].get(tools) == simdjson::SUCCESS && tools.size() > 0) {
    if (auto r = appendTools(out, tools); !r) return fail(r.error());
    bool parallel = true;
    const bool no_parallel = root["parallel_tool_calls"].get(parallel) == simdjson::SUCCESS && !parallel;
    dom::element choice;
    const bool has_choice = root["tool_choice"].get(choice) == simdjson::SUCCESS && !choice.is_null();
    if (has_choice || no_parallel) {
      if (auto r = appendToolChoice(out, has_choice ? &choice : nullptr, no_parallel); !r) return fail(r.error());
    }
  }
  std::string_view user;
  if (root["user"].get(user) == simdjson::SUCCESS) {
    out += R"(,"metadata":{"user_id":)";
    appendJsonString(out, user);
    out += '}';
  }
  out += '}';
  return out;
}

// ---------------------------------------------------------------------------------------------
namespace {

Usage anthropicUsage(dom::element u) {
  Usage usage;
  int64_t v = 0;
  // OpenAI's prompt_tokens counts every input token: Anthropic's three input counts summed, the
  // cache reads and writes also kept apart to be priced at their rates.
  if (u["input_tokens"].get(v) == simdjson::SUCCESS && v > 0) usage.prompt_tokens += v;
  if (u["cache_creation_input_tokens"].get(v) == simdjson::SUCCESS && v > 0) {
    usage.prompt_tokens += v;
    usage.cache_write_tokens = v;
  }
  if (u["cache_read_input_tokens"].get(v) == simdjson::SUCCESS && v > 0) {
    usage.prompt_tokens += v;
    usage.cached_tokens = v;
  }
  if (u["output_tokens"].get(v) == simdjson::SUCCESS) usage.completion_tokens = v;
  return usage;
}

void appendUsage(std::string& out, const Usage& u) { appendUsageJson(out, u); }

}  // namespace

Result<std::string> anthropicResponseToChat(std::string_view body, int64_t created, Usage* usage_out) {
  thread_local dom::parser parser;
  dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS || !root.is_object())
    return fail(ErrorCode::kUpstreamError, "upstream answer is not a JSON object");
  dom::array content;
  if (stringField(root, "type") != "message" || root["content"].get(content) != simdjson::SUCCESS)
    return fail(ErrorCode::kUpstreamError, "upstream answer is not an Anthropic message");
  std::string text, calls;
  for (dom::element b : content) {
    std::string_view type = stringField(b, "type");
    if (type == "text") {
      text += stringField(b, "text");
    } else if (type == "tool_use") {
      dom::element input;
      std::string args = "{}";
      if (b["input"].get(input) == simdjson::SUCCESS) args = simdjson::minify(input);
      if (!calls.empty()) calls += ',';
      calls += R"({"id":)";
      appendJsonString(calls, stringField(b, "id"));
      calls += R"(,"type":"function","function":{"name":)";
      appendJsonString(calls, stringField(b, "name"));
      calls += R"(,"arguments":)";
      appendJsonString(calls, args);
      calls += "}}";
    }
    // thinking, redacted_thinking, server tool blocks: not representable in a chat completion.
  }
  Usage usage;
  dom::element u;
  if (root["usage"].get(u) == simdjson::SUCCESS && u.is_object()) usage = anthropicUsage(u);
  if (usage_out) *usage_out = usage;

  std::string out = R"({"id":)";
  appendJsonString(out, stringField(root, "id", "chatcmpl-anthropic"));
  out += R"(,"object":"chat.completion","created":)";
  out += std::to_string(created);
  out += R"(,"model":)";
  appendJsonString(out, stringField(root, "model"));
  out += R"(,"choices":[{"index":0,"message":{"role":"assistant","content":)";
  if (text.empty() && !calls.empty())
    out += "null";
  else
    appendJsonString(out, text);
  if (!calls.empty()) {
    out += R"(,"tool_calls":[)";
    out += calls;
    out += ']';
  }
  out += R"(,"refusal":null},"logprobs":null,"finish_reason":)";
  appendJsonString(out, finishReasonFromStopReason(stringField(root, "stop_reason")));
  out += "}],";
  appendUsage(out, usage);
  out += '}';
  return out;
}

// ---------------------------------------------------------------------------------------------
std::string AnthropicToChatStream::chunkHead() const {
  std::string c = R"({"id":)";
  appendJsonString(c, id_);
  c += R"(,"object":"chat.completion.chunk","created":)";
  c += std::to_string(created_);
  c += R"(,"model":)";
  appendJsonString(c, model_);
  c += ',';
  return c;
}

void AnthropicToChatStream::chunk(std::string_view delta_json, std::string_view finish_reason,
                                  std::deque<std::string>& out) const {
  std::string c = chunkHead();
  c += R"("choices":[{"index":0,"delta":)";
  c += delta_json;
  c += R"(,"logprobs":null,"finish_reason":)";
  if (finish_reason.empty())
    c += "null";
  else
    appendJsonString(c, finish_reason);
  c += "}]}";
  out.push_back(std::move(c));
}

Result<void> AnthropicToChatStream::onEvent(std::string_view data, std::deque<std::string>& out) {
  thread_local dom::parser parser;
  dom::element root;
  if (parser.parse(data.data(), data.size()).get(root) != simdjson::SUCCESS || !root.is_object())
    return fail(ErrorCode::kUpstreamError, "upstream sent a stream event that is not JSON");
  std::string_view type;
  if (root["type"].get(type) != simdjson::SUCCESS)
    return fail(ErrorCode::kUpstreamError, "upstream sent a stream event without a type");
  if (done_) return {};  // nothing may follow message_stop

  if (type == "message_start") {
    dom::element msg;
    if (root["message"].get(msg) != simdjson::SUCCESS || !msg.is_object())
      return fail(ErrorCode::kUpstreamError, "upstream message_start has no message");
    id_ = std::string(stringField(msg, "id", id_));
    model_ = std::string(stringField(msg, "model"));
    dom::element u;
    if (msg["usage"].get(u) == simdjson::SUCCESS && u.is_object()) usage_ = anthropicUsage(u);
    chunk(R"({"role":"assistant","content":""})", {}, out);
  } else if (type == "content_block_start") {
    dom::element block;
    int64_t index = -1;
    if (root["index"].get(index) != simdjson::SUCCESS || index < 0 || index > 100000 ||
        root["content_block"].get(block) != simdjson::SUCCESS)
      return fail(ErrorCode::kUpstreamError, "upstream content_block_start lacks index or content_block");
    if (blocks_.size() <= static_cast<size_t>(index)) blocks_.resize(static_cast<size_t>(index) + 1, -3);
    std::string_view btype = stringField(block, "type");
    if (btype == "text") {
      blocks_[index] = -1;
      std::string_view text = stringField(block, "text");
      if (!text.empty()) {
        std::string d = R"({"content":)";
        appendJsonString(d, text);
        d += '}';
        chunk(d, {}, out);
      }
    } else if (btype == "tool_use") {
      const int k = tools_++;
      blocks_[index] = k;
      std::string d = R"({"tool_calls":[{"index":)" + std::to_string(k) + R"(,"id":)";
      appendJsonString(d, stringField(block, "id"));
      d += R"(,"type":"function","function":{"name":)";
      appendJsonString(d, stringField(block, "name"));
      d += R"(,"arguments":""}}]})";
      chunk(d, {}, out);
    } else {
      blocks_[index] = -2;  // thinking, server tools, ...: not relayed
    }
  } else if (type == "content_block_delta") {
    int64_t index = -1;
    dom::element delta;
    if (root["index"].get(index) != simdjson::SUCCESS || root["delta"].get(delta) != simdjson::SUCCESS)
      return fail(ErrorCode::kUpstreamError, "upstream content_block_delta lacks index or delta");
    if (index < 0 || static_cast<size_t>(index) >= blocks_.size() || blocks_[index] == -3)
      return fail(ErrorCode::kUpstreamError,
                  "upstream sent a content_block_delta for block " + std::to_string(index) + " that was never started");
    const int kind = blocks_[index];
    std::string_view dtype = stringField(delta, "type");
    if (dtype == "text_delta" && kind == -1) {
      std::string_view text = stringField(delta, "text");
      if (!text.empty()) {
        std::string d = R"({"content":)";
        appendJsonString(d, text);
        d += '}';
        chunk(d, {}, out);
      }
    } else if (dtype == "input_json_delta" && kind >= 0) {
      std::string_view part = stringField(delta, "partial_json");
      if (!part.empty()) {
        std::string d = R"({"tool_calls":[{"index":)" + std::to_string(kind) + R"(,"function":{"arguments":)";
        appendJsonString(d, part);
        d += "}}]}";
        chunk(d, {}, out);
      }
    }
    // thinking_delta, signature_delta, citations_delta, ...: not relayed.
  } else if (type == "message_delta") {
    dom::element delta, u;
    if (root["delta"].get(delta) == simdjson::SUCCESS) {
      std::string_view r;
      if (delta["stop_reason"].get(r) == simdjson::SUCCESS) stop_reason_ = std::string(r);
    }
    if (root["usage"].get(u) == simdjson::SUCCESS && u.is_object()) {
      Usage later = anthropicUsage(u);
      // message_delta's usage is cumulative; input counts appear only in newer API versions.
      if (later.prompt_tokens > 0) {
        usage_.prompt_tokens = later.prompt_tokens;
        usage_.cached_tokens = later.cached_tokens;
        usage_.cache_write_tokens = later.cache_write_tokens;
      }
      usage_.completion_tokens = later.completion_tokens;
    }
  } else if (type == "message_stop") {
    done_ = true;
    chunk("{}", finishReasonFromStopReason(stop_reason_), out);
    std::string c = chunkHead();
    c += R"("choices":[],)";
    appendUsage(c, usage_);
    c += '}';
    out.push_back(std::move(c));
  } else if (type == "error") {
    dom::element err;
    std::string_view msg = "unknown error";
    if (root["error"].get(err) == simdjson::SUCCESS) msg = stringField(err, "message", msg);
    std::string_view etype = root["error"].get(err) == simdjson::SUCCESS ? stringField(err, "type") : "";
    return fail(ErrorCode::kUpstreamError, "upstream stream error" +
                                               (etype.empty() ? std::string() : " (" + std::string(etype) + ")") +
                                               ": " + std::string(msg));
  }
  // ping, content_block_stop, and event types added later: nothing to relay.
  return {};
}

}  // namespace rightsize::api
