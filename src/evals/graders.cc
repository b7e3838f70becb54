#include "evals/graders.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <vector>

#include <fmt/format.h>
#include <re2/re2.h>
#include <simdjson.h>

#include "common/strings.h"
#include "routing/checks.h"

namespace rightsize::evals {
namespace {

constexpr std::string_view kDefaultChoices = "ABCDEFGHIJ";

std::string clip(std::string_view s, size_t n = 60) {
  std::string out(s.substr(0, n));
  for (char& c : out)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (s.size() > n) out += "...";
  return out;
}

class ExactGrader final : public Grader {
 public:
  explicit ExactGrader(config::GraderConfig cfg) : cfg_(std::move(cfg)) {}
  const std::string& kind() const override { return cfg_.kind; }
  const config::GraderConfig& config() const override { return cfg_; }
  Grade grade(std::string_view answer, std::string_view expected) const override {
    const auto a = trim(answer), e = trim(expected);
    const bool cs = cfg_.case_sensitive.value_or(true);
    const bool ok = cs ? a == e : iequals(a, e);
    return {ok ? 1.0 : 0.0, ok ? "exact match" : fmt::format("expected '{}', got '{}'", clip(e), clip(a))};
  }

 private:
  config::GraderConfig cfg_;
};

class NormalizedGrader final : public Grader {
 public:
  explicit NormalizedGrader(config::GraderConfig cfg) : cfg_(std::move(cfg)) {}
  const std::string& kind() const override { return cfg_.kind; }
  const config::GraderConfig& config() const override { return cfg_; }
  Grade grade(std::string_view answer, std::string_view expected) const override {
    const std::string a = normalizeAnswer(answer), e = normalizeAnswer(expected);
    const bool ok = a == e;
    return {ok ? 1.0 : 0.0, ok ? "normalized match" : fmt::format("expected '{}', got '{}'", clip(e), clip(a))};
  }

 private:
  config::GraderConfig cfg_;
};

class ContainsGrader final : public Grader {
 public:
  explicit ContainsGrader(config::GraderConfig cfg) : cfg_(std::move(cfg)) {}
  const std::string& kind() const override { return cfg_.kind; }
  const config::GraderConfig& config() const override { return cfg_; }
  Grade grade(std::string_view answer, std::string_view expected) const override {
    if (expected.empty()) return {0.0, "no expected text to look for"};
    bool ok;
    if (cfg_.case_sensitive.value_or(false)) {
      ok = answer.find(expected) != std::string_view::npos;
    } else {
      ok = toLower(answer).find(toLower(expected)) != std::string::npos;
    }
    return {ok ? 1.0 : 0.0, ok ? "contains the expected text" : fmt::format("'{}' not found", clip(expected))};
  }

 private:
  config::GraderConfig cfg_;
};

class RegexGrader final : public Grader {
 public:
  RegexGrader(config::GraderConfig cfg, std::unique_ptr<RE2> re) : cfg_(std::move(cfg)), re_(std::move(re)) {}
  const std::string& kind() const override { return cfg_.kind; }
  const config::GraderConfig& config() const override { return cfg_; }
  Grade grade(std::string_view answer, std::string_view) const override {
    const bool ok = RE2::PartialMatch(re2::StringPiece(answer.data(), answer.size()), *re_);
    return {ok ? 1.0 : 0.0, ok ? "matches /" + clip(re_->pattern()) + "/" : "no match for /" + clip(re_->pattern()) + "/"};
  }

 private:
  config::GraderConfig cfg_;
  std::unique_ptr<RE2> re_;
};

class ChoiceGrader final : public Grader {
 public:
  ChoiceGrader(config::GraderConfig cfg, std::string choices) : cfg_(std::move(cfg)), choices_(std::move(choices)) {}
  const std::string& kind() const override { return cfg_.kind; }
  const config::GraderConfig& config() const override { return cfg_; }
  Grade grade(std::string_view answer, std::string_view expected) const override {
    auto want = extractChoice(expected, choices_);
    if (!want) return {0.0, fmt::format("expected '{}' is not one of the choices {}", clip(expected), choices_)};
    auto got = extractChoice(answer, choices_);
    if (!got) return {0.0, fmt::format("no choice among {} found in the answer", choices_)};
    const bool ok = *got == *want;
    return {ok ? 1.0 : 0.0, fmt::format("answered {}, expected {}", *got, *want)};
  }

 private:
  config::GraderConfig cfg_;
  std::string choices_;
};

class NumberGrader final : public Grader {
 public:
  explicit NumberGrader(config::GraderConfig cfg) : cfg_(std::move(cfg)) {}
  const std::string& kind() const override { return cfg_.kind; }
  const config::GraderConfig& config() const override { return cfg_; }
  Grade grade(std::string_view answer, std::string_view expected) const override {
    auto want = extractNumber(expected);
    if (!want) return {0.0, fmt::format("expected '{}' is not a number", clip(expected))};
    auto got = extractNumber(answer);
    if (!got) return {0.0, "no number in the answer"};
    const double tol = std::max(cfg_.tolerance.value_or(1e-6), cfg_.rel_tolerance.value_or(0) * std::fabs(*want));
    const bool ok = std::fabs(*got - *want) <= tol;
    return {ok ? 1.0 : 0.0, fmt::format("answered {}, expected {} (tolerance {})", *got, *want, tol)};
  }

 private:
  config::GraderConfig cfg_;
};

class SchemaGrader final : public Grader {
 public:
  SchemaGrader(config::GraderConfig cfg, routing::JsonSchema schema) : cfg_(std::move(cfg)), schema_(std::move(schema)) {}
  const std::string& kind() const override { return cfg_.kind; }
  const config::GraderConfig& config() const override { return cfg_; }
  Grade grade(std::string_view answer, std::string_view) const override {
    const std::string_view payload = jsonPayload(answer);
    if (payload.empty()) return {0.0, "empty answer, not JSON"};
    const routing::CheckVerdict v = schema_.validate(payload);
    if (v.pass) return {1.0, "valid against the schema"};
    return {0.0, clip(v.detail, 200)};
  }

 private:
  config::GraderConfig cfg_;
  routing::JsonSchema schema_;
};

class JudgeGrader final : public Grader {
 public:
  explicit JudgeGrader(config::GraderConfig cfg) : cfg_(std::move(cfg)) {}
  const std::string& kind() const override { return cfg_.kind; }
  const config::GraderConfig& config() const override { return cfg_; }
  bool isJudge() const override { return true; }
  Grade grade(std::string_view, std::string_view) const override { return {0.0, "judge graders are run by the runner"}; }

 private:
  config::GraderConfig cfg_;
};

tl::unexpected<Error> bad(const std::string& where, const std::string& msg) {
  return fail(ErrorCode::kInvalidArgument, where + ": " + msg);
}

bool isAsciiPunct(unsigned char c) { return c < 0x80 && std::ispunct(c); }

}  // namespace

std::string normalizeAnswer(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool space = false;
  for (unsigned char c : s) {
    if (isAsciiPunct(c)) continue;
    if (c < 0x80 && std::isspace(c)) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c < 0x80 ? static_cast<char>(std::tolower(c)) : static_cast<char>(c));
  }
  return out;
}

std::optional<char> extractChoice(std::string_view answer, std::string_view choices) {
  const std::string_view a = trim(answer);
  if (a.empty() || choices.empty()) return std::nullopt;
  const std::string set(choices);
  const std::string cls = "[" + set + "]";
  auto isChoice = [&](char c) { return set.find(c) != std::string::npos; };
  // 1. The whole answer is a letter, maybe dressed: "B", "(B)", "B.", "B) text", "**B**".
  {
    static const RE2* const dressed = new RE2(R"(^[\s*_`"'(\[]*([A-Za-z])[\s*_`"')\].:]*(?:$|\s|[).:]\s*))");
    std::string letter;
    if (RE2::PartialMatch(re2::StringPiece(a.data(), a.size()), *dressed, &letter)) {
      const char up = static_cast<char>(std::toupper(static_cast<unsigned char>(letter[0])));
      // A lone lower-case "a" at the start is an article ("a cat"), unless it stands alone.
      const bool alone = a.size() <= 4;
      if (isChoice(up) && (std::isupper(static_cast<unsigned char>(letter[0])) || alone)) return up;
    }
  }
  // 2. "answer is B", "Answer: (C)", "correct option is D", "choice: A".
  {
    const RE2 stated("(?i)(?:answer|option|choice)\\s*(?:is|:|=)?\\s*(?:option\\s*)?[\\s*_(\\[\"']*(" + cls +
                     ")(?:[^A-Za-z]|$)");
    std::string letter;
    if (stated.ok() && RE2::PartialMatch(re2::StringPiece(a.data(), a.size()), stated, &letter)) {
      const char up = static_cast<char>(std::toupper(static_cast<unsigned char>(letter[0])));
      if (isChoice(up)) return up;
    }
  }
  // 3. The first stand-alone capital choice letter ("I think B is right"); "I" and "A" as words
  //    are too common to trust here unless followed by ")" or ".".
  {
    const RE2 lone("(?:^|[^A-Za-z0-9])(" + cls + ")(?:[).:]|\\s|$)");
    re2::StringPiece in(a.data(), a.size());
    std::string letter;
    while (lone.ok() && RE2::FindAndConsume(&in, lone, &letter)) {
      if (letter == "A" || letter == "I") {
        const size_t at = static_cast<size_t>(in.data() - a.data());
        if (at == 0) continue;
        const char after = a[at - 1];
        if (after != ')' && after != '.' && after != ':') continue;
      }
      return letter[0];
    }
  }
  return std::nullopt;
}

std::optional<double> extractNumber(std::string_view answer) {
  static const RE2* const num = new RE2(R"((-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?|-?\.\d+))");
  static const RE2* const marker = new RE2(R"((?i)(####|answer\s*(?:is|:|=)|result\s*(?:is|:|=)))");
  auto parseNum = [](std::string s) -> std::optional<double> {
    std::string clean;
    for (char c : s)
      if (c != ',') clean.push_back(c);
    if (clean.empty() || clean == "-") return std::nullopt;
    char* end = nullptr;
    const double v = std::strtod(clean.c_str(), &end);
    if (end == clean.c_str() || !std::isfinite(v)) return std::nullopt;
    return v;
  };
  re2::StringPiece all(answer.data(), answer.size());
  // After an explicit marker: the first number that follows the last marker.
  {
    re2::StringPiece in = all;
    const char* after = nullptr;
    std::string m;
    while (RE2::FindAndConsume(&in, *marker, &m)) after = in.data();
    if (after) {
      re2::StringPiece rest(after, static_cast<size_t>(answer.data() + answer.size() - after));
      std::string s;
      if (RE2::FindAndConsume(&rest, *num, &s)) {
        if (auto v = parseNum(s)) return v;
      }
    }
  }
  // Else the last number.
  std::optional<double> last;
  re2::StringPiece in = all;
  std::string s;
  while (RE2::FindAndConsume(&in, *num, &s))
    if (auto v = parseNum(s)) last = v;
  return last;
}

std::string_view jsonPayload(std::string_view answer) {
  std::string_view a = trim(answer);
  const size_t fence = a.find("```");
  if (fence == std::string_view::npos) return a;
  size_t start = a.find('\n', fence);
  if (start == std::string_view::npos) return a;
  ++start;
  const size_t end = a.find("```", start);
  return trim(a.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
}

config::GraderConfig mergeGrader(const config::GraderConfig& task, const std::optional<config::GraderConfig>& over) {
  config::GraderConfig g = task;
  if (!over) return g;
  if (over->case_sensitive) g.case_sensitive = over->case_sensitive;
  if (over->pattern) g.pattern = over->pattern;
  if (over->choices) g.choices = over->choices;
  if (over->tolerance) g.tolerance = over->tolerance;
  if (over->rel_tolerance) g.rel_tolerance = over->rel_tolerance;
  if (over->schema) g.schema = over->schema;
  if (over->model) g.model = over->model;
  if (over->rubric) g.rubric = over->rubric;
  return g;
}

Result<std::unique_ptr<Grader>> makeGrader(const config::GraderConfig& cfg, std::string_view expected,
                                           const std::string& where) {
  const std::string& k = cfg.kind;
  if (k == "exact") return std::unique_ptr<Grader>(std::make_unique<ExactGrader>(cfg));
  if (k == "normalized") return std::unique_ptr<Grader>(std::make_unique<NormalizedGrader>(cfg));
  if (k == "contains") return std::unique_ptr<Grader>(std::make_unique<ContainsGrader>(cfg));
  if (k == "number") return std::unique_ptr<Grader>(std::make_unique<NumberGrader>(cfg));
  if (k == "judge") {
    if (!cfg.model || cfg.model->empty()) return bad(where, "a judge grader needs 'model'");
    return std::unique_ptr<Grader>(std::make_unique<JudgeGrader>(cfg));
  }
  if (k == "regex") {
    const std::string pattern = cfg.pattern ? *cfg.pattern : std::string(expected);
    if (pattern.empty()) return bad(where, "regex grader: no pattern (set 'pattern' or the case's 'expected')");
    RE2::Options opt;
    opt.set_log_errors(false);
    opt.set_case_sensitive(cfg.case_sensitive.value_or(true));
    auto re = std::make_unique<RE2>(pattern, opt);
    if (!re->ok()) return bad(where, fmt::format("regex grader: invalid RE2 pattern '{}': {}", clip(pattern), re->error()));
    return std::unique_ptr<Grader>(std::make_unique<RegexGrader>(cfg, std::move(re)));
  }
  if (k == "choice") {
    std::string choices;
    for (char c : cfg.choices.value_or(std::string(kDefaultChoices))) {
      if (!std::isalpha(static_cast<unsigned char>(c)))
        return bad(where, "choice grader: 'choices' must be letters, e.g. \"ABCD\"");
      choices.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
    if (choices.empty()) return bad(where, "choice grader: 'choices' is empty");
    return std::unique_ptr<Grader>(std::make_unique<ChoiceGrader>(cfg, choices));
  }
  if (k == "json_schema") {
    if (!cfg.schema) return bad(where, "json_schema grader: no 'schema'");
    auto schema = routing::JsonSchema::compile(*cfg.schema);
    if (!schema) return bad(where, "json_schema grader: " + schema.error().message);
    return std::unique_ptr<Grader>(std::make_unique<SchemaGrader>(cfg, std::move(*schema)));
  }
  return bad(where, "unknown grader kind '" + k + "'");
}

std::string judgePrompt(std::string_view rubric, std::string_view question, std::string_view expected,
                        std::string_view answer) {
  std::string p =
      "You are grading an answer to a question. Judge it only by the rubric"
      " and, when given, the reference answer.\n\n";
  p += "## Rubric\n";
  p += rubric.empty() ? std::string_view("The answer is correct, complete and directly answers the question.") : rubric;
  p += "\n\n## Question\n";
  p += question;
  if (!expected.empty()) {
    p += "\n\n## Reference answer\n";
    p += expected;
  }
  p += "\n\n## Answer to grade\n";
  p += answer;
  p += "\n\n## Your reply\nReply with only a JSON object: {\"score\": S, \"reason\": \"one sentence\"}, where S is a"
       " number from 0 (fails the rubric) to 1 (fully meets it).";
  return p;
}

Result<double> parseJudgeScore(std::string_view reply) {
  std::vector<double> found;
  int attempts = 0;  // bounds the work on a long reply full of braces
  // 1. JSON objects anywhere in the reply with a numeric "score".
  for (size_t open = reply.find('{'); open != std::string_view::npos; open = reply.find('{', open + 1)) {
    // Try the shortest balanced candidate first: scan to each '}' after `open`.
    for (size_t close = reply.find('}', open); close != std::string_view::npos && ++attempts < 400;
         close = reply.find('}', close + 1)) {
      simdjson::dom::parser parser;
      simdjson::dom::element el;
      const std::string piece(reply.substr(open, close - open + 1));
      if (parser.parse(piece).get(el) != simdjson::SUCCESS) continue;
      simdjson::dom::object obj;
      if (el.get(obj) != simdjson::SUCCESS) break;
      double s = 0;
      simdjson::dom::element v;
      if (obj["score"].get(v) == simdjson::SUCCESS) {
        if (v.get(s) != simdjson::SUCCESS) {
          int64_t i = 0;
          uint64_t u = 0;
          if (v.get(i) == simdjson::SUCCESS) s = static_cast<double>(i);
          else if (v.get(u) == simdjson::SUCCESS) s = static_cast<double>(u);
          else return fail(ErrorCode::kCorruptData, "judge reply: \"score\" is not a number: " + clip(piece, 120));
        }
        found.push_back(s);
      }
      open = close;  // continue after this object
      break;
    }
  }
  // 2. "score: 0.8" or "score: 8/10" in prose.
  if (found.empty()) {
    static const RE2* const line = new RE2(R"((?i)\bscore\b\s*(?:is|of|=|:)?\s*\**\s*(-?\d+(?:\.\d+)?)(?:\s*/\s*(\d+(?:\.\d+)?))?)");
    re2::StringPiece in(reply.data(), reply.size());
    std::string x, of;
    while (RE2::FindAndConsume(&in, *line, &x, &of)) {
      double v = std::strtod(x.c_str(), nullptr);
      if (!of.empty()) {
        const double d = std::strtod(of.c_str(), nullptr);
        if (d <= 0) return fail(ErrorCode::kCorruptData, "judge reply: score out of " + of);
        v /= d;
      }
      found.push_back(v);
    }
  }
  if (found.empty())
    return fail(ErrorCode::kCorruptData, "judge reply has no score: '" + clip(reply, 120) + "'");
  for (double v : found)
    if (std::fabs(v - found[0]) > 1e-9)
      return fail(ErrorCode::kCorruptData, "judge reply gives different scores: '" + clip(reply, 120) + "'");
  if (!(found[0] >= 0 && found[0] <= 1))
    return fail(ErrorCode::kCorruptData, fmt::format("judge score {} is outside [0, 1]", found[0]));
  return found[0];
}

}  // namespace rightsize::evals
