#include "api/responses.h"

#include <simdjson.h>

#include <algorithm>

#include "api/anthropic_common.h"
#include "api/errors.h"
#include "common/ids.h"
#include "common/strings.h"

namespace rightsize::api {

namespace {

namespace dom = simdjson::dom;
using anthropic_json::appendValue;
using anthropic_json::stringField;
using Item = ChatToResponsesStream::Item;


bool present(dom::element obj, std::string_view key, dom::element& el) {
  return obj[key].get(el) == simdjson::SUCCESS && !el.is_null();
}

// Appends `,"key":` to out.
void key(std::string& out, std::string_view k) {
  out += ',';
  appendJsonString(out, k);
  out += ':';
}

// An input_image part → a Chat Completions image_url part.
Result<void> appendImagePart(std::string& out, dom::element part, const std::string& where) {
  std::string_view url;
  if (part["image_url"].get(url) != simdjson::SUCCESS) {
    dom::element el;
    if (present(part, "file_id", el))
      return badRequest(where + ".file_id: uploaded files are not supported by the gateway (send image_url)");
    return badRequest(where + ".image_url: required string (a URL or a data: URL)");
  }
  out += R"({"type":"image_url","image_url":{"url":)";
  appendJsonString(out, url);
  std::string_view detail;
  if (part["detail"].get(detail) == simdjson::SUCCESS) {
    out += R"(,"detail":)";
    appendJsonString(out, detail);
  }
  out += "}}";
  return {};
}

// The parts of a message's content list. `text` gets the text parts joined (for assistant turns
// and plain-text turns), `parts` the Chat Completions parts (user turns); `only_text` is true when
// every part is text.
struct Content {
  std::string text;
  std::string parts;
  size_t text_parts = 0;
  bool only_text = true;
};

Result<Content> messageContent(dom::element content, std::string_view role, const std::string& where) {
  Content c;
  std::string_view s;
  if (content.get(s) == simdjson::SUCCESS) {
    c.text = std::string(s);
    c.text_parts = 1;
    return c;
  }
  dom::array parts;
  if (content.get(parts) != simdjson::SUCCESS) return badRequest(where + ": must be a string or an array of content parts");
  size_t i = 0;
  for (dom::element p : parts) {
    const std::string w = where + "[" + std::to_string(i++) + "]";
    if (!p.is_object()) return badRequest(w + ": must be an object");
    std::string_view type = stringField(p, "type");
    if (type == "input_text" || type == "output_text" || type == "text" || type == "refusal") {
      std::string_view t;
      const char* field = type == "refusal" ? "refusal" : "text";
      if (p[field].get(t) != simdjson::SUCCESS)
        return badRequest(w + "." + field + ": required string for a " + std::string(type) + " part");
      if (role == "assistant" || role == "system" || role == "developer") {
        c.text += t;
      } else {
        if (!c.parts.empty()) c.parts += ',';
        c.parts += R"({"type":"text","text":)";
        appendJsonString(c.parts, t);
        c.parts += '}';
        if (c.text_parts == 0) c.text = std::string(t);
      }
      ++c.text_parts;
    } else if (type == "input_image") {
      if (role != "user") return badRequest(w + ": input_image parts are only supported in user messages");
      if (!c.parts.empty()) c.parts += ',';
      if (auto r = appendImagePart(c.parts, p, w); !r) return fail(r.error());
      c.only_text = false;
    } else if (type == "input_file" || type == "input_audio") {
      return badRequest(w + ".type: '" + std::string(type) + "' parts are not supported by the gateway");
    } else {
      return badRequest(w + ".type: unknown content part type '" + std::string(type) +
                 "' (input_text, output_text, refusal, input_image)");
    }
  }
  return c;
}

// Builds the Chat Completions `messages` array. Consecutive function_call items (and the assistant
// text before them) become one assistant message with tool_calls.
class MessageList {
 public:
  explicit MessageList(std::string& out) : out_(out) {}

  void message(std::string_view role, std::string_view json_content) {
    flushAssistant();
    sep();
    out_ += R"({"role":)";
    appendJsonString(out_, role);
    out_ += R"(,"content":)";
    out_ += json_content;
    out_ += '}';
  }
  void assistantText(std::string_view text) {
    if (pending_ && !calls_.empty()) flushAssistant();
    pending_ = true;
    text_ += text;
  }
  void toolCall(std::string_view call_id, std::string_view name, std::string_view arguments) {
    pending_ = true;
    if (!calls_.empty()) calls_ += ',';
    calls_ += R"({"id":)";
    appendJsonString(calls_, call_id);
    calls_ += R"(,"type":"function","function":{"name":)";
    appendJsonString(calls_, name);
    calls_ += R"(,"arguments":)";
    appendJsonString(calls_, arguments);
    calls_ += "}}";
  }
  void toolOutput(std::string_view call_id, std::string_view text) {
    flushAssistant();
    sep();
    out_ += R"({"role":"tool","tool_call_id":)";
    appendJsonString(out_, call_id);
    out_ += R"(,"content":)";
    appendJsonString(out_, text);
    out_ += '}';
  }
  void flushAssistant() {
    if (!pending_) return;
    pending_ = false;
    sep();
    out_ += R"({"role":"assistant","content":)";
    if (text_.empty() && !calls_.empty())
      out_ += "null";
    else
      appendJsonString(out_, text_);
    if (!calls_.empty()) {
      out_ += R"(,"tool_calls":[)";
      out_ += calls_;
      out_ += ']';
    }
    out_ += '}';
    text_.clear();
    calls_.clear();
  }
  bool empty() const { return empty_; }

 private:
  void sep() {
    if (!empty_) out_ += ',';
    empty_ = false;
  }
  std::string& out_;
  bool empty_ = true;
  bool pending_ = false;
  std::string text_;
  std::string calls_;
};

// Appends one input item to `msgs`; with `record`, also its JSON (a referenced item resolved),
// comma-separated, for the stored conversation.
Result<void> appendItem(MessageList& msgs, dom::element item, size_t index, const ResponseItemStore* store,
                        std::string* record = nullptr) {
  const std::string where = "input[" + std::to_string(index) + "]";
  if (!item.is_object()) return badRequest(where + ": must be an object");
  std::string_view type = stringField(item, "type", "message");
  if (record && type != "item_reference") {
    if (!record->empty()) *record += ',';
    *record += simdjson::minify(item);
  }
  if (type == "item_reference" && store) {
    std::string_view id;
    if (item["id"].get(id) != simdjson::SUCCESS) return badRequest(where + ".id: required string");
    auto stored = store->get(id);
    if (!stored)
      return badRequest(where + ".id: item '" + std::string(id) +
                 "' is not (or no longer) kept by this gateway; send the item itself");
    // A separate parser: `item` lives in the request's document. Stored items are outputs
    // (message, function_call), never references, so this recursion ends here.
    thread_local dom::parser ref_parser;
    dom::element ref;
    if (ref_parser.parse(*stored).get(ref) != simdjson::SUCCESS) return badRequest(where + ".id: stored item is unreadable");
    return appendItem(msgs, ref, index, nullptr, record);
  }
  if (type == "message") {
    std::string_view role = stringField(item, "role");
    if (role != "user" && role != "assistant" && role != "system" && role != "developer")
      return badRequest(where + ".role: must be user, assistant, system or developer");
    dom::element content;
    if (item["content"].get(content) != simdjson::SUCCESS || content.is_null())
      return badRequest(where + ".content: required");
    auto c = messageContent(content, role, where + ".content");
    if (!c) return fail(c.error());
    if (role == "assistant") {
      msgs.assistantText(c->text);
      return {};
    }
    std::string json;
    if (role == "user" && (!c->only_text || c->text_parts != 1) && !c->parts.empty()) {
      json = "[" + c->parts + "]";
    } else {
      appendJsonString(json, c->text);
    }
    // developer is OpenAI's newer name for system; system travels to every provider kind.
    msgs.message(role == "user" ? "user" : "system", json);
    return {};
  }
  if (type == "function_call") {
    std::string_view call_id, name, arguments;
    if (item["call_id"].get(call_id) != simdjson::SUCCESS || item["name"].get(name) != simdjson::SUCCESS)
      return badRequest(where + ": a function_call item needs string 'call_id' and 'name'");
    if (item["arguments"].get(arguments) != simdjson::SUCCESS) return badRequest(where + ".arguments: required string");
    msgs.toolCall(call_id, name, arguments);
    return {};
  }
  if (type == "function_call_output") {
    std::string_view call_id;
    if (item["call_id"].get(call_id) != simdjson::SUCCESS) return badRequest(where + ".call_id: required string");
    dom::element output;
    if (item["output"].get(output) != simdjson::SUCCESS) return badRequest(where + ".output: required");
    std::string_view s;
    if (output.get(s) == simdjson::SUCCESS) {
      msgs.toolOutput(call_id, s);
      return {};
    }
    dom::array parts;
    if (output.get(parts) != simdjson::SUCCESS) return badRequest(where + ".output: must be a string or an array of input_text parts");
    std::string text;
    size_t i = 0;
    for (dom::element p : parts) {
      std::string_view t;
      if (stringField(p, "type") != "input_text" || p["text"].get(t) != simdjson::SUCCESS)
        return badRequest(where + ".output[" + std::to_string(i) + "]: only input_text parts are supported in a function_call_output");
      if (!text.empty()) text += '\n';
      text += t;
      ++i;
    }
    msgs.toolOutput(call_id, text);
    return {};
  }
  if (type == "reasoning") return {};  // the model's own reasoning, replayed: not part of the conversation upstream
  if (type == "item_reference")
    return badRequest(where + ".type: item_reference needs stored responses, which the gateway does not keep");
  return badRequest(where + ".type: '" + std::string(type) +
             "' is not supported (message, function_call, function_call_output, reasoning)");
}

Result<void> appendTools(std::string& out, dom::element el) {
  dom::array tools;
  if (el.get(tools) != simdjson::SUCCESS) return badRequest("tools: must be an array");
  if (tools.size() == 0) return {};
  out += R"(,"tools":[)";
  size_t i = 0;
  for (dom::element t : tools) {
    const std::string w = "tools[" + std::to_string(i) + "]";
    if (!t.is_object()) return badRequest(w + ": must be an object");
    std::string_view type = stringField(t, "type");
    if (type != "function")
      return badRequest(w + ".type: '" + std::string(type) +
                 "' is a built-in tool the gateway cannot run; only function tools are supported");
    std::string_view name;
    if (t["name"].get(name) != simdjson::SUCCESS || name.empty()) return badRequest(w + ".name: required string");
    if (i++ > 0) out += ',';
    out += R"({"type":"function","function":{"name":)";
    appendJsonString(out, name);
    dom::element v;
    if (present(t, "description", v)) {
      if (!v.is_string()) return badRequest(w + ".description: must be a string");
      key(out, "description");
      appendValue(out, v);
    }
    if (present(t, "parameters", v)) {
      if (!v.is_object()) return badRequest(w + ".parameters: must be an object");
      key(out, "parameters");
      appendValue(out, v);
    }
    if (present(t, "strict", v)) {
      if (!v.is_bool()) return badRequest(w + ".strict: must be a boolean");
      key(out, "strict");
      appendValue(out, v);
    }
    out += "}}";
  }
  out += ']';
  return {};
}

Result<void> appendToolChoice(std::string& out, dom::element el) {
  std::string_view s;
  key(out, "tool_choice");
  if (el.get(s) == simdjson::SUCCESS) {
    if (s != "auto" && s != "none" && s != "required") return badRequest("tool_choice: must be auto, none or required");
    appendJsonString(out, s);
    return {};
  }
  if (!el.is_object()) return badRequest("tool_choice: must be a string or an object");
  std::string_view type = stringField(el, "type");
  if (type != "function")
    return badRequest("tool_choice.type: '" + std::string(type) + "' is not supported (only function tools exist at the gateway)");
  std::string_view name;
  if (el["name"].get(name) != simdjson::SUCCESS) return badRequest("tool_choice.name: required string");
  out += R"({"type":"function","function":{"name":)";
  appendJsonString(out, name);
  out += "}}";
  return {};
}

Result<void> appendTextFormat(std::string& out, dom::element text) {
  if (!text.is_object()) return badRequest("text: must be an object");
  dom::element v;
  if (present(text, "verbosity", v)) {
    if (!v.is_string()) return badRequest("text.verbosity: must be a string");
    key(out, "verbosity");
    appendValue(out, v);
  }
  dom::element format;
  if (!present(text, "format", format)) return {};
  if (!format.is_object()) return badRequest("text.format: must be an object");
  std::string_view type = stringField(format, "type");
  if (type == "text") return {};
  if (type == "json_object") {
    out += R"(,"response_format":{"type":"json_object"})";
    return {};
  }
  if (type != "json_schema") return badRequest("text.format.type: must be text, json_object or json_schema");
  std::string_view name;
  if (format["name"].get(name) != simdjson::SUCCESS) return badRequest("text.format.name: required string for json_schema");
  dom::element schema;
  if (!present(format, "schema", schema) || !schema.is_object())
    return badRequest("text.format.schema: required object for json_schema");
  out += R"(,"response_format":{"type":"json_schema","json_schema":{"name":)";
  appendJsonString(out, name);
  if (present(format, "description", v)) {
    key(out, "description");
    appendValue(out, v);
  }
  key(out, "schema");
  appendValue(out, schema);
  if (present(format, "strict", v)) {
    if (!v.is_bool()) return badRequest("text.format.strict: must be a boolean");
    key(out, "strict");
    appendValue(out, v);
  }
  out += "}}";
  return {};
}

// Top-level fields the gateway reads below; anything else is refused (see responsesRequestToChat).
constexpr std::string_view kKnownFields[] = {
    "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "max_output_tokens",
    "temperature", "top_p", "text", "reasoning", "metadata", "user", "stream", "store", "previous_response_id",
    "include", "truncation", "service_tier", "safety_identifier", "prompt_cache_key", "prompt_cache_retention",
    "background",
    "conversation", "prompt", "rightsize", "stream_options"};

}  // namespace

std::string previousResponseId(std::string_view body) {
  thread_local dom::parser parser;
  dom::element root;
  std::string_view id;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS ||
      root["previous_response_id"].get(id) != simdjson::SUCCESS)
    return {};
  return std::string(id);
}

std::string conversationAfter(std::string_view input_items, std::string_view response_json, std::string* id) {
  thread_local dom::parser parser;
  std::string out(input_items.empty() ? std::string_view("[]") : input_items);
  out.pop_back();  // the closing ']'
  bool first = out.size() == 1;
  dom::array output;
  dom::element root;
  std::string_view rid;
  const bool parsed = parser.parse(response_json.data(), response_json.size()).get(root) == simdjson::SUCCESS &&
                      root.is_object();
  if (parsed && id && root["id"].get(rid) == simdjson::SUCCESS) *id = std::string(rid);
  if (parsed && root["output"].get(output) == simdjson::SUCCESS) {
    for (dom::element item : output) {
      if (!first) out += ',';
      first = false;
      out += simdjson::minify(item);
    }
  }
  out += ']';
  return out;
}

Result<std::string> responsesRequestToChat(std::string_view body, const ResponseItemStore* store) {
  auto turn = translateResponsesRequest(body, store, std::nullopt);
  if (!turn) return fail(turn.error());
  return std::move(turn->chat);
}

Result<ResponsesTurn> translateResponsesRequest(std::string_view body, const ResponseItemStore* store,
                                                std::optional<std::string_view> previous) {
  ResponsesTurn turn;
  thread_local dom::parser parser;
  dom::element root;
  if (auto err = parser.parse(body.data(), body.size()).get(root))
    return fail(ErrorCode::kMalformedJson,
                std::string("request body is not valid JSON: ") + simdjson::error_message(err));
  dom::object obj;
  if (root.get(obj) != simdjson::SUCCESS) return badRequest("request body must be a JSON object");
  for (auto field : obj) {
    if (std::find(std::begin(kKnownFields), std::end(kKnownFields), field.key) == std::end(kKnownFields))
      return badRequest(std::string(field.key) + ": unknown or unsupported parameter");
  }
  dom::element el;
  // What needs state the gateway does not keep, or work it does not do: refused, never dropped.
  if (present(root, "previous_response_id", el)) {
    if (!el.is_string()) return badRequest("previous_response_id: must be a string");
    if (!previous)
      return badRequest("previous_response_id: this gateway keeps no responses (ledger off or ledger.store_responses "
                 "false); send the whole conversation in input");
  }
  if (present(root, "conversation", el)) return badRequest("conversation: stored conversations are not supported by the gateway");
  if (present(root, "prompt", el)) return badRequest("prompt: stored prompt templates are not supported by the gateway");
  bool flag = false;
  if (present(root, "store", el)) {
    if (el.get(flag) != simdjson::SUCCESS || (flag && !store))
      return badRequest("store: must be false; the gateway does not store responses");
    turn.store = flag;
  }
  if (present(root, "background", el) && (el.get(flag) != simdjson::SUCCESS || flag))
    return badRequest("background: background responses are not supported by the gateway");
  if (present(root, "include", el)) {
    dom::array inc;
    if (el.get(inc) != simdjson::SUCCESS) return badRequest("include: must be an array");
    if (inc.size() > 0) return badRequest("include: extra output data is not supported by the gateway (send an empty list)");
  }
  if (present(root, "truncation", el)) {
    std::string_view t;
    if (el.get(t) != simdjson::SUCCESS || t != "disabled")
      return badRequest("truncation: only 'disabled' is supported by the gateway");
  }

  std::string_view model;
  if (root["model"].get(model) != simdjson::SUCCESS || model.empty()) return badRequest("model: required non-empty string");
  std::string out = R"({"model":)";
  appendJsonString(out, model);
  out += R"(,"messages":[)";
  MessageList msgs(out);
  if (present(root, "instructions", el)) {
    std::string_view s;
    if (el.get(s) != simdjson::SUCCESS) return badRequest("instructions: must be a string");
    if (!s.empty()) {
      std::string json;
      appendJsonString(json, s);
      msgs.message("system", json);
    }
  }
  // The stored conversation of previous_response_id comes first (its instructions are not
  // carried over, as at OpenAI); `record` collects the items that this turn's answer continues.
  std::string record;
  if (previous && !previous->empty() && present(root, "previous_response_id", el)) {
    thread_local dom::parser prev_parser;  // `root` lives in `parser`'s document
    dom::array prior;
    if (prev_parser.parse(previous->data(), previous->size()).get(prior) != simdjson::SUCCESS)
      return fail(ErrorCode::kCorruptData, "previous_response_id: the stored conversation is unreadable");
    size_t i = 0;
    for (dom::element item : prior) {
      if (auto r = appendItem(msgs, item, i++, nullptr, &record); !r) {
        Error e = r.error();
        e.message = "previous_response_id: stored " + e.message;
        return fail(std::move(e));
      }
    }
  }
  dom::element input;
  if (!present(root, "input", input)) return badRequest("input: required (a string or an array of items)");
  std::string_view input_text;
  dom::array items;
  if (input.get(input_text) == simdjson::SUCCESS) {
    std::string json;
    appendJsonString(json, input_text);
    msgs.message("user", json);
    if (!record.empty()) record += ',';
    record += R"({"type":"message","role":"user","content":)";
    record += json;
    record += '}';
  } else if (input.get(items) == simdjson::SUCCESS) {
    if (items.size() == 0) return badRequest("input: must not be empty");
    size_t i = 0;
    for (dom::element item : items) {
      if (auto r = appendItem(msgs, item, i++, store, &record); !r) return fail(r.error());
    }
  } else {
    return badRequest("input: must be a string or an array of items");
  }
  turn.input_items = "[" + record + "]";
  msgs.flushAssistant();
  if (msgs.empty()) return badRequest("input: no message to send");
  out += ']';

  if (present(root, "max_output_tokens", el)) {
    int64_t n = 0;
    if (el.get(n) != simdjson::SUCCESS || n < 1) return badRequest("max_output_tokens: must be a positive integer");
    out += R"(,"max_completion_tokens":)";
    out += std::to_string(n);
  }
  if (present(root, "stream", el)) {
    bool stream = false;
    if (el.get(stream) != simdjson::SUCCESS) return badRequest("stream: must be a boolean");
    if (stream) out += R"(,"stream":true,"stream_options":{"include_usage":true})";
  }
  for (std::string_view k : {"temperature", "top_p"}) {
    if (present(root, k, el)) {
      if (!el.is_number()) return badRequest(std::string(k) + ": must be a number");
      key(out, k);
      appendValue(out, el);
    }
  }
  bool have_tools = false;
  if (present(root, "tools", el)) {
    if (auto r = appendTools(out, el); !r) return fail(r.error());
    have_tools = out.find(R"(,"tools":[)") != std::string::npos;
  }
  if (present(root, "tool_choice", el) && have_tools) {
    if (auto r = appendToolChoice(out, el); !r) return fail(r.error());
  }
  if (present(root, "parallel_tool_calls", el) && have_tools) {
    if (!el.is_bool()) return badRequest("parallel_tool_calls: must be a boolean");
    key(out, "parallel_tool_calls");
    appendValue(out, el);
  }
  if (present(root, "text", el)) {
    if (auto r = appendTextFormat(out, el); !r) return fail(r.error());
  }
  if (present(root, "reasoning", el)) {
    if (!el.is_object()) return badRequest("reasoning: must be an object");
    dom::element effort;
    if (present(el, "effort", effort)) {
      if (!effort.is_string()) return badRequest("reasoning.effort: must be a string");
      key(out, "reasoning_effort");
      appendValue(out, effort);
    }
  }
  if (present(root, "metadata", el)) {
    if (!el.is_object()) return badRequest("metadata: must be an object");
    key(out, "metadata");
    appendValue(out, el);
  }
  for (std::string_view k : {"user", "safety_identifier", "prompt_cache_key", "prompt_cache_retention", "service_tier"}) {
    if (present(root, k, el)) {
      if (!el.is_string()) return badRequest(std::string(k) + ": must be a string");
      key(out, k);
      appendValue(out, el);
    }
  }
  if (present(root, "rightsize", el)) {
    key(out, "rightsize");
    appendValue(out, el);
  }
  out += '}';
  turn.chat = std::move(out);
  return turn;
}

// ---------------------------------------------------------------------------------------------
namespace {

// A new response id: 128 random bits, never the upstream's completion id (local servers and the
// replay provider repeat theirs, and a stored response is looked up by this id).
std::string newResponseId() { return "resp_" + newRequestId(); }

void appendItemJson(std::string& out, const Item& item, bool done) {
  const char* status = done ? "completed" : "in_progress";
  if (item.function_call) {
    out += R"({"type":"function_call","id":)";
    appendJsonString(out, item.id);
    out += R"(,"call_id":)";
    appendJsonString(out, item.call_id);
    out += R"(,"name":)";
    appendJsonString(out, item.name);
    out += R"(,"arguments":)";
    appendJsonString(out, done ? std::string_view(item.text) : std::string_view());
    out += R"(,"status":")";
    out += status;
    out += "\"}";
    return;
  }
  out += R"({"type":"message","id":)";
  appendJsonString(out, item.id);
  out += R"(,"status":")";
  out += status;
  out += R"(","role":"assistant","content":[)";
  if (done) {
    out += R"({"type":"output_text","text":)";
    appendJsonString(out, item.text);
    out += R"(,"annotations":[],"logprobs":[]})";
  }
  out += "]}";
}

// The status of a finished response and the reason it is incomplete ("" when complete).
std::string_view incompleteReason(std::string_view finish_reason) {
  if (finish_reason == "length") return "max_output_tokens";
  if (finish_reason == "content_filter") return "content_filter";
  return {};
}

// A whole `response` object. `usage` null → "usage": null; `status` in_progress shows no output.
void appendResponse(std::string& out, std::string_view response_id, int64_t created, std::string_view model,
                    std::string_view status, std::string_view incomplete_reason, const std::vector<Item>& items,
                    const Usage* usage, const ResponseEcho& echo) {
  out += R"({"id":)";
  appendJsonString(out, response_id);
  out += R"(,"object":"response","created_at":)";
  out += std::to_string(created);
  out += R"(,"status":)";
  appendJsonString(out, status);
  out += R"(,"background":false,"error":null,"incomplete_details":)";
  if (incomplete_reason.empty()) {
    out += "null";
  } else {
    out += R"({"reason":)";
    appendJsonString(out, incomplete_reason);
    out += '}';
  }
  out += R"(,"instructions":null,"max_output_tokens":null,"model":)";
  appendJsonString(out, model);
  out += R"(,"output":[)";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    appendItemJson(out, items[i], true);
  }
  out += R"(],"parallel_tool_calls":true,"previous_response_id":)";
  if (echo.previous_response_id.empty()) out += "null"; else appendJsonString(out, echo.previous_response_id);
  out += R"(,"reasoning":{"effort":null,"summary":null},"store":)";
  out += echo.store ? "true" : "false";
  out += R"(,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"truncation":"disabled","usage":)";
  if (!usage) {
    out += "null";
  } else {
    out += R"({"input_tokens":)";
    out += std::to_string(usage->prompt_tokens);
    out += R"(,"input_tokens_details":{"cached_tokens":)";
    out += std::to_string(usage->cached_tokens);
    out += R"(},"output_tokens":)";
    out += std::to_string(usage->completion_tokens);
    out += R"(,"output_tokens_details":{"reasoning_tokens":)";
    out += std::to_string(usage->reasoning_tokens);
    out += R"(},"total_tokens":)";
    out += std::to_string(usage->prompt_tokens + usage->completion_tokens);
    out += '}';
  }
  out += R"(,"user":null,"metadata":{}})";
}

// Output item ids are random (128 bits), not derived from the upstream's ids: an id is what
// item_reference presents to ResponseItemStore, so it must not be guessable by another caller.
std::string itemId(std::string_view prefix) { return std::string(prefix) + newRequestId(); }

}  // namespace

std::string responsesErrorBody(const Error& e) {
  // Request errors name their field first ("tools[0].type: ...", "previous_response_id: no
  // response ..."): that is OpenAI's `param`.
  std::string_view param;
  if (e.code == ErrorCode::kInvalidArgument || e.code == ErrorCode::kNotFound) {
    std::string_view m = e.message;
    size_t colon = m.find(": ");
    if (colon != std::string_view::npos && m.substr(0, colon).find(' ') == std::string_view::npos)
      param = m.substr(0, colon);
  }
  return errorBody(e, param);
}

Result<std::string> chatResponseToResponses(std::string_view body, const std::optional<Usage>& usage,
                                            const ResponseEcho& echo) {
  thread_local dom::parser parser;
  dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS || !root.is_object())
    return fail(ErrorCode::kUpstreamError, "upstream answer is not a JSON object");
  dom::element choice;
  if (root["choices"].at(0).get(choice) != simdjson::SUCCESS || !choice.is_object())
    return fail(ErrorCode::kUpstreamError, "upstream answer has no choices");
  dom::element message;
  if (choice["message"].get(message) != simdjson::SUCCESS || !message.is_object())
    return fail(ErrorCode::kUpstreamError, "upstream answer's choice has no message");
  std::vector<Item> items;
  std::string text;
  dom::element content;
  if (message["content"].get(content) == simdjson::SUCCESS) {
    std::string_view s;
    dom::array parts;
    if (content.get(s) == simdjson::SUCCESS) {
      text += s;
    } else if (content.get(parts) == simdjson::SUCCESS) {
      for (dom::element p : parts) text += stringField(p, "text");
    }
  }
  text += stringField(message, "refusal");
  if (!text.empty()) items.push_back(Item{false, itemId("msg_"), std::move(text), {}, {}, -1});
  dom::array calls;
  if (message["tool_calls"].get(calls) == simdjson::SUCCESS) {
    for (dom::element c : calls) {
      dom::element fn;
      const bool has_fn = c.is_object() && c["function"].get(fn) == simdjson::SUCCESS && fn.is_object();
      std::string call_id(stringField(c, "id", "call_" + std::to_string(items.size())));
      items.push_back(Item{true, itemId("fc_"),
                           std::string(has_fn ? stringField(fn, "arguments") : std::string_view()), call_id,
                           std::string(has_fn ? stringField(fn, "name") : std::string_view()), -1});
    }
  }
  int64_t created = 0;
  if (root["created"].get(created) != simdjson::SUCCESS) created = 0;
  const std::string_view reason = incompleteReason(stringField(choice, "finish_reason", "stop"));
  const Usage u = usage ? *usage : responseUsage(body).value_or(Usage{});
  std::string out;
  appendResponse(out, newResponseId(), created, stringField(root, "model"),
                 reason.empty() ? "completed" : "incomplete", reason, items, &u, echo);
  return out;
}

// ---------------------------------------------------------------------------------------------
ChatToResponsesStream::ChatToResponsesStream(ResponseEcho echo)
    : response_id_(newResponseId()), echo_(std::move(echo)) {}

void ChatToResponsesStream::event(std::string_view type, std::string body, std::string& out) {
  // body is a JSON object without its closing brace; type and sequence_number close it.
  out += "event: ";
  out += type;
  out += "\ndata: ";
  out += body;
  out += R"(,"type":)";
  appendJsonString(out, type);
  out += R"(,"sequence_number":)";
  out += std::to_string(seq_++);
  out += "}\n\n";
}

void ChatToResponsesStream::start(std::string& out) {
  started_ = true;
  for (std::string_view type : {"response.created", "response.in_progress"}) {
    std::string body = R"({"response":)";
    appendResponse(body, response_id_, created_, model_, "in_progress", {}, {}, nullptr, echo_);
    event(type, std::move(body), out);
  }
}

void ChatToResponsesStream::openItem(Item item, std::string& out) {
  closeItem(out);
  items_.push_back(std::move(item));
  open_ = true;
  const Item& it = items_.back();
  const std::string index = std::to_string(items_.size() - 1);
  std::string body = R"({"output_index":)" + index + R"(,"item":)";
  appendItemJson(body, it, false);
  event("response.output_item.added", std::move(body), out);
  if (!it.function_call) {
    body = R"({"item_id":)";
    appendJsonString(body, it.id);
    body += R"(,"output_index":)" + index + R"(,"content_index":0,"part":{"type":"output_text","text":"","annotations":[],"logprobs":[]})";
    event("response.content_part.added", std::move(body), out);
  }
}

void ChatToResponsesStream::closeItem(std::string& out) {
  if (!open_) return;
  open_ = false;
  const Item& it = items_.back();
  const std::string index = std::to_string(items_.size() - 1);
  std::string head = R"({"item_id":)";
  appendJsonString(head, it.id);
  head += R"(,"output_index":)" + index;
  if (it.function_call) {
    std::string body = head + R"(,"name":)";
    appendJsonString(body, it.name);
    body += R"(,"arguments":)";
    appendJsonString(body, it.text);
    event("response.function_call_arguments.done", std::move(body), out);
  } else {
    std::string body = head + R"(,"content_index":0,"text":)";
    appendJsonString(body, it.text);
    body += R"(,"logprobs":[])";
    event("response.output_text.done", std::move(body), out);
    body = head + R"(,"content_index":0,"part":{"type":"output_text","text":)";
    appendJsonString(body, it.text);
    body += R"(,"annotations":[],"logprobs":[]})";
    event("response.content_part.done", std::move(body), out);
  }
  std::string body = R"({"output_index":)" + index + R"(,"item":)";
  appendItemJson(body, it, true);
  event("response.output_item.done", std::move(body), out);
}

Result<void> ChatToResponsesStream::onChunk(std::string_view data, std::string& out) {
  thread_local dom::parser parser;
  dom::element root;
  if (parser.parse(data.data(), data.size()).get(root) != simdjson::SUCCESS || !root.is_object())
    return fail(ErrorCode::kUpstreamError, "upstream sent a stream event that is not JSON");
  dom::element err;
  if (root["error"].get(err) == simdjson::SUCCESS && !err.is_null()) {
    std::string_view msg = stringField(err, "message", "upstream stream error");
    return fail(ErrorCode::kUpstreamError, "upstream stream error: " + std::string(msg));
  }
  if (!started_) {
    id_ = std::string(stringField(root, "id"));
    model_ = std::string(stringField(root, "model"));
    if (root["created"].get(created_) != simdjson::SUCCESS) created_ = 0;
    start(out);
  }
  dom::element choice;
  if (root["choices"].at(0).get(choice) != simdjson::SUCCESS) return {};  // the usage chunk, or empty
  dom::element delta;
  if (choice["delta"].get(delta) == simdjson::SUCCESS && delta.is_object()) {
    std::string_view text = stringField(delta, "content");
    if (text.empty()) text = stringField(delta, "refusal");
    if (!text.empty()) {
      if (!open_ || items_.back().function_call) {
        openItem(Item{false, itemId("msg_"), {}, {}, {}, -1}, out);
      }
      Item& it = items_.back();
      it.text += text;
      std::string body = R"({"item_id":)";
      appendJsonString(body, it.id);
      body += R"(,"output_index":)" + std::to_string(items_.size() - 1) + R"(,"content_index":0,"delta":)";
      appendJsonString(body, text);
      body += R"(,"logprobs":[])";
      event("response.output_text.delta", std::move(body), out);
    }
    dom::array calls;
    if (delta["tool_calls"].get(calls) == simdjson::SUCCESS) {
      for (dom::element c : calls) {
        int64_t idx = 0;
        if (c["index"].get(idx) != simdjson::SUCCESS) idx = std::max<int64_t>(max_tool_index_, 0);
        dom::element fn;
        const bool has_fn = c["function"].get(fn) == simdjson::SUCCESS && fn.is_object();
        if (!open_ || !items_.back().function_call || items_.back().tool_index != idx) {
          if (idx <= max_tool_index_)
            return fail(ErrorCode::kUpstreamError,
                        "upstream interleaved tool call deltas (tool call " + std::to_string(idx) + " resumed)");
          std::string call_id(stringField(c, "id", "call_" + std::to_string(idx)));
          openItem(Item{true, itemId("fc_"), {}, call_id,
                        std::string(has_fn ? stringField(fn, "name") : std::string_view()), idx},
                   out);
          max_tool_index_ = idx;
        }
        std::string_view args = has_fn ? stringField(fn, "arguments") : std::string_view();
        if (!args.empty()) {
          Item& it = items_.back();
          it.text += args;
          std::string body = R"({"item_id":)";
          appendJsonString(body, it.id);
          body += R"(,"output_index":)" + std::to_string(items_.size() - 1) + R"(,"delta":)";
          appendJsonString(body, args);
          event("response.function_call_arguments.delta", std::move(body), out);
        }
      }
    }
  }
  std::string_view finish;
  if (choice["finish_reason"].get(finish) == simdjson::SUCCESS) {
    finish_reason_ = std::string(finish);
    closeItem(out);
  }
  return {};
}

void ChatToResponsesStream::finish(const Usage& usage, std::string& out) {
  if (!started_) start(out);
  closeItem(out);
  const std::string_view reason = incompleteReason(finish_reason_);
  appendResponse(final_response_, response_id_, created_, model_, reason.empty() ? "completed" : "incomplete",
                 reason, items_, &usage, echo_);
  std::string body = R"({"response":)" + final_response_;
  event(reason.empty() ? "response.completed" : "response.incomplete", std::move(body), out);
}

void ResponseItemStore::putOutput(std::string_view response_json) {
  thread_local dom::parser parser;
  dom::element root;
  dom::array output;
  if (parser.parse(response_json.data(), response_json.size()).get(root) != simdjson::SUCCESS ||
      root["output"].get(output) != simdjson::SUCCESS)
    return;
  std::lock_guard lock(mu_);
  for (dom::element item : output) {
    std::string_view id = stringField(item, "id");
    if (id.empty()) continue;
    std::string json = simdjson::minify(item);
    auto [it, fresh] = items_.try_emplace(std::string(id));
    if (!fresh) bytes_ -= it->second.size();
    else order_.push_back(it->first);
    bytes_ += json.size();
    it->second = std::move(json);
  }
  while (!order_.empty() && (order_.size() > max_items_ || bytes_ > max_bytes_)) {
    auto it = items_.find(order_.front());
    if (it != items_.end()) {
      bytes_ -= it->second.size();
      items_.erase(it);
    }
    order_.pop_front();
  }
}

std::optional<std::string> ResponseItemStore::get(std::string_view id) const {
  std::lock_guard lock(mu_);
  auto it = items_.find(std::string(id));
  if (it == items_.end()) return std::nullopt;
  return it->second;
}

std::string ChatToResponsesStream::errorEvent(const Error& e) {
  std::string body = R"({"code":)";
  appendJsonString(body, errorCodeName(e.code));
  body += R"(,"message":)";
  appendJsonString(body, e.message);
  body += R"(,"param":null)";
  std::string out;
  event("error", std::move(body), out);
  return out;
}

}  // namespace rightsize::api
