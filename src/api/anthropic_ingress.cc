#include "api/anthropic_ingress.h"

#include <simdjson.h>

#include <vector>

#include "api/anthropic_common.h"
#include "api/errors.h"
#include "common/strings.h"

namespace rightsize::api {

namespace {

namespace dom = simdjson::dom;
using anthropic_json::appendValue;
using anthropic_json::stringField;


// `system`: a string or an array of text blocks (joined with "\n\n").
Result<std::string> systemText(dom::element el) {
  std::string_view s;
  if (el.get(s) == simdjson::SUCCESS) return std::string(s);
  dom::array blocks;
  if (el.get(blocks) != simdjson::SUCCESS) return badRequest("system: must be a string or an array of text blocks");
  std::string out;
  size_t i = 0;
  for (dom::element b : blocks) {
    std::string_view type = stringField(b, "type");
    std::string_view text;
    if (type != "text" || b["text"].get(text) != simdjson::SUCCESS)
      return badRequest("system[" + std::to_string(i) + "]: must be a text block with a string 'text'");
    if (!out.empty()) out += "\n\n";
    out += text;
    ++i;
  }
  return out;
}

// An image block → an OpenAI image_url part.
Result<void> appendImagePart(std::string& out, dom::element block, const std::string& where) {
  dom::element source;
  if (block["source"].get(source) != simdjson::SUCCESS || !source.is_object())
    return badRequest(where + ".source: required object");
  std::string_view type = stringField(source, "type");
  out += R"({"type":"image_url","image_url":{"url":)";
  if (type == "base64") {
    std::string_view media, data;
    if (source["media_type"].get(media) != simdjson::SUCCESS || source["data"].get(data) != simdjson::SUCCESS)
      return badRequest(where + ".source: a base64 source needs string 'media_type' and 'data'");
    std::string url = "data:";
    url += media;
    url += ";base64,";
    url += data;
    appendJsonString(out, url);
  } else if (type == "url") {
    std::string_view url;
    if (source["url"].get(url) != simdjson::SUCCESS) return badRequest(where + ".source: a url source needs a string 'url'");
    appendJsonString(out, url);
  } else {
    return badRequest(where + ".source.type: '" + std::string(type) + "' is not supported (base64 or url)");
  }
  out += "}}";
  return {};
}

// The text of a tool_result's content (a string or text/image blocks); images are appended as
// image_url parts to `images` (OpenAI tool messages carry text only).
Result<std::string> toolResultText(dom::element block, const std::string& where, std::string& images) {
  dom::element content;
  if (block["content"].get(content) != simdjson::SUCCESS || content.is_null()) return std::string();
  std::string_view s;
  if (content.get(s) == simdjson::SUCCESS) return std::string(s);
  dom::array parts;
  if (content.get(parts) != simdjson::SUCCESS) return badRequest(where + ".content: must be a string or an array of blocks");
  std::string text;
  size_t j = 0;
  for (dom::element p : parts) {
    std::string w = where + ".content[" + std::to_string(j++) + "]";
    std::string_view type = stringField(p, "type");
    if (type == "text") {
      std::string_view t;
      if (p["text"].get(t) != simdjson::SUCCESS) return badRequest(w + ": a text block needs a string 'text'");
      if (!text.empty()) text += "\n";
      text += t;
    } else if (type == "image") {
      if (!images.empty()) images += ',';
      if (auto r = appendImagePart(images, p, w); !r) return fail(r.error());
    } else {
      return badRequest(w + ": block type '" + std::string(type) + "' is not supported in a tool_result");
    }
  }
  return text;
}

// One Anthropic message → one or more OpenAI messages appended (comma-separated) to `out`.
Result<void> appendMessage(std::string& out, dom::element m, size_t index) {
  const std::string where = "messages[" + std::to_string(index) + "]";
  if (!m.is_object()) return badRequest(where + ": must be an object");
  std::string_view role = stringField(m, "role");
  if (role != "user" && role != "assistant")
    return badRequest(where + ".role: must be 'user' or 'assistant' (put system prompts in the top-level 'system')");
  auto sep = [&] {
    if (out.back() != '[') out += ',';
  };
  dom::element content;
  if (m["content"].get(content) != simdjson::SUCCESS) return badRequest(where + ".content: required");
  std::string_view s;
  if (content.get(s) == simdjson::SUCCESS) {
    sep();
    out += R"({"role":)";
    appendJsonString(out, role);
    out += R"(,"content":)";
    appendJsonString(out, s);
    out += '}';
    return {};
  }
  dom::array blocks;
  if (content.get(blocks) != simdjson::SUCCESS) return badRequest(where + ".content: must be a string or an array of blocks");

  std::string parts;  // user: OpenAI content parts
  size_t text_parts = 0;
  std::string only_text;   // the text when the turn is a single text block
  std::string text;        // assistant: text blocks concatenated
  std::string tool_calls;  // assistant
  std::string tool_msgs;   // user: role tool messages, in order
  std::string images;      // user: images from tool results
  size_t i = 0;
  for (dom::element b : blocks) {
    const std::string w = where + ".content[" + std::to_string(i++) + "]";
    if (!b.is_object()) return badRequest(w + ": must be an object");
    std::string_view type = stringField(b, "type");
    if (type == "text") {
      std::string_view t;
      if (b["text"].get(t) != simdjson::SUCCESS) return badRequest(w + ": a text block needs a string 'text'");
      if (role == "assistant") {
        text += t;
      } else {
        if (!parts.empty()) parts += ',';
        parts += R"({"type":"text","text":)";
        appendJsonString(parts, t);
        parts += '}';
        if (text_parts++ == 0) only_text = std::string(t);
      }
    } else if (type == "image") {
      if (role != "user") return badRequest(w + ": image blocks are only supported in user turns");
      if (!parts.empty()) parts += ',';
      if (auto r = appendImagePart(parts, b, w); !r) return fail(r.error());
      text_parts += 2;  // never collapse to a plain string
    } else if (type == "tool_use") {
      if (role != "assistant") return badRequest(w + ": tool_use blocks belong in assistant turns");
      std::string_view id, name;
      dom::element input;
      if (b["id"].get(id) != simdjson::SUCCESS || b["name"].get(name) != simdjson::SUCCESS)
        return badRequest(w + ": a tool_use block needs string 'id' and 'name'");
      std::string args = "{}";
      if (b["input"].get(input) == simdjson::SUCCESS) {
        if (!input.is_object()) return badRequest(w + ".input: must be an object");
        args = simdjson::minify(input);
      }
      if (!tool_calls.empty()) tool_calls += ',';
      tool_calls += R"({"id":)";
      appendJsonString(tool_calls, id);
      tool_calls += R"(,"type":"function","function":{"name":)";
      appendJsonString(tool_calls, name);
      tool_calls += R"(,"arguments":)";
      appendJsonString(tool_calls, args);
      tool_calls += "}}";
    } else if (type == "tool_result") {
      if (role != "user") return badRequest(w + ": tool_result blocks belong in user turns");
      std::string_view id;
      if (b["tool_use_id"].get(id) != simdjson::SUCCESS)
        return badRequest(w + ": a tool_result block needs a string 'tool_use_id'");
      auto result = toolResultText(b, w, images);
      if (!result) return fail(result.error());
      bool is_error = false;
      if (b["is_error"].get(is_error) == simdjson::SUCCESS && is_error) *result = "Error: " + *result;
      if (!tool_msgs.empty()) tool_msgs += ',';
      tool_msgs += R"({"role":"tool","tool_call_id":)";
      appendJsonString(tool_msgs, id);
      tool_msgs += R"(,"content":)";
      appendJsonString(tool_msgs, *result);
      tool_msgs += '}';
    } else if (type == "thinking" || type == "redacted_thinking") {
      // The model's own reasoning, replayed by the client: not part of the conversation upstream.
    } else {
      return badRequest(w + ": block type '" + std::string(type) + "' is not supported (text, image, tool_use, tool_result)");
    }
  }

  if (role == "assistant") {
    sep();
    out += R"({"role":"assistant","content":)";
    if (text.empty() && !tool_calls.empty())
      out += "null";
    else
      appendJsonString(out, text);
    if (!tool_calls.empty()) {
      out += R"(,"tool_calls":[)";
      out += tool_calls;
      out += ']';
    }
    out += '}';
    return {};
  }
  // Tool results answer the previous assistant turn, so they come first.
  if (!tool_msgs.empty()) {
    sep();
    out += tool_msgs;
  }
  if (!images.empty()) {
    if (!parts.empty()) parts += ',';
    parts += images;
    text_parts += 2;
  }
  if (!parts.empty() || tool_msgs.empty()) {
    sep();
    out += R"({"role":"user","content":)";
    if (parts.empty())
      out += R"("")";
    else if (text_parts == 1)
      appendJsonString(out, only_text);
    else
      out += "[" + parts + "]";
    out += '}';
  }
  return {};
}

Result<void> appendTools(std::string& out, dom::element el) {
  dom::array tools;
  if (el.get(tools) != simdjson::SUCCESS) return badRequest("tools: must be an array");
  out += R"(,"tools":[)";
  size_t i = 0;
  for (dom::element t : tools) {
    const std::string w = "tools[" + std::to_string(i) + "]";
    if (!t.is_object()) return badRequest(w + ": must be an object");
    std::string_view type = stringField(t, "type", "custom");
    if (type != "custom")
      return badRequest(w + ": tool type '" + std::string(type) + "' (a server tool) is not supported by the gateway");
    std::string_view name;
    if (t["name"].get(name) != simdjson::SUCCESS || name.empty()) return badRequest(w + ".name: required string");
    if (i++ > 0) out += ',';
    out += R"({"type":"function","function":{"name":)";
    appendJsonString(out, name);
    std::string_view desc;
    if (t["description"].get(desc) == simdjson::SUCCESS) {
      out += R"(,"description":)";
      appendJsonString(out, desc);
    }
    out += R"(,"parameters":)";
    dom::element schema;
    if (t["input_schema"].get(schema) == simdjson::SUCCESS) {
      if (!schema.is_object()) return badRequest(w + ".input_schema: must be an object");
      appendValue(out, schema);
    } else {
      out += R"({"type":"object","properties":{}})";
    }
    out += "}}";
  }
  out += ']';
  return {};
}

Result<void> appendToolChoice(std::string& out, dom::element el) {
  if (!el.is_object()) return badRequest("tool_choice: must be an object");
  std::string_view type = stringField(el, "type");
  out += R"(,"tool_choice":)";
  if (type == "auto") {
    out += R"("auto")";
  } else if (type == "any") {
    out += R"("required")";
  } else if (type == "none") {
    out += R"("none")";
  } else if (type == "tool") {
    std::string_view name;
    if (el["name"].get(name) != simdjson::SUCCESS) return badRequest("tool_choice.name: required for type 'tool'");
    out += R"({"type":"function","function":{"name":)";
    appendJsonString(out, name);
    out += "}}";
  } else {
    return badRequest("tool_choice.type: must be auto, any, tool or none");
  }
  bool no_parallel = false;
  if (el["disable_parallel_tool_use"].get(no_parallel) == simdjson::SUCCESS && no_parallel)
    out += R"(,"parallel_tool_calls":false)";
  return {};
}

}  // namespace

namespace {
// A Messages body, or (count_only) a count_tokens body: the same fields without max_tokens.
Result<std::string> messagesToChat(std::string_view body, bool count_only) {
  thread_local dom::parser parser;
  dom::element root;
  if (auto err = parser.parse(body.data(), body.size()).get(root))
    return fail(ErrorCode::kMalformedJson,
                std::string("request body is not valid JSON: ") + simdjson::error_message(err));
  if (!root.is_object()) return badRequest("request body must be a JSON object");

  std::string_view model;
  if (root["model"].get(model) != simdjson::SUCCESS || model.empty()) return badRequest("model: required non-empty string");
  dom::element max_tokens;
  int64_t max_tokens_n = 0;
  if (root["max_tokens"].get(max_tokens) != simdjson::SUCCESS) {
    if (!count_only) return badRequest("max_tokens: required");
  } else if (max_tokens.get(max_tokens_n) != simdjson::SUCCESS || max_tokens_n < 1) {
    return badRequest("max_tokens: must be a positive integer");
  }
  dom::array messages;
  if (root["messages"].get(messages) != simdjson::SUCCESS) return badRequest("messages: required array");
  if (messages.size() == 0) return badRequest("messages: must not be empty");

  std::string out = R"({"model":)";
  appendJsonString(out, model);
  out += R"(,"messages":[)";
  dom::element system;
  if (root["system"].get(system) == simdjson::SUCCESS && !system.is_null()) {
    auto text = systemText(system);
    if (!text) return fail(text.error());
    if (!text->empty()) {
      out += R"({"role":"system","content":)";
      appendJsonString(out, *text);
      out += '}';
    }
  }
  size_t i = 0;
  for (dom::element m : messages) {
    if (auto r = appendMessage(out, m, i++); !r) return fail(r.error());
  }
  out += ']';
  if (max_tokens_n > 0) {
    out += R"(,"max_tokens":)";
    out += std::to_string(max_tokens_n);
  }

  bool stream = false;
  dom::element el;
  if (root["stream"].get(el) == simdjson::SUCCESS && !el.is_null()) {
    if (el.get(stream) != simdjson::SUCCESS) return badRequest("stream: must be a boolean");
    if (stream) out += R"(,"stream":true,"stream_options":{"include_usage":true})";
  }
  for (std::string_view key : {"temperature", "top_p"}) {
    if (root[key].get(el) == simdjson::SUCCESS && !el.is_null()) {
      if (!el.is_number()) return badRequest(std::string(key) + ": must be a number");
      out += ",\"";
      out += key;
      out += "\":";
      appendValue(out, el);
    }
  }
  if (root["stop_sequences"].get(el) == simdjson::SUCCESS && !el.is_null()) {
    dom::array stops;
    if (el.get(stops) != simdjson::SUCCESS) return badRequest("stop_sequences: must be an array of strings");
    for (dom::element s : stops)
      if (!s.is_string()) return badRequest("stop_sequences: must be an array of strings");
    if (stops.size() > 0) {
      out += R"(,"stop":)";
      appendValue(out, el);
    }
  }
  bool have_tools = false;
  if (root["tools"].get(el) == simdjson::SUCCESS && !el.is_null()) {
    if (auto r = appendTools(out, el); !r) return fail(r.error());
    have_tools = true;
  }
  if (root["tool_choice"].get(el) == simdjson::SUCCESS && !el.is_null() && have_tools) {
    if (auto r = appendToolChoice(out, el); !r) return fail(r.error());
  }
  std::string_view user;
  if (root["metadata"]["user_id"].get(user) == simdjson::SUCCESS) {
    out += R"(,"user":)";
    appendJsonString(out, user);
  }
  if (root["rightsize"].get(el) == simdjson::SUCCESS) {
    out += R"(,"rightsize":)";
    appendValue(out, el);
  }
  out += '}';
  return out;
}

}  // namespace

Result<std::string> anthropicRequestToChat(std::string_view body) { return messagesToChat(body, false); }

Result<std::string> anthropicCountTokensToChat(std::string_view body) { return messagesToChat(body, true); }

Result<std::string> anthropicCountTokensBody(std::string_view body, std::string_view model_id) {
  thread_local dom::parser parser;
  dom::element root;
  if (auto err = parser.parse(body.data(), body.size()).get(root))
    return fail(ErrorCode::kMalformedJson,
                std::string("request body is not valid JSON: ") + simdjson::error_message(err));
  dom::object obj;
  if (root.get(obj) != simdjson::SUCCESS) return badRequest("request body must be a JSON object");
  std::string out = R"({"model":)";
  appendJsonString(out, model_id);
  for (auto field : obj) {
    if (field.key == "model" || field.key == "rightsize") continue;
    out += ',';
    appendJsonString(out, field.key);
    out += ':';
    appendValue(out, field.value);
  }
  out += '}';
  return out;
}

// ---------------------------------------------------------------------------------------------
Result<std::string> chatResponseToAnthropic(std::string_view body, const std::optional<Usage>& usage) {
  thread_local dom::parser parser;
  thread_local dom::parser args_parser;  // tool arguments, parsed while `parser`'s document is alive
  dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS || !root.is_object())
    return fail(ErrorCode::kUpstreamError, "upstream answer is not a JSON object");
  dom::element choice;
  if (root["choices"].at(0).get(choice) != simdjson::SUCCESS || !choice.is_object())
    return fail(ErrorCode::kUpstreamError, "upstream answer has no choices");
  dom::element message;
  if (choice["message"].get(message) != simdjson::SUCCESS || !message.is_object())
    return fail(ErrorCode::kUpstreamError, "upstream answer's choice has no message");

  std::string out = R"({"id":)";
  appendJsonString(out, "msg_" + std::string(stringField(root, "id", "rightsize")));
  out += R"(,"type":"message","role":"assistant","model":)";
  appendJsonString(out, stringField(root, "model"));
  out += R"(,"content":[)";
  bool first = true;
  auto textBlock = [&](std::string_view t) {
    if (t.empty()) return;
    if (!first) out += ',';
    first = false;
    out += R"({"type":"text","text":)";
    appendJsonString(out, t);
    out += '}';
  };
  dom::element content;
  if (message["content"].get(content) == simdjson::SUCCESS) {
    std::string_view s;
    dom::array parts;
    if (content.get(s) == simdjson::SUCCESS) {
      textBlock(s);
    } else if (content.get(parts) == simdjson::SUCCESS) {
      for (dom::element p : parts) textBlock(stringField(p, "text"));
    }
  }
  textBlock(stringField(message, "refusal"));
  dom::array calls;
  if (message["tool_calls"].get(calls) == simdjson::SUCCESS) {
    for (dom::element c : calls) {
      dom::element fn;
      const bool has_fn = c.is_object() && c["function"].get(fn) == simdjson::SUCCESS;
      std::string_view args_text = has_fn ? stringField(fn, "arguments") : std::string_view();
      if (!first) out += ',';
      first = false;
      out += R"({"type":"tool_use","id":)";
      appendJsonString(out, stringField(c, "id"));
      out += R"(,"name":)";
      appendJsonString(out, has_fn ? stringField(fn, "name") : std::string_view());
      out += R"(,"input":)";
      dom::element args;
      if (trim(args_text).empty()) {
        out += "{}";
      } else if (args_parser.parse(args_text.data(), args_text.size()).get(args) == simdjson::SUCCESS &&
                 args.is_object()) {
        appendValue(out, args);
      } else {
        out += R"({"_raw_arguments":)";
        appendJsonString(out, args_text);
        out += '}';
      }
      out += '}';
    }
  }
  out += R"(],"stop_reason":)";
  std::string_view finish = stringField(choice, "finish_reason", "stop");
  appendJsonString(out, stopReasonFromFinishReason(finish));
  Usage u = usage ? *usage : responseUsage(body).value_or(Usage{});
  out += R"(,"stop_sequence":null,)";
  appendAnthropicUsageJson(out, u);
  out += '}';
  return out;
}

// ---------------------------------------------------------------------------------------------
void ChatToAnthropicStream::start(std::string_view id, std::string_view model, std::string& out) {
  started_ = true;
  std::string msg = R"({"type":"message_start","message":{"id":)";
  appendJsonString(msg, "msg_" + std::string(id.empty() ? "rightsize" : id));
  msg += R"(,"type":"message","role":"assistant","model":)";
  appendJsonString(msg, model);
  msg += R"(,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}})";
  appendAnthropicEvent(out, "message_start", msg);
}

void ChatToAnthropicStream::closeBlock(std::string& out) {
  if (block_ == Block::kNone) return;
  appendAnthropicEvent(out, "content_block_stop",
                       R"({"type":"content_block_stop","index":)" + std::to_string(index_) + "}");
  block_ = Block::kNone;
}

void ChatToAnthropicStream::openBlock(Block kind, std::string_view content_block_json, std::string& out) {
  closeBlock(out);
  block_ = kind;
  ++index_;
  std::string ev = R"({"type":"content_block_start","index":)" + std::to_string(index_) + R"(,"content_block":)";
  ev += content_block_json;
  ev += '}';
  appendAnthropicEvent(out, "content_block_start", ev);
}

void ChatToAnthropicStream::blockDelta(std::string_view delta_type, std::string_view field, std::string_view value,
                                       std::string& out) const {
  std::string ev = R"({"type":"content_block_delta","index":)" + std::to_string(index_) + R"(,"delta":{"type":)";
  appendJsonString(ev, delta_type);
  ev += ',';
  appendJsonString(ev, field);
  ev += ':';
  appendJsonString(ev, value);
  ev += "}}";
  appendAnthropicEvent(out, "content_block_delta", ev);
}

Result<void> ChatToAnthropicStream::onChunk(std::string_view data, std::string& out) {
  thread_local dom::parser parser;
  dom::element root;
  if (parser.parse(data.data(), data.size()).get(root) != simdjson::SUCCESS || !root.is_object())
    return fail(ErrorCode::kUpstreamError, "upstream sent a stream event that is not JSON");
  dom::element err;
  if (root["error"].get(err) == simdjson::SUCCESS && !err.is_null()) {
    std::string_view msg = stringField(err, "message", "upstream stream error");
    return fail(ErrorCode::kUpstreamError, "upstream stream error: " + std::string(msg));
  }
  if (!started_) start(stringField(root, "id"), stringField(root, "model"), out);
  dom::element choice;
  if (root["choices"].at(0).get(choice) != simdjson::SUCCESS) return {};  // usage chunk, or empty
  dom::element delta;
  if (choice["delta"].get(delta) == simdjson::SUCCESS && delta.is_object()) {
    std::string_view text = stringField(delta, "content");
    if (text.empty()) text = stringField(delta, "refusal");
    if (!text.empty()) {
      if (block_ != Block::kText) openBlock(Block::kText, R"({"type":"text","text":""})", out);
      blockDelta("text_delta", "text", text, out);
    }
    dom::array calls;
    if (delta["tool_calls"].get(calls) == simdjson::SUCCESS) {
      for (dom::element c : calls) {
        int64_t idx = 0;
        if (c["index"].get(idx) != simdjson::SUCCESS) idx = std::max<int64_t>(tool_index_, 0);
        dom::element fn;
        const bool has_fn = c["function"].get(fn) == simdjson::SUCCESS && fn.is_object();
        if (block_ != Block::kTool || idx != tool_index_) {
          if (idx <= max_tool_index_)
            return fail(ErrorCode::kUpstreamError,
                        "upstream interleaved tool call deltas (tool call " + std::to_string(idx) + " resumed)");
          std::string cb = R"({"type":"tool_use","id":)";
          appendJsonString(cb, stringField(c, "id", "toolu_" + std::to_string(idx)));
          cb += R"(,"name":)";
          appendJsonString(cb, has_fn ? stringField(fn, "name") : std::string_view());
          cb += R"(,"input":{}})";
          openBlock(Block::kTool, cb, out);
          tool_index_ = idx;
          max_tool_index_ = idx;
        }
        std::string_view args = has_fn ? stringField(fn, "arguments") : std::string_view();
        if (!args.empty()) {
          blockDelta("input_json_delta", "partial_json", args, out);
        }
      }
    }
  }
  std::string_view finish;
  if (choice["finish_reason"].get(finish) == simdjson::SUCCESS) {
    finish_reason_ = std::string(finish);
    closeBlock(out);
  }
  return {};
}

void ChatToAnthropicStream::finish(const Usage& usage, std::string& out) {
  if (!started_) start({}, {}, out);
  closeBlock(out);
  std::string ev = R"({"type":"message_delta","delta":{"stop_reason":)";
  appendJsonString(ev, stopReasonFromFinishReason(finish_reason_));
  ev += R"(,"stop_sequence":null},)";
  appendAnthropicUsageJson(ev, usage);
  ev += '}';
  appendAnthropicEvent(out, "message_delta", ev);
  appendAnthropicEvent(out, "message_stop", R"({"type":"message_stop"})");
}

}  // namespace rightsize::api
