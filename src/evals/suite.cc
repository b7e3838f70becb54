#include "evals/suite.h"

#include <map>
#include <set>

#include <fmt/format.h>
#include <simdjson.h>

#include "api/chat_types.h"
#include "evals/outcomes.h"

namespace rightsize::evals {
namespace {

// Messages JSON -> chat messages (text parts joined by "\n"); an error string on a bad shape.
Result<std::vector<api::ChatMessage>> parseMessages(const std::string& json, const std::string& where) {
  simdjson::dom::parser parser;
  simdjson::dom::element el;
  if (parser.parse(json).get(el) != simdjson::SUCCESS)
    return fail(ErrorCode::kInvalidArgument, where + ": messages are not valid JSON");
  simdjson::dom::array arr;
  if (el.get(arr) != simdjson::SUCCESS || arr.size() == 0)
    return fail(ErrorCode::kInvalidArgument, where + ": messages must be a non-empty array");
  std::vector<api::ChatMessage> out;
  for (auto m : arr) {
    std::string_view role, text;
    if (m["role"].get(role) != simdjson::SUCCESS)
      return fail(ErrorCode::kInvalidArgument, where + ": every message needs a string 'role'");
    api::ChatMessage cm;
    cm.role = std::string(role);
    auto content = m["content"];
    if (content.get(text) == simdjson::SUCCESS) {
      cm.text = std::string(text);
    } else {
      simdjson::dom::array parts;
      if (content.get(parts) != simdjson::SUCCESS)
        return fail(ErrorCode::kInvalidArgument, where + ": a message's 'content' must be a string or an array of parts");
      for (auto p : parts) {
        std::string_view t;
        if (p["text"].get(t) == simdjson::SUCCESS) cm.text += (cm.text.empty() ? "" : "\n") + std::string(t);
      }
    }
    out.push_back(std::move(cm));
  }
  return out;
}

// JSONL "grader" override object -> GraderConfig (no kind).
Result<config::GraderConfig> jsonGrader(simdjson::dom::object o, const std::string& where) {
  config::GraderConfig g;
  for (auto [key, val] : o) {
    std::string_view s;
    double d = 0;
    bool b = false;
    if (key == "kind") return fail(ErrorCode::kInvalidArgument, where + ": a case's grader may not override 'kind'");
    if (key == "pattern" || key == "choices" || key == "model" || key == "rubric") {
      if (val.get(s) != simdjson::SUCCESS)
        return fail(ErrorCode::kInvalidArgument, fmt::format("{}: grader.{} must be a string", where, key));
      std::optional<std::string>* slot = key == "pattern"   ? &g.pattern
                                         : key == "choices" ? &g.choices
                                         : key == "model"   ? &g.model
                                                            : &g.rubric;
      *slot = std::string(s);
    } else if (key == "tolerance" || key == "rel_tolerance") {
      if (val.get(d) != simdjson::SUCCESS) {
        int64_t i = 0;
        if (val.get(i) != simdjson::SUCCESS)
          return fail(ErrorCode::kInvalidArgument, fmt::format("{}: grader.{} must be a number", where, key));
        d = static_cast<double>(i);
      }
      if (d < 0) return fail(ErrorCode::kInvalidArgument, fmt::format("{}: grader.{} must be >= 0", where, key));
      (key == "tolerance" ? g.tolerance : g.rel_tolerance) = d;
    } else if (key == "case_sensitive") {
      if (val.get(b) != simdjson::SUCCESS)
        return fail(ErrorCode::kInvalidArgument, where + ": grader.case_sensitive must be true or false");
      g.case_sensitive = b;
    } else if (key == "schema") {
      g.schema = val.is_string() ? std::string(val.get_string().value()) : simdjson::minify(val);
    } else {
      return fail(ErrorCode::kInvalidArgument, fmt::format("{}: unknown grader option '{}'", where, key));
    }
  }
  return g;
}

Result<std::vector<config::CaseConfig>> readCaseFile(const std::string& path) {
  auto text = readMaybeGzip(path);
  if (!text) return fail(ErrorCode::kIo, "cannot read cases_file '" + path + "': " + text.error().message);
  std::vector<config::CaseConfig> out;
  auto st = forEachJsonLine(*text, path, [&](const std::string& where, simdjson::dom::object obj) -> Result<void> {
    config::CaseConfig c;
    c.where = where;
    std::string_view s;
    auto id = obj["id"];
    if (!id.error()) {
      int64_t i = 0;
      if (id.get(s) == simdjson::SUCCESS) c.id = std::string(s);
      else if (id.get(i) == simdjson::SUCCESS) c.id = std::to_string(i);
      else return fail(ErrorCode::kInvalidArgument, where + ": \"id\" must be a string or an integer");
    }
    auto prompt = obj["prompt"];
    auto messages = obj["messages"];
    if (!prompt.error() && !messages.error())
      return fail(ErrorCode::kInvalidArgument, where + ": has both \"prompt\" and \"messages\"");
    if (!prompt.error()) {
      if (prompt.get(s) != simdjson::SUCCESS) return fail(ErrorCode::kInvalidArgument, where + ": \"prompt\" must be a string");
      c.prompt = std::string(s);
    } else if (!messages.error()) {
      c.messages_json = simdjson::minify(messages.value());
    } else {
      return fail(ErrorCode::kInvalidArgument, where + ": needs \"prompt\" or \"messages\"");
    }
    auto expected = obj["expected"];
    if (!expected.error()) {
      if (expected.get(s) == simdjson::SUCCESS) c.expected = std::string(s);
      else if (!expected.is_null()) c.expected = simdjson::minify(expected.value());
    }
    auto grader = obj["grader"];
    if (!grader.error()) {
      simdjson::dom::object go;
      if (grader.get(go) != simdjson::SUCCESS)
        return fail(ErrorCode::kInvalidArgument, where + ": \"grader\" must be an object of grader options");
      auto g = jsonGrader(go, where);
      if (!g) return fail(g.error());
      c.grader = *g;
    }
    out.push_back(std::move(c));
    return {};
  });
  if (!st) {
    Error e = st.error();
    if (e.code == ErrorCode::kCorruptData) e.code = ErrorCode::kInvalidArgument;
    return fail(e);
  }
  return out;
}

}  // namespace

Result<Suite> buildSuite(config::SuiteConfig cfg, const config::Config& gw) {
  for (const auto& c : cfg.candidates)
    if (!gw.models.count(c))
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("{}: candidate '{}' is not a model of {} (models: {})", cfg.source, c, gw.source,
                              [&] {
                                std::string l;
                                for (const auto& [n, m] : gw.models) l += (l.empty() ? "" : ", ") + n;
                                return l;
                              }()));
  Suite s;
  std::map<std::string, std::string> ids;  // id -> where
  for (const auto& t : cfg.tasks) {
    EvalTask task;
    task.name = t.name;
    task.pass_score = t.pass_score;
    task.grader_kind = t.grader.kind;
    std::vector<config::CaseConfig> cases = t.cases;
    for (const auto& f : t.cases_files) {
      auto more = readCaseFile(f);
      if (!more) return fail(more.error());
      cases.insert(cases.end(), more->begin(), more->end());
    }
    // Cases sharing the task's grader share one compiled instance (unless the grader compiles
    // `expected`, as a regex without `pattern` does).
    std::shared_ptr<const Grader> shared;
    size_t n = 0;
    for (auto& c : cases) {
      ++n;
      EvalCase ec;
      ec.id = c.id.empty() ? fmt::format("{}.{}", t.name, n) : c.id;
      ec.task = t.name;
      ec.where = c.where;
      ec.expected = c.expected;
      if (c.prompt) {
        ec.prompt = *c.prompt;
        ec.ask = cfg.system.empty() ? ec.prompt : cfg.system + "\n" + ec.prompt;
      } else {
        ec.messages_json = *c.messages_json;
        auto msgs = parseMessages(ec.messages_json, c.where);
        if (!msgs) return fail(msgs.error());
        ec.ask = api::humanAsk(*msgs);
      }
      auto [it, fresh] = ids.emplace(ec.id, c.where);
      if (!fresh)
        return fail(ErrorCode::kInvalidArgument,
                    fmt::format("{}: case id '{}' is already used at {}", c.where, ec.id, it->second));
      const bool own = c.grader.has_value() || (t.grader.kind == "regex" && !t.grader.pattern);
      if (own || !shared) {
        const config::GraderConfig g = mergeGrader(t.grader, c.grader);
        if (g.kind == "judge" && !gw.models.count(g.model.value_or("")))
          return fail(ErrorCode::kInvalidArgument, fmt::format("{}: judge model '{}' is not a model of {}", c.where,
                                                               g.model.value_or(""), gw.source));
        if (g.kind != "judge" && g.kind != "json_schema" && c.expected.empty() &&
            !(g.kind == "regex" && g.pattern))
          return fail(ErrorCode::kInvalidArgument,
                      fmt::format("{}: a '{}' grader needs the case's 'expected'", c.where, g.kind));
        auto grader = makeGrader(g, ec.expected, c.where);
        if (!grader) return fail(grader.error());
        std::shared_ptr<const Grader> gp(std::move(*grader));
        if (!own) shared = gp;
        ec.grader = gp;
      } else {
        if (t.grader.kind != "judge" && t.grader.kind != "json_schema" && c.expected.empty() &&
            !(t.grader.kind == "regex" && t.grader.pattern))
          return fail(ErrorCode::kInvalidArgument,
                      fmt::format("{}: a '{}' grader needs the case's 'expected'", c.where, t.grader.kind));
        ec.grader = shared;
      }
      task.cases.push_back(s.cases.size());
      s.cases.push_back(std::move(ec));
    }
    if (task.cases.empty())
      return fail(ErrorCode::kInvalidArgument, fmt::format("{}:{}: task '{}' has no cases", cfg.source, t.line, t.name));
    s.tasks.push_back(std::move(task));
  }
  s.cfg = std::move(cfg);
  return s;
}

Result<Suite> loadSuite(const std::string& path, const config::Config& gw) {
  auto cfg = config::loadSuiteFile(path);
  if (!cfg) return fail(cfg.error());
  return buildSuite(std::move(*cfg), gw);
}

}  // namespace rightsize::evals
