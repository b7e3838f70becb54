#include "config/eval_suite.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "common/strings.h"

namespace rightsize::config {
namespace {

int lineOf(const YAML::Node& n) {
  const int line = n.Mark().line;
  return line < 0 ? 1 : line + 1;
}

// The suite parser: every error names source:line.
class SuiteParser {
 public:
  SuiteParser(std::string source, std::string base_dir) : source_(std::move(source)), base_(std::move(base_dir)) {}

  Result<SuiteConfig> parse(const std::string& text) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("{}:{}: not valid YAML: {}", source_, e.mark.line + 1, e.msg));
    }
    try {
      return build(root);
    } catch (const YAML::Exception& e) {  // a conversion yaml-cpp refused
      return fail(ErrorCode::kInvalidArgument, fmt::format("{}:{}: {}", source_, e.mark.line + 1, e.msg));
    }
  }

 private:
  tl::unexpected<Error> err(const YAML::Node& n, const std::string& msg) const {
    return fail(ErrorCode::kInvalidArgument, fmt::format("{}:{}: {}", source_, lineOf(n), msg));
  }

  Result<void> knownKeys(const YAML::Node& map, std::string_view what, std::initializer_list<std::string_view> keys) {
    if (!map.IsMap()) return err(map, fmt::format("{} must be a map", what));
    for (auto it = map.begin(); it != map.end(); ++it) {
      const std::string k = it->first.as<std::string>();
      bool ok = false;
      for (auto known : keys) ok = ok || known == k;
      if (!ok) {
        std::string list;
        for (auto known : keys) list += (list.empty() ? "" : ", ") + std::string(known);
        return err(it->first, fmt::format("unknown key '{}' in {} (known: {})", k, what, list));
      }
    }
    return {};
  }

  Result<std::string> str(const YAML::Node& n, std::string_view what) {
    if (!n.IsScalar()) return err(n, fmt::format("{} must be a string", what));
    return n.as<std::string>();
  }

  Result<double> number(const YAML::Node& n, std::string_view what) {
    double v = 0;
    if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || !std::isfinite(v))
      return err(n, fmt::format("{} must be a number", what));
    return v;
  }

  Result<int> integer(const YAML::Node& n, std::string_view what, int lo, int hi) {
    long long v = 0;
    if (!n.IsScalar() || !YAML::convert<long long>::decode(n, v) || v < lo || v > hi)
      return err(n, fmt::format("{} must be an integer in [{}, {}]", what, lo, hi));
    return static_cast<int>(v);
  }

  Result<bool> boolean(const YAML::Node& n, std::string_view what) {
    bool v = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) return err(n, fmt::format("{} must be true or false", what));
    return v;
  }

  std::string resolve(const std::string& p) const {
    if (p.empty() || base_.empty() || std::filesystem::path(p).is_absolute()) return p;
    return (std::filesystem::path(base_) / p).lexically_normal().string();
  }

  // YAML -> JSON text (for schemas and messages). Scalars that YAML would resolve as numbers,
  // booleans or null become those; everything else is a string.
  std::string toJson(const YAML::Node& n) {
    std::string out;
    appendJson(out, n);
    return out;
  }
  void appendJson(std::string& out, const YAML::Node& n) {
    switch (n.Type()) {
      case YAML::NodeType::Map: {
        out += '{';
        bool first = true;
        for (auto it = n.begin(); it != n.end(); ++it) {
          if (!first) out += ',';
          first = false;
          appendJsonString(out, it->first.as<std::string>());
          out += ':';
          appendJson(out, it->second);
        }
        out += '}';
        return;
      }
      case YAML::NodeType::Sequence: {
        out += '[';
        for (size_t i = 0; i < n.size(); ++i) {
          if (i) out += ',';
          appendJson(out, n[i]);
        }
        out += ']';
        return;
      }
      case YAML::NodeType::Scalar: {
        const std::string& s = n.Scalar();
        if (n.Tag() != "!") {  // plain (unquoted) scalars may be numbers, booleans or null
          long long i = 0;
          double d = 0;
          // YAML 1.2 core schema only: yaml-cpp's bool decoder would also turn y/n/on/off into booleans.
          if (s == "null" || s == "Null" || s == "NULL" || s == "~") {
            out += "null";
            return;
          }
          if (YAML::convert<long long>::decode(n, i)) {
            out += std::to_string(i);
            return;
          }
          if (YAML::convert<double>::decode(n, d) && std::isfinite(d)) {
            out += fmt::format("{}", d);
            return;
          }
          if (s == "true" || s == "True" || s == "TRUE" || s == "false" || s == "False" || s == "FALSE") {
            out += (s[0] == 't' || s[0] == 'T') ? "true" : "false";
            return;
          }
        }
        appendJsonString(out, s);
        return;
      }
      default:
        out += "null";
    }
  }

  Result<GraderConfig> grader(const YAML::Node& n, bool is_override) {
    if (auto k = knownKeys(n, is_override ? "a case's grader" : "grader",
                           {"kind", "case_sensitive", "pattern", "choices", "tolerance", "rel_tolerance", "schema",
                            "schema_file", "model", "rubric"});
        !k)
      return fail(k.error());
    GraderConfig g;
    g.line = lineOf(n);
    if (n["kind"]) {
      if (is_override) return err(n["kind"], "a case's grader may override options but not 'kind'");
      auto kind = str(n["kind"], "grader.kind");
      if (!kind) return fail(kind.error());
      bool ok = false;
      for (const auto& k : graderKinds()) ok = ok || k == *kind;
      if (!ok) {
        std::string list;
        for (const auto& k : graderKinds()) list += (list.empty() ? "" : ", ") + k;
        return err(n["kind"], fmt::format("unknown grader kind '{}' (known: {})", *kind, list));
      }
      g.kind = *kind;
    } else if (!is_override) {
      return err(n, "grader needs a 'kind'");
    }
    if (n["case_sensitive"]) {
      auto v = boolean(n["case_sensitive"], "grader.case_sensitive");
      if (!v) return fail(v.error());
      g.case_sensitive = *v;
    }
    for (auto [key, slot] : {std::pair{"pattern", &g.pattern}, std::pair{"choices", &g.choices},
                             std::pair{"model", &g.model}, std::pair{"rubric", &g.rubric}}) {
      if (!n[key]) continue;
      auto v = str(n[key], std::string("grader.") + key);
      if (!v) return fail(v.error());
      *slot = *v;
    }
    for (auto [key, slot] : {std::pair{"tolerance", &g.tolerance}, std::pair{"rel_tolerance", &g.rel_tolerance}}) {
      if (!n[key]) continue;
      auto v = number(n[key], std::string("grader.") + key);
      if (!v) return fail(v.error());
      if (*v < 0) return err(n[key], fmt::format("grader.{} must be >= 0", key));
      *slot = *v;
    }
    if (n["schema"] && n["schema_file"]) return err(n, "give either 'schema' or 'schema_file', not both");
    if (n["schema"]) {
      const YAML::Node s = n["schema"];
      // A string is taken as JSON text; a map/list as the schema itself.
      g.schema = s.IsScalar() ? s.as<std::string>() : toJson(s);
    }
    if (n["schema_file"]) {
      auto p = str(n["schema_file"], "grader.schema_file");
      if (!p) return fail(p.error());
      const std::string path = resolve(*p);
      std::ifstream in(path, std::ios::binary);
      if (!in) return err(n["schema_file"], fmt::format("cannot read schema_file '{}'", path));
      std::ostringstream ss;
      ss << in.rdbuf();
      g.schema = ss.str();
    }
    if (!is_override) {
      if (g.kind == "json_schema" && !g.schema) return err(n, "a json_schema grader needs 'schema' or 'schema_file'");
      if (g.kind == "judge" && !g.model) return err(n, "a judge grader needs 'model' (the judge model)");
      if (g.kind == "regex" && g.pattern && g.pattern->empty()) return err(n, "grader.pattern is empty");
    }
    return g;
  }

  Result<CaseConfig> oneCase(const YAML::Node& n) {
    if (auto k = knownKeys(n, "a case", {"id", "prompt", "messages", "expected", "grader"}); !k) return fail(k.error());
    CaseConfig c;
    c.where = fmt::format("{}:{}", source_, lineOf(n));
    if (n["id"]) {
      auto v = str(n["id"], "case id");
      if (!v) return fail(v.error());
      c.id = *v;
    }
    if (n["prompt"] && n["messages"]) return err(n, "a case has both 'prompt' and 'messages'; give one");
    if (n["prompt"]) {
      auto v = str(n["prompt"], "prompt");
      if (!v) return fail(v.error());
      c.prompt = *v;
    } else if (n["messages"]) {
      const YAML::Node m = n["messages"];
      if (!m.IsSequence() || m.size() == 0) return err(m, "messages must be a non-empty list of {role, content}");
      for (size_t i = 0; i < m.size(); ++i)
        if (!m[i].IsMap() || !m[i]["role"] || !m[i]["content"])
          return err(m[i], "each message needs 'role' and 'content'");
      c.messages_json = toJson(m);
    } else {
      return err(n, "a case needs 'prompt' or 'messages'");
    }
    if (n["expected"]) {
      if (!n["expected"].IsScalar()) {
        c.expected = toJson(n["expected"]);  // structured expectations are compared as JSON text
      } else {
        c.expected = n["expected"].as<std::string>();
      }
    }
    if (n["grader"]) {
      auto g = grader(n["grader"], true);
      if (!g) return fail(g.error());
      c.grader = *g;
    }
    return c;
  }

  Result<TaskConfig> task(const YAML::Node& n) {
    if (auto k = knownKeys(n, "a task", {"name", "grader", "pass_score", "cases", "cases_file"}); !k)
      return fail(k.error());
    TaskConfig t;
    t.line = lineOf(n);
    if (!n["name"]) return err(n, "a task needs a 'name'");
    auto name = str(n["name"], "task name");
    if (!name) return fail(name.error());
    if (name->empty()) return err(n["name"], "task name is empty");
    t.name = *name;
    if (!n["grader"]) return err(n, fmt::format("task '{}' needs a 'grader'", t.name));
    auto g = grader(n["grader"], false);
    if (!g) return fail(g.error());
    t.grader = *g;
    if (n["pass_score"]) {
      auto v = number(n["pass_score"], "pass_score");
      if (!v) return fail(v.error());
      if (*v <= 0 || *v > 1) return err(n["pass_score"], "pass_score must be in (0, 1]");
      t.pass_score = *v;
    }
    if (n["cases_file"]) {
      const YAML::Node f = n["cases_file"];
      std::vector<YAML::Node> files;
      if (f.IsSequence()) {
        for (size_t i = 0; i < f.size(); ++i) files.push_back(f[i]);
      } else {
        files.push_back(f);
      }
      for (const auto& fn : files) {
        auto p = str(fn, "cases_file");
        if (!p) return fail(p.error());
        t.cases_files.push_back(resolve(*p));
      }
    }
    if (n["cases"]) {
      const YAML::Node cs = n["cases"];
      if (!cs.IsSequence()) return err(cs, "cases must be a list");
      for (size_t i = 0; i < cs.size(); ++i) {
        auto c = oneCase(cs[i]);
        if (!c) return fail(c.error());
        t.cases.push_back(std::move(*c));
      }
    }
    if (t.cases.empty() && t.cases_files.empty()) return err(n, fmt::format("task '{}' has no cases", t.name));
    return t;
  }

  Result<SuiteConfig> build(const YAML::Node& root) {
    if (!root.IsMap()) return err(root, "a suite must be a YAML map (name, candidates, tasks)");
    if (auto k = knownKeys(root, "the suite",
                           {"name", "candidates", "concurrency", "timeout_ms", "max_attempts", "max_tokens",
                            "temperature", "system", "tasks"});
        !k)
      return fail(k.error());
    SuiteConfig s;
    s.source = source_;
    if (root["name"]) {
      auto v = str(root["name"], "name");
      if (!v) return fail(v.error());
      s.name = *v;
    }
    const YAML::Node c = root["candidates"];
    if (!c || !c.IsSequence() || c.size() == 0)
      return err(c ? c : root, "candidates must be a non-empty list of model names");
    std::set<std::string> seen;
    for (size_t i = 0; i < c.size(); ++i) {
      auto v = str(c[i], "a candidate");
      if (!v) return fail(v.error());
      if (!seen.insert(*v).second) return err(c[i], fmt::format("candidate '{}' is listed twice", *v));
      s.candidates.push_back(*v);
    }
    if (root["concurrency"]) {
      auto v = integer(root["concurrency"], "concurrency", 1, 1024);
      if (!v) return fail(v.error());
      s.concurrency = *v;
    }
    if (root["timeout_ms"]) {
      auto v = integer(root["timeout_ms"], "timeout_ms", 1, 3'600'000);
      if (!v) return fail(v.error());
      s.timeout_ms = *v;
    }
    if (root["max_attempts"]) {
      auto v = integer(root["max_attempts"], "max_attempts", 1, 20);
      if (!v) return fail(v.error());
      s.max_attempts = *v;
    }
    if (root["max_tokens"]) {
      auto v = integer(root["max_tokens"], "max_tokens", 1, 1'000'000);
      if (!v) return fail(v.error());
      s.max_tokens = *v;
    }
    if (root["temperature"]) {
      auto v = number(root["temperature"], "temperature");
      if (!v) return fail(v.error());
      if (*v < 0 || *v > 2) return err(root["temperature"], "temperature must be in [0, 2]");
      s.temperature = *v;
    }
    if (root["system"]) {
      auto v = str(root["system"], "system");
      if (!v) return fail(v.error());
      s.system = *v;
    }
    const YAML::Node tasks = root["tasks"];
    if (!tasks || !tasks.IsSequence() || tasks.size() == 0) return err(tasks ? tasks : root, "tasks must be a non-empty list");
    std::set<std::string> names;
    for (size_t i = 0; i < tasks.size(); ++i) {
      auto t = task(tasks[i]);
      if (!t) return fail(t.error());
      if (!names.insert(t->name).second) return err(tasks[i], fmt::format("task '{}' is defined twice", t->name));
      s.tasks.push_back(std::move(*t));
    }
    return s;
  }

  std::string source_, base_;
};

}  // namespace

const std::vector<std::string>& graderKinds() {
  static const std::vector<std::string> kinds = {"exact",  "normalized", "regex",       "contains",
                                                 "choice", "number",     "json_schema", "judge"};
  return kinds;
}

Result<SuiteConfig> parseSuite(const std::string& yaml_text, const std::string& source, const std::string& base_dir) {
  return SuiteParser(source, base_dir).parse(yaml_text);
}

Result<SuiteConfig> loadSuiteFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return fail(ErrorCode::kIo, fmt::format("cannot read suite file '{}': it is a directory", path));
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorCode::kIo, fmt::format("cannot read suite file '{}'", path));
  std::ostringstream text;
  text << in.rdbuf();
  return parseSuite(text.str(), path, std::filesystem::path(path).parent_path().string());
}

}  // namespace rightsize::config
