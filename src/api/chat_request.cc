#include "api/chat_request.h"

#include <charconv>

#include <simdjson.h>

#include "common/strings.h"

namespace rightsize::api {

namespace {

namespace dom = simdjson::dom;
namespace od = simdjson::ondemand;

// simdjson reads up to SIMDJSON_PADDING bytes past the end; reserve them instead of copying.
simdjson::padded_string_view padded(std::string& body) {
  if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING) body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  return simdjson::padded_string_view(body.data(), body.size(), body.capacity());
}

Result<std::string> contentText(dom::element content, size_t index) {
  std::string where = "messages[" + std::to_string(index) + "].content";
  if (content.is_null()) return std::string();
  if (content.is_string()) return std::string(std::string_view(content.get_string().value_unsafe()));
  if (content.is_array()) {
    std::string text;
    dom::array parts = content.get_array().value_unsafe();  // a copy: the result is a temporary
    for (dom::element part : parts) {
      if (!part.is_object()) return fail(ErrorCode::kInvalidArgument, where + ": each part must be an object");
      std::string_view type;
      if (part["type"].get(type) != simdjson::SUCCESS)
        return fail(ErrorCode::kInvalidArgument, where + ": each part needs a string 'type'");
      if (type == "text") {
        std::string_view t;
        if (part["text"].get(t) != simdjson::SUCCESS)
          return fail(ErrorCode::kInvalidArgument, where + ": a text part needs a string 'text'");
        if (!text.empty()) text.push_back('\n');
        text += t;
      }
      // image_url, input_audio, file, ...: forwarded untouched, not routed on.
    }
    return text;
  }
  return fail(ErrorCode::kInvalidArgument, where + ": must be a string, an array of parts, or null");
}

Result<RightsizeOptions> parseOptions(dom::element el) {
  if (!el.is_object()) return fail(ErrorCode::kInvalidArgument, "rightsize: must be an object");
  RightsizeOptions opt;
  dom::object fields = el.get_object().value_unsafe();
  for (auto [key, value] : fields) {
    if (key == "quality") {
      double q;
      if (value.get(q) != simdjson::SUCCESS || !(q > 0 && q <= 1))
        return fail(ErrorCode::kInvalidArgument, "rightsize.quality: must be a number in (0, 1]");
      opt.quality = q;
    } else if (key == "max_cost_usd") {
      double c;
      if (value.get(c) != simdjson::SUCCESS || !(c >= 0))
        return fail(ErrorCode::kInvalidArgument, "rightsize.max_cost_usd: must be a number >= 0");
      opt.max_cost_usd = c;
    } else if (key == "sensitive") {
      bool b;
      if (value.get(b) != simdjson::SUCCESS)
        return fail(ErrorCode::kInvalidArgument, "rightsize.sensitive: must be a boolean");
      opt.sensitive = b;
    } else if (key == "session") {
      std::string_view s;
      if (value.get(s) != simdjson::SUCCESS || s.size() > 256)
        return fail(ErrorCode::kInvalidArgument, "rightsize.session: must be a string of at most 256 bytes");
      opt.session = std::string(s);
    } else {
      return fail(ErrorCode::kInvalidArgument,
                  "rightsize: unknown option '" + std::string(key) + "' (known: quality, max_cost_usd, sensitive, session)");
    }
  }
  return opt;
}

std::optional<int64_t> positiveInt(dom::element el) {
  int64_t v;
  if (el.get(v) == simdjson::SUCCESS) return v;
  return std::nullopt;
}

// Raw JSON text of an ondemand value (objects and arrays whole; scalars as their token).
simdjson::simdjson_result<std::string_view> rawValue(od::value v) {
  od::json_type t;
  if (auto err = v.type().get(t); err) return err;
  if (t == od::json_type::object) {
    od::object o;
    if (auto err = v.get_object().get(o); err) return err;
    return o.raw_json();
  }
  if (t == od::json_type::array) {
    od::array a;
    if (auto err = v.get_array().get(a); err) return err;
    return a.raw_json();
  }
  std::string_view tok = v.raw_json_token();
  return trim(tok);
}

}  // namespace

Result<ChatRequest> parseChatRequest(std::string& body) {
  thread_local dom::parser parser;
  dom::element root;
  if (auto err = parser.parse(padded(body)).get(root))
    return fail(ErrorCode::kMalformedJson, std::string("request body is not valid JSON: ") + simdjson::error_message(err));
  if (!root.is_object()) return fail(ErrorCode::kInvalidArgument, "request body must be a JSON object");
  dom::object obj = root.get_object().value_unsafe();

  ChatRequest req;
  bool have_model = false, have_messages = false;
  std::optional<int64_t> max_tokens, max_completion_tokens;
  for (auto [key, value] : obj) {
    if (key == "model") {
      std::string_view m;
      if (value.get(m) != simdjson::SUCCESS || m.empty())
        return fail(ErrorCode::kInvalidArgument, "'model' must be a non-empty string");
      req.model = std::string(m);
      have_model = true;
    } else if (key == "messages") {
      dom::array arr;
      if (value.get(arr) != simdjson::SUCCESS)
        return fail(ErrorCode::kInvalidArgument, "'messages' must be an array");
      size_t i = 0;
      for (dom::element m : arr) {
        if (!m.is_object())
          return fail(ErrorCode::kInvalidArgument, "messages[" + std::to_string(i) + "] must be an object");
        std::string_view role;
        if (m["role"].get(role) != simdjson::SUCCESS)
          return fail(ErrorCode::kInvalidArgument, "messages[" + std::to_string(i) + "].role must be a string");
        ChatMessage msg;
        msg.role = std::string(role);
        dom::element content;
        if (m["content"].get(content) == simdjson::SUCCESS) {
          auto text = contentText(content, i);
          if (!text) return fail(text.error());
          msg.text = std::move(*text);
        } else if (role == "user" || role == "system" || role == "developer") {
          return fail(ErrorCode::kInvalidArgument, "messages[" + std::to_string(i) + "].content is required");
        }
        req.content_chars += msg.text.size();
        req.messages.push_back(std::move(msg));
        ++i;
      }
      if (req.messages.empty()) return fail(ErrorCode::kInvalidArgument, "'messages' must not be empty");
      have_messages = true;
    } else if (key == "stream") {
      if (!value.is_null()) {
        bool s;
        if (value.get(s) != simdjson::SUCCESS) return fail(ErrorCode::kInvalidArgument, "'stream' must be a boolean");
        req.stream = s;
      }
    } else if (key == "stream_options") {
      if (value.is_object()) {
        bool iu = false;
        if (value["include_usage"].get(iu) == simdjson::SUCCESS) req.include_usage = iu;
      } else if (!value.is_null()) {
        return fail(ErrorCode::kInvalidArgument, "'stream_options' must be an object");
      }
    } else if (key == "max_tokens") {
      max_tokens = positiveInt(value);
    } else if (key == "max_completion_tokens") {
      max_completion_tokens = positiveInt(value);
    } else if (key == "rightsize") {
      auto opt = parseOptions(value);
      if (!opt) return fail(opt.error());
      req.rightsize = std::move(*opt);
    } else if (key == "metadata") {
      if (value.is_object()) {
        dom::object meta = value.get_object().value_unsafe();  // a copy: the result is a temporary
        for (auto [mk, mv] : meta) {
          std::string_view sv;
          if (mv.get(sv) == simdjson::SUCCESS) req.metadata.emplace_back(std::string(mk), std::string(sv));
        }
      }
    } else if (key == "user") {
      std::string_view u;
      if (value.get(u) == simdjson::SUCCESS) req.user = std::string(u);
    } else if (key == "response_format") {
      dom::element schema;
      if (value.is_object() && value.at_pointer("/json_schema/schema").get(schema) == simdjson::SUCCESS &&
          schema.is_object())
        req.response_schema = simdjson::minify(schema);
    }
  }
  if (!have_model) return fail(ErrorCode::kInvalidArgument, "'model' is required");
  if (!have_messages) return fail(ErrorCode::kInvalidArgument, "'messages' is required");
  req.max_tokens = max_completion_tokens ? max_completion_tokens : max_tokens;
  return req;
}

Result<std::string> rewriteChatRequest(std::string& body, const Rewrite& rw) {
  thread_local od::parser parser;
  od::document doc;
  if (auto err = parser.iterate(padded(body)).get(doc); err)
    return fail(ErrorCode::kMalformedJson, std::string("request body is not valid JSON: ") + simdjson::error_message(err));
  od::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) return fail(ErrorCode::kInvalidArgument, "request body must be a JSON object");

  std::string out;
  out.reserve(body.size() + 64);
  out.push_back('{');
  bool first = true;
  bool saw_stream_options = false;
  bool capped = false;
  bool saw_logprobs = false;
  bool saw_effort = false;
  // Keys are written re-escaped from their unescaped form, straight into `out`.
  auto name = [&](std::string_view key) {
    if (!first) out.push_back(',');
    first = false;
    appendJsonString(out, key);
    out.push_back(':');
  };
  auto field = [&](std::string_view key, std::string_view value_raw) {
    name(key);
    out += value_raw;
  };
  for (auto f : obj) {
    std::string_view key;
    if (f.unescaped_key().get(key) != simdjson::SUCCESS) return fail(ErrorCode::kMalformedJson, "bad object key");
    od::value v;
    if (f.value().get(v) != simdjson::SUCCESS) return fail(ErrorCode::kMalformedJson, "bad value");
    std::string_view raw;
    if (rawValue(v).get(raw) != simdjson::SUCCESS) return fail(ErrorCode::kMalformedJson, "bad value for '" + std::string(key) + "'");
    if (key == "rightsize") continue;
    if (rw.force_non_stream && key == "stream_options") continue;
    if (rw.force_non_stream && key == "stream") {
      field(key, "false");
    } else if (rw.request_logprobs && key == "logprobs") {
      saw_logprobs = true;
      field(key, "true");
    } else if (!rw.reasoning_effort_cap.empty() && key == "reasoning_effort") {
      saw_effort = true;
      // Effort values are plain words: the raw token between its quotes is the value.
      const bool is_str = raw.size() >= 2 && raw.front() == '"' && raw.back() == '"';
      const int have = is_str ? reasoningEffortRank(raw.substr(1, raw.size() - 2)) : -1;
      if (have >= 0 && have <= reasoningEffortRank(rw.reasoning_effort_cap)) {
        field(key, raw);
      } else {
        name(key);
        appendJsonString(out, rw.reasoning_effort_cap);
      }
    } else if (key == "model") {
      name(key);
      appendJsonString(out, rw.model_id);
    } else if (key == "stream_options" && rw.force_include_usage) {
      saw_stream_options = true;
      field(key, "{\"include_usage\":true}");
    } else if ((key == "max_tokens" || key == "max_completion_tokens") && rw.max_tokens_cap) {
      capped = true;
      int64_t n = *rw.max_tokens_cap;
      int64_t v_int = 0;
      auto parsed = std::from_chars(raw.data(), raw.data() + raw.size(), v_int);
      if (parsed.ec == std::errc() && v_int > 0 && v_int < n) n = v_int;
      field(key, std::to_string(n));
    } else {
      field(key, raw);
    }
  }
  if (rw.force_include_usage && !saw_stream_options) field("stream_options", "{\"include_usage\":true}");
  if (rw.max_tokens_cap && !capped) field("max_completion_tokens", std::to_string(*rw.max_tokens_cap));
  if (rw.request_logprobs && !saw_logprobs) field("logprobs", "true");
  if (!rw.reasoning_effort_cap.empty() && !saw_effort) {
    name("reasoning_effort");
    appendJsonString(out, rw.reasoning_effort_cap);
  }
  out.push_back('}');
  return out;
}

int reasoningEffortRank(std::string_view effort) {
  static constexpr std::string_view kOrder[] = {"none", "minimal", "low", "medium", "high"};
  for (size_t i = 0; i < std::size(kOrder); ++i)
    if (kOrder[i] == effort) return static_cast<int>(i);
  return -1;
}

}  // namespace rightsize::api
