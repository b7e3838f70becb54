// valijson reports a bad schema by throwing (or, without this, by abort()): keep exceptions on
// and catch them here, at the edge.
#define VALIJSON_USE_EXCEPTIONS 1

#include "routing/checks.h"

#include <cctype>
#include <charconv>
#include <cmath>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <re2/re2.h>
#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "common/strings.h"

namespace rightsize::routing {

namespace json = boost::json;

namespace {

// Openings of refusals, lower case. Matched at the start of the answer (after whitespace and
// an optional "sorry"/"unfortunately"), so an answer that merely discusses refusing passes.
const re2::RE2& refusalPattern() {
  static const re2::RE2 kRe(
      R"((?i)^\s*(?:(?:i['’]?m |i am )?(?:so |very |really )?sorry[,.!]?\s*(?:but\s+)?|unfortunately,?\s*|)"
      R"(apologies[,.]?\s*(?:but\s+)?)?)"
      R"((?:i (?:can(?:no|['’])t|cannot|won['’]?t|will not) (?:help|assist|provide|comply|do that|fulfil|support|answer|share|create|generate|write|engage)|)"
      R"((?:i['’]?m|i am) (?:not able|unable|not allowed|not permitted) to|)"
      R"(as an ai\b|)"
      R"(i (?:must|have to) (?:decline|refuse)|)"
      R"(i['’]?m afraid i can(?:no|['’])t|)"
      R"(that(?:['’]s| is) not something i can))");
  return kRe;
}


}  // namespace

bool looksLikeRefusal(std::string_view text) {
  // Only the opening matters; don't scan a long answer.
  text = text.substr(0, 400);
  return re2::RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), refusalPattern());
}

Result<AnswerView> parseAnswer(std::string_view body) {
  json::error_code ec;
  json::value v = json::parse(json::string_view(body.data(), body.size()), ec);
  if (ec || !v.is_object()) return fail(ErrorCode::kCorruptData, "upstream answer is not a JSON object");
  const json::object& o = v.get_object();
  const json::value* choices = o.if_contains("choices");
  if (!choices || !choices->is_array() || choices->get_array().empty() || !choices->get_array()[0].is_object())
    return fail(ErrorCode::kCorruptData, "upstream answer has no choices");
  const json::object& c0 = choices->get_array()[0].get_object();
  AnswerView a;
  if (const json::value* msg = c0.if_contains("message"); msg && msg->is_object()) {
    const json::object& m = msg->get_object();
    if (const json::value* content = m.if_contains("content")) {
      if (content->is_string()) {
        a.text = std::string(content->get_string());
      } else if (content->is_array()) {
        for (const json::value& part : content->get_array()) {
          if (!part.is_object()) continue;
          const json::value* t = part.get_object().if_contains("text");
          if (t && t->is_string()) {
            if (!a.text.empty()) a.text.push_back('\n');
            a.text += std::string(t->get_string());
          }
        }
      }
    }
    if (const json::value* r = m.if_contains("refusal"); r && r->is_string() && !r->get_string().empty())
      a.refusal_field = true;
    if (const json::value* t = m.if_contains("tool_calls"); t && t->is_array() && !t->get_array().empty())
      a.has_tool_calls = true;
  } else {
    return fail(ErrorCode::kCorruptData, "upstream answer's first choice has no message");
  }
  if (const json::value* lp = c0.if_contains("logprobs"); lp && lp->is_object()) {
    if (const json::value* content = lp->get_object().if_contains("content"); content && content->is_array()) {
      double sum = 0;
      size_t n = 0;
      for (const json::value& tok : content->get_array()) {
        if (!tok.is_object()) continue;
        const json::value* l = tok.get_object().if_contains("logprob");
        if (l && l->is_number()) {
          sum += l->to_number<double>();
          ++n;
        }
      }
      if (n > 0) a.mean_logprob = sum / static_cast<double>(n);
    }
  }
  return a;
}

std::string judgePrompt(std::string_view ask, std::string_view answer) {
  return fmt::format(
      "You are grading an AI assistant's answer. Rate how correct, complete and helpful the ANSWER is for the "
      "REQUEST, as an integer from 0 (useless or wrong) to 10 (perfect).\n"
      "Reply with the integer only: no words, no explanation.\n\n"
      "<REQUEST>\n{}\n</REQUEST>\n\n<ANSWER>\n{}\n</ANSWER>",
      ask, answer);
}

std::optional<double> parseJudgeScore(std::string_view reply) {
  std::string_view s = trim(reply);
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  if (s.size() > 3 && s.substr(s.size() - 3) == "/10") s.remove_suffix(3);
  int n = -1;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || n < 0 || n > 10) return std::nullopt;
  return n / 10.0;
}

// ---------------------------------------------------------------------------------------------
namespace {

CheckVerdict validateWith(const valijson::Schema& schema, std::string_view instance_json) {
  CheckVerdict v;
  json::error_code ec;
  json::value doc = json::parse(json::string_view(instance_json.data(), instance_json.size()), ec);
  if (ec) {
    v.pass = false;
    v.failed = "json_schema";
    v.detail = "the answer is not JSON";
    return v;
  }
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::BoostJsonAdapter adapter(doc);
  bool ok = false;
  try {
    ok = validator.validate(schema, adapter, &results);
  } catch (const std::exception& e) {
    v.pass = false;
    v.failed = "json_schema";
    v.detail = std::string("schema validation error: ") + e.what();
    return v;
  }
  if (!ok) {
    v.pass = false;
    v.failed = "json_schema";
    valijson::ValidationResults::Error err;
    std::string where;
    if (results.popError(err)) {
      for (const auto& p : err.context) where += p;
      v.detail = fmt::format("the answer does not match the schema at {}: {}", where, err.description);
    } else {
      v.detail = "the answer does not match the schema";
    }
  }
  return v;
}

// Answers often wrap JSON in a Markdown fence: check what is inside it.
std::string_view stripFence(std::string_view t) {
  t = trim(t);
  if (t.substr(0, 3) != "```" || t.size() < 6 || t.substr(t.size() - 3) != "```") return t;
  t = t.substr(3, t.size() - 6);
  size_t nl = t.find('\n');
  return nl == std::string_view::npos ? t : t.substr(nl + 1);
}

}  // namespace

struct AnswerChecks::Compiled {
  const config::CascadeCheck* cfg = nullptr;
  std::unique_ptr<re2::RE2> re;
  std::optional<JsonSchema> schema;
};

AnswerChecks::~AnswerChecks() = default;

Result<std::unique_ptr<AnswerChecks>> AnswerChecks::make(const config::CascadeConfig& cfg, const std::string& source,
                                                         const std::string& route_name) {
  std::unique_ptr<AnswerChecks> out(new AnswerChecks());
  for (size_t i = 0; i < cfg.checks.size(); ++i) {
    const config::CascadeCheck& c = cfg.checks[i];
    auto where = [&](const std::string& what) {
      return Error{ErrorCode::kInvalidArgument,
                   fmt::format("{}:{}: routes.{}.cascade.checks[{}]: {}", source, c.line, route_name, i, what)};
    };
    auto compiled = std::make_unique<Compiled>();
    compiled->cfg = &c;
    switch (c.kind) {
      case config::CascadeCheck::Kind::kRegex: {
        re2::RE2::Options opts;
        opts.set_log_errors(false);
        compiled->re = std::make_unique<re2::RE2>(c.pattern, opts);
        if (!compiled->re->ok()) return fail(where("bad pattern: " + compiled->re->error()));
        break;
      }
      case config::CascadeCheck::Kind::kJsonSchema:
        if (!c.schema.empty()) {
          auto s = JsonSchema::compile(c.schema);
          if (!s) return fail(where(s.error().message));
          compiled->schema = std::move(*s);
        }
        break;
      case config::CascadeCheck::Kind::kLogprob: out->wants_logprobs_ = true; break;
      case config::CascadeCheck::Kind::kJudge:
        if (!out->judge_) out->judge_ = &c;
        continue;  // run by the gateway
      case config::CascadeCheck::Kind::kNotRefusal: break;
    }
    out->checks_.push_back(std::move(compiled));
  }
  return out;
}

CheckVerdict AnswerChecks::runLocal(const AnswerView& a, std::string_view request_schema) const {
  for (const auto& c : checks_) {
    CheckVerdict v;
    switch (c->cfg->kind) {
      case config::CascadeCheck::Kind::kNotRefusal:
        if (a.refusal_field || (!a.has_tool_calls && (a.text.empty() || looksLikeRefusal(a.text)))) {
          v.pass = false;
          v.failed = "not_refusal";
          v.detail = a.refusal_field ? "the model set message.refusal"
                     : a.text.empty() ? "the answer is empty"
                                      : "the answer opens like a refusal";
        }
        break;
      case config::CascadeCheck::Kind::kRegex:
        if (!re2::RE2::PartialMatch(re2::StringPiece(a.text.data(), a.text.size()), *c->re)) {
          v.pass = false;
          v.failed = "regex";
          v.detail = "the answer does not match the pattern";
        }
        break;
      case config::CascadeCheck::Kind::kLogprob:
        if (a.mean_logprob && *a.mean_logprob < c->cfg->min_mean_logprob) {
          v.pass = false;
          v.failed = "logprob";
          v.detail = fmt::format("mean token logprob {:.3f} < {:.3f}", *a.mean_logprob, c->cfg->min_mean_logprob);
        }
        break;
      case config::CascadeCheck::Kind::kJsonSchema: {
        const std::string_view inst = stripFence(a.text);
        if (c->schema) {
          v = c->schema->validate(inst);
        } else if (!request_schema.empty()) {
          auto r = validateJsonSchema(request_schema, inst);
          if (r) {
            v = *r;
          } else {
            v.pass = false;
            v.failed = "json_schema";
            v.detail = "the request's response_format schema: " + r.error().message;
          }
        } else {
          json::error_code ec;
          (void)json::parse(json::string_view(inst.data(), inst.size()), ec);
          if (ec) {
            v.pass = false;
            v.failed = "json_schema";
            v.detail = "the answer is not JSON";
          }
        }
        break;
      }
      case config::CascadeCheck::Kind::kJudge: break;
    }
    if (!v.pass) return v;
  }
  return CheckVerdict{};
}

struct JsonSchema::Impl {
  valijson::Schema schema;
};

Result<JsonSchema> JsonSchema::compile(std::string_view schema_json) {
  json::error_code ec;
  json::value doc = json::parse(json::string_view(schema_json.data(), schema_json.size()), ec);
  if (ec) return fail(ErrorCode::kInvalidArgument, "schema is not valid JSON: " + ec.message());
  if (!doc.is_object() && !doc.is_bool())
    return fail(ErrorCode::kInvalidArgument, "a JSON Schema must be a JSON object (or true/false)");
  auto impl = std::make_shared<Impl>();
  try {
    valijson::SchemaParser parser;
    valijson::adapters::BoostJsonAdapter adapter(doc);
    parser.populateSchema(adapter, impl->schema);
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInvalidArgument, std::string("not a valid JSON Schema: ") + e.what());
  }
  JsonSchema out;
  out.impl_ = std::move(impl);
  return out;
}

CheckVerdict JsonSchema::validate(std::string_view instance_json) const { return validateWith(impl_->schema, instance_json); }

Result<CheckVerdict> validateJsonSchema(std::string_view schema_json, std::string_view instance_json) {
  auto s = JsonSchema::compile(schema_json);
  if (!s) return fail(s.error());
  return s->validate(instance_json);
}

}  // namespace rightsize::routing
