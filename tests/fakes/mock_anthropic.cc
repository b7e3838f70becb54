#include "mock_anthropic.h"

#include <optional>
#include <set>

#include "common/strings.h"

namespace rightsize::fakes {
namespace {

namespace dom = simdjson::dom;
using Problem = std::optional<std::string>;

std::string errorBody(std::string_view type, std::string_view message) {
  std::string out = R"({"type":"error","error":{"type":)";
  appendJsonString(out, type);
  out += R"(,"message":)";
  appendJsonString(out, message);
  out += "}}";
  return out;
}

std::string_view str(dom::element obj, std::string_view key) {
  std::string_view v;
  if (obj.is_object() && obj[key].get(v) == simdjson::SUCCESS) return v;
  return {};
}

Problem onlyKeys(dom::element obj, const std::string& where, std::initializer_list<std::string_view> allowed) {
  dom::object o;
  if (obj.get(o) != simdjson::SUCCESS) return where + ": must be an object";
  for (auto [key, value] : o) {
    bool ok = false;
    for (auto a : allowed) ok = ok || a == key;
    if (!ok) return where + "." + std::string(key) + ": Extra inputs are not permitted";
  }
  return std::nullopt;
}

Problem checkImage(dom::element b, const std::string& w) {
  if (auto p = onlyKeys(b, w, {"type", "source", "cache_control"})) return p;
  dom::element src;
  if (b["source"].get(src) != simdjson::SUCCESS) return w + ".source: Field required";
  std::string_view type = str(src, "type");
  if (type == "base64") {
    if (auto p = onlyKeys(src, w + ".source", {"type", "media_type", "data"})) return p;
    static const std::set<std::string_view> kMedia{"image/jpeg", "image/png", "image/gif", "image/webp"};
    if (!kMedia.count(str(src, "media_type")))
      return w + ".source.media_type: must be image/jpeg, image/png, image/gif or image/webp";
    if (str(src, "data").empty()) return w + ".source.data: Field required";
    return std::nullopt;
  }
  if (type == "url") {
    if (auto p = onlyKeys(src, w + ".source", {"type", "url"})) return p;
    std::string_view url = str(src, "url");
    if (url.substr(0, 7) != "http://" && url.substr(0, 8) != "https://")
      return w + ".source.url: must be an http(s) URL";
    return std::nullopt;
  }
  return w + ".source.type: must be base64 or url";
}

Problem checkText(dom::element b, const std::string& w) {
  if (auto p = onlyKeys(b, w, {"type", "text", "cache_control", "citations"})) return p;
  std::string_view t;
  if (b["text"].get(t) != simdjson::SUCCESS) return w + ".text: Field required";
  if (t.empty()) return w + ": text content blocks must be non-empty";
  return std::nullopt;
}

struct Conversation {
  std::string last_user_text;
  std::string tool_results;       // text of the last user turn's tool results
  int images = 0;                 // in the last user turn
  bool tool_result_turn = false;  // the last user turn answers tool calls
  int64_t text_bytes = 0;         // all text, for input_tokens
};

// Checks `messages`; fills `conv` from them.
Problem checkMessages(dom::element el, Conversation& conv) {
  dom::array msgs;
  if (el.get(msgs) != simdjson::SUCCESS) return std::string("messages: Input should be a valid list");
  if (msgs.size() == 0) return std::string("messages: at least one message is required");
  std::string_view prev_role;
  std::set<std::string> pending_tool_uses;  // tool_use ids of the previous assistant turn
  size_t i = 0;
  for (dom::element m : msgs) {
    const std::string w = "messages." + std::to_string(i);
    if (auto p = onlyKeys(m, w, {"role", "content"})) return p;
    std::string_view role = str(m, "role");
    if (role != "user" && role != "assistant")
      return w + ".role: Input should be 'user' or 'assistant' (system prompts go in the top-level system)";
    if (i == 0 && role != "user") return std::string("messages: the first message must use the \"user\" role");
    if (role == prev_role) return std::string("messages: roles must alternate between \"user\" and \"assistant\"");
    const bool last = i + 1 == msgs.size();
    dom::element content;
    if (m["content"].get(content) != simdjson::SUCCESS) return w + ".content: Field required";
    std::set<std::string> tool_uses;
    std::set<std::string> answered;
    if (role == "user") {
      conv.last_user_text.clear();
      conv.tool_results.clear();
      conv.images = 0;
      conv.tool_result_turn = false;
    }
    std::string_view s;
    if (content.get(s) == simdjson::SUCCESS) {
      if (s.empty() && !(last && role == "assistant")) return w + ": text content must be non-empty";
      conv.text_bytes += static_cast<int64_t>(s.size());
      if (role == "user") conv.last_user_text = std::string(s);
    } else {
      dom::array blocks;
      if (content.get(blocks) != simdjson::SUCCESS) return w + ".content: must be a string or a list of blocks";
      if (blocks.size() == 0 && !(last && role == "assistant")) return w + ".content: must not be empty";
      bool seen_other = false;
      size_t j = 0;
      for (dom::element b : blocks) {
        const std::string bw = w + ".content." + std::to_string(j++);
        std::string_view type = str(b, "type");
        if (type == "text") {
          if (auto p = checkText(b, bw)) return p;
          std::string_view t = str(b, "text");
          conv.text_bytes += static_cast<int64_t>(t.size());
          if (role == "user") {
            if (!conv.last_user_text.empty()) conv.last_user_text += "\n";
            conv.last_user_text += t;
          }
          seen_other = true;
        } else if (type == "image") {
          if (role != "user") return bw + ": image blocks are only allowed in user messages";
          if (auto p = checkImage(b, bw)) return p;
          ++conv.images;
          seen_other = true;
        } else if (type == "tool_use") {
          if (role != "assistant") return bw + ": tool_use blocks are only allowed in assistant messages";
          if (auto p = onlyKeys(b, bw, {"type", "id", "name", "input", "cache_control"})) return p;
          dom::element input;
          if (str(b, "id").empty() || str(b, "name").empty()) return bw + ": tool_use needs id and name";
          if (b["input"].get(input) != simdjson::SUCCESS || !input.is_object()) return bw + ".input: must be an object";
          tool_uses.insert(std::string(str(b, "id")));
        } else if (type == "tool_result") {
          if (role != "user") return bw + ": tool_result blocks are only allowed in user messages";
          if (seen_other) return bw + ": tool_result blocks must come before any other content in a user message";
          if (auto p = onlyKeys(b, bw, {"type", "tool_use_id", "content", "is_error", "cache_control"})) return p;
          std::string id(str(b, "tool_use_id"));
          if (!pending_tool_uses.count(id))
            return bw + ": unexpected tool_use_id '" + id +
                   "' in tool_result blocks: each tool_result must answer a tool_use of the previous message";
          answered.insert(id);
          dom::element rc;
          if (b["content"].get(rc) == simdjson::SUCCESS) {
            std::string_view t;
            dom::array parts;
            if (rc.get(t) == simdjson::SUCCESS) {
              if (!conv.tool_results.empty()) conv.tool_results += "; ";
              conv.tool_results += t;
            } else if (rc.get(parts) == simdjson::SUCCESS) {
              size_t k = 0;
              for (dom::element p : parts) {
                const std::string pw = bw + ".content." + std::to_string(k++);
                if (str(p, "type") == "text") {
                  if (auto pr = checkText(p, pw)) return pr;
                  if (!conv.tool_results.empty()) conv.tool_results += "; ";
                  conv.tool_results += str(p, "text");
                } else if (str(p, "type") == "image") {
                  if (auto pr = checkImage(p, pw)) return pr;
                } else {
                  return pw + ".type: must be text or image";
                }
              }
            } else {
              return bw + ".content: must be a string or a list of blocks";
            }
          }
          conv.tool_result_turn = true;
        } else {
          return bw + ".type: unknown block type '" + std::string(type) + "'";
        }
      }
    }
    if (role == "user" && !pending_tool_uses.empty() && answered != pending_tool_uses)
      return w + ": every tool_use of the previous assistant message needs a tool_result block right after it";
    if (role == "assistant" && !pending_tool_uses.empty())
      return std::string("messages: tool_use ids were found without tool_result blocks");
    pending_tool_uses = std::move(tool_uses);
    prev_role = role;
    ++i;
  }
  return std::nullopt;
}

struct Tools {
  std::vector<std::string> names;
  std::string choice_type = "auto";
  std::string choice_name;
};

Problem checkTools(dom::element root, Tools& tools) {
  dom::element el;
  if (root["tools"].get(el) == simdjson::SUCCESS) {
    dom::array arr;
    if (el.get(arr) != simdjson::SUCCESS) return std::string("tools: Input should be a valid list");
    size_t i = 0;
    for (dom::element t : arr) {
      const std::string w = "tools." + std::to_string(i++);
      if (auto p = onlyKeys(t, w, {"name", "description", "input_schema", "cache_control", "type"})) return p;
      if (t["type"].error() == simdjson::SUCCESS && str(t, "type") != "custom") return w + ".type: unknown tool type";
      std::string_view name = str(t, "name");
      if (name.empty() || name.size() > 64) return w + ".name: Field required (1-64 characters)";
      for (char c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-')
          return w + ".name: must match ^[a-zA-Z0-9_-]{1,64}$";
      dom::element schema;
      if (t["input_schema"].get(schema) != simdjson::SUCCESS) return w + ".input_schema: Field required";
      if (str(schema, "type") != "object") return w + ".input_schema.type: must be 'object'";
      tools.names.emplace_back(name);
    }
  }
  if (root["tool_choice"].get(el) == simdjson::SUCCESS) {
    if (tools.names.empty()) return std::string("tool_choice: may only be specified while providing tools");
    if (auto p = onlyKeys(el, "tool_choice", {"type", "name", "disable_parallel_tool_use"})) return p;
    std::string_view type = str(el, "type");
    if (type != "auto" && type != "any" && type != "tool" && type != "none")
      return std::string("tool_choice.type: must be auto, any, tool or none");
    tools.choice_type = std::string(type);
    if (type == "tool") {
      tools.choice_name = std::string(str(el, "name"));
      bool found = false;
      for (const auto& n : tools.names) found = found || n == tools.choice_name;
      if (!found) return std::string("tool_choice.name: no tool named '" + tools.choice_name + "'");
    }
    bool b;
    if (el["disable_parallel_tool_use"].error() == simdjson::SUCCESS &&
        el["disable_parallel_tool_use"].get(b) != simdjson::SUCCESS)
      return std::string("tool_choice.disable_parallel_tool_use: must be a boolean");
  }
  return std::nullopt;
}

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(' ', i);
    if (j == std::string_view::npos)
      j = s.size();
    else
      ++j;
    out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::string utf8Prefix(std::string_view s, size_t n) {
  if (s.size() <= n) return std::string(s);
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n));
}

void event(std::vector<std::string>& out, std::string_view type, std::string_view json) {
  std::string e = "event: ";
  e += type;
  e += "\ndata: ";
  e += json;
  e += "\n\n";
  out.push_back(std::move(e));
}

}  // namespace

AnthropicAnswer answerAnthropic(dom::parser& parser, const char* data, size_t len, std::string_view api_key,
                                std::string_view version, uint64_t id) {
  AnthropicAnswer a;
  auto reject = [&](unsigned status, std::string_view type, std::string_view msg) {
    a.status = status;
    a.stream = false;
    a.body = errorBody(type, msg);
    return a;
  };
  if (api_key.empty()) return reject(401, "authentication_error", "x-api-key header is required");
  if (version.empty()) return reject(400, "invalid_request_error", "anthropic-version: header is required");
  dom::element root;
  if (parser.parse(data, len, false).get(root) != simdjson::SUCCESS || !root.is_object())
    return reject(400, "invalid_request_error", "request body is not a valid JSON object");
  if (auto p = onlyKeys(root, "body",
                        {"model", "messages", "max_tokens", "system", "stream", "temperature", "top_p", "top_k",
                         "stop_sequences", "tools", "tool_choice", "metadata", "thinking", "service_tier"}))
    return reject(400, "invalid_request_error", *p);
  std::string_view model = str(root, "model");
  if (model.empty()) return reject(400, "invalid_request_error", "model: Field required");
  a.model = std::string(model);
  int64_t max_tokens = 0;
  if (root["max_tokens"].error() != simdjson::SUCCESS)
    return reject(400, "invalid_request_error", "max_tokens: Field required");
  if (root["max_tokens"].get(max_tokens) != simdjson::SUCCESS || max_tokens < 1)
    return reject(400, "invalid_request_error", "max_tokens: must be a positive integer");
  Conversation conv;
  dom::element el;
  if (root["system"].get(el) == simdjson::SUCCESS) {
    std::string_view s;
    dom::array blocks;
    if (el.get(s) == simdjson::SUCCESS) {
      conv.text_bytes += static_cast<int64_t>(s.size());
    } else if (el.get(blocks) == simdjson::SUCCESS) {
      size_t j = 0;
      for (dom::element b : blocks) {
        if (str(b, "type") != "text")
          return reject(400, "invalid_request_error", "system." + std::to_string(j) + ".type: must be text");
        if (auto p = checkText(b, "system." + std::to_string(j++))) return reject(400, "invalid_request_error", *p);
      }
    } else {
      return reject(400, "invalid_request_error", "system: must be a string or a list of text blocks");
    }
  }
  if (root["messages"].error() != simdjson::SUCCESS)
    return reject(400, "invalid_request_error", "messages: Field required");
  if (auto p = checkMessages(root["messages"].value_unsafe(), conv)) return reject(400, "invalid_request_error", *p);
  Tools tools;
  if (auto p = checkTools(root, tools)) return reject(400, "invalid_request_error", *p);
  double num;
  if (root["temperature"].error() == simdjson::SUCCESS &&
      (root["temperature"].get(num) != simdjson::SUCCESS || num < 0 || num > 1))
    return reject(400, "invalid_request_error", "temperature: must be a number between 0 and 1");
  if (root["top_p"].error() == simdjson::SUCCESS && root["top_p"].get(num) != simdjson::SUCCESS)
    return reject(400, "invalid_request_error", "top_p: must be a number");
  std::vector<std::string> stops;
  if (root["stop_sequences"].get(el) == simdjson::SUCCESS) {
    dom::array arr;
    if (el.get(arr) != simdjson::SUCCESS)
      return reject(400, "invalid_request_error", "stop_sequences: must be a list of strings");
    for (dom::element s : arr) {
      std::string_view v;
      if (s.get(v) != simdjson::SUCCESS)
        return reject(400, "invalid_request_error", "stop_sequences: must be a list of strings");
      stops.emplace_back(v);
    }
  }
  if (root["metadata"].get(el) == simdjson::SUCCESS) {
    if (auto p = onlyKeys(el, "metadata", {"user_id"})) return reject(400, "invalid_request_error", *p);
  }
  bool stream = false;
  if (root["stream"].error() == simdjson::SUCCESS && root["stream"].get(stream) != simdjson::SUCCESS)
    return reject(400, "invalid_request_error", "stream: must be a boolean");

  // Directives.
  std::string name(model.substr(0, model.find(';')));
  bool stream_error = false, bad_event = false, cut_stream = false, garbage = false;
  int64_t cache_read = 0, cache_write = 0;
  for (std::string_view rest = model.find(';') == std::string_view::npos ? std::string_view()
                                                                         : model.substr(model.find(';') + 1);
       !rest.empty();) {
    std::string_view d = rest.substr(0, rest.find(';'));
    rest = d.size() < rest.size() ? rest.substr(d.size() + 1) : std::string_view();
    if (d.substr(0, 7) == "status=") {
      unsigned st = static_cast<unsigned>(std::atoi(std::string(d.substr(7)).c_str()));
      return reject(st,
                    st == 529   ? "overloaded_error"
                    : st == 429 ? "rate_limit_error"
                                : "api_error",
                    "mock error " + std::to_string(st));
    } else if (d == "stream_error=1") {
      stream_error = true;
    } else if (d == "cut_stream=1") {
      cut_stream = true;
    } else if (d == "garbage=1") {
      garbage = true;
    } else if (d == "bad_event=1") {
      bad_event = true;
    } else if (d.substr(0, 11) == "cache_read=") {
      cache_read = std::atoll(std::string(d.substr(11)).c_str());
    } else if (d.substr(0, 12) == "cache_write=") {
      cache_write = std::atoll(std::string(d.substr(12)).c_str());
    } else {
      return reject(400, "invalid_request_error", "mock: unknown directive '" + std::string(d) + "'");
    }
  }

  // The answer.
  std::string text;
  std::string tool_name;
  std::string stop_reason = "end_turn";
  std::string stop_sequence;
  const bool want_tool = !tools.names.empty() && tools.choice_type != "none" && !conv.tool_result_turn;
  if (want_tool) {
    tool_name = tools.choice_type == "tool" ? tools.choice_name : tools.names.front();
    text = "calling " + tool_name;
    stop_reason = "tool_use";
  } else if (conv.tool_result_turn) {
    text = "tool results: " + conv.tool_results;
  } else {
    text = "mock reply to: " + utf8Prefix(conv.last_user_text, 40);
    if (conv.images > 0) text += " (" + std::to_string(conv.images) + " images)";
  }
  for (const auto& s : stops) {
    if (size_t at = text.find(s); !s.empty() && at != std::string::npos) {
      text.resize(at);
      stop_reason = "stop_sequence";
      stop_sequence = s;
      tool_name.clear();
    }
  }
  auto ws = words(text);
  if (static_cast<int64_t>(ws.size()) > max_tokens) {
    std::string cut;
    for (int64_t k = 0; k < max_tokens; ++k) cut += ws[k];
    text = cut;
    ws = words(text);
    stop_reason = "max_tokens";
    tool_name.clear();
  }
  std::string input = R"({"query":)";
  appendJsonString(input, utf8Prefix(conv.last_user_text, 40));
  input += '}';
  const int64_t in_tokens = (conv.text_bytes + 3) / 4;
  const int64_t out_tokens = static_cast<int64_t>(ws.size()) + (tool_name.empty() ? 0 : 5);
  const std::string msg_id = "msg_mock_" + std::to_string(id);
  std::string tool_id = "toolu_mock_" + std::to_string(id);

  auto usage = [&](bool with_input) {
    std::string u = R"({)";
    if (with_input) {
      u += R"("input_tokens":)" + std::to_string(in_tokens) + ",";
      if (cache_read) u += R"("cache_read_input_tokens":)" + std::to_string(cache_read) + ",";
      if (cache_write) u += R"("cache_creation_input_tokens":)" + std::to_string(cache_write) + ",";
    }
    u += R"("output_tokens":)" + std::to_string(out_tokens) + "}";
    return u;
  };
  auto stopSeq = [&] {
    if (stop_sequence.empty()) return std::string("null");
    return jsonString(stop_sequence);
  };
  if (!stream && garbage) {
    a.body = R"({"id":"msg_mock","type":"mess)";  // a 200 cut short
    return a;
  }
  if (!stream) {
    a.body = R"({"id":")" + msg_id + R"(","type":"message","role":"assistant","model":)" + jsonString(name) +
             R"(,"content":[)";
    bool first = true;
    if (!text.empty()) {
      a.body += R"({"type":"text","text":)" + jsonString(text) + "}";
      first = false;
    }
    if (!tool_name.empty()) {
      if (!first) a.body += ',';
      a.body += R"({"type":"tool_use","id":")" + tool_id + R"(","name":)" + jsonString(tool_name) + R"(,"input":)" +
                input + "}";
    }
    a.body += R"(],"stop_reason":)" + jsonString(stop_reason) + R"(,"stop_sequence":)" + stopSeq() + R"(,"usage":)" +
              usage(true) + "}";
    return a;
  }
  a.stream = true;
  event(a.events, "message_start",
        R"({"type":"message_start","message":{"id":")" + msg_id + R"(","type":"message","role":"assistant","model":)" +
            jsonString(name) + R"(,"content":[],"stop_reason":null,"stop_sequence":null,"usage":)" + usage(true) +
            "}}");
  if (bad_event) event(a.events, "content_block_start", "{not json");
  event(a.events, "ping", R"({"type":"ping"})");
  int index = 0;
  if (!text.empty()) {
    event(a.events, "content_block_start",
          R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})");
    for (auto w : ws) {
      event(a.events, "content_block_delta",
            R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":)" + jsonString(w) + "}}");
      if (cut_stream) return a;  // a complete HTTP body without message_stop
      if (stream_error) {
        event(a.events, "error", R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})");
        return a;
      }
    }
    event(a.events, "content_block_stop", R"({"type":"content_block_stop","index":0})");
    ++index;
  }
  if (!tool_name.empty()) {
    const std::string idx = std::to_string(index);
    event(a.events, "content_block_start",
          R"({"type":"content_block_start","index":)" + idx + R"(,"content_block":{"type":"tool_use","id":")" +
              tool_id + R"(","name":)" + jsonString(tool_name) + R"(,"input":{}}})");
    size_t half = input.size() / 2;
    for (std::string_view part : {std::string_view(input).substr(0, half), std::string_view(input).substr(half)})
      event(a.events, "content_block_delta",
            R"({"type":"content_block_delta","index":)" + idx +
                R"(,"delta":{"type":"input_json_delta","partial_json":)" + jsonString(part) + "}}");
    event(a.events, "content_block_stop", R"({"type":"content_block_stop","index":)" + idx + "}");
  }
  event(a.events, "message_delta",
        R"({"type":"message_delta","delta":{"stop_reason":)" + jsonString(stop_reason) + R"(,"stop_sequence":)" +
            stopSeq() + R"(},"usage":)" + usage(false) + "}");
  event(a.events, "message_stop", R"({"type":"message_stop"})");
  return a;
}

}  // namespace rightsize::fakes
