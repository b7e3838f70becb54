// Every grader, with the inputs that break naive ones: empty, unicode, huge, malformed.
#include <gtest/gtest.h>

#include <string>

#include "evals/graders.h"

namespace rightsize::evals {
namespace {

std::unique_ptr<Grader> grader(const std::string& kind, std::string_view expected = "",
                               void (*tweak)(config::GraderConfig&) = nullptr) {
  config::GraderConfig g;
  g.kind = kind;
  if (tweak) tweak(g);
  auto r = makeGrader(g, expected, "test:1");
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return r ? std::move(*r) : nullptr;
}

double score(const std::string& kind, std::string_view answer, std::string_view expected,
             void (*tweak)(config::GraderConfig&) = nullptr) {
  auto g = grader(kind, expected, tweak);
  return g ? g->grade(answer, expected).score : -1;
}

const std::string kHuge = std::string(8 << 20, 'x') + " B";  // 8 MB of noise, then the answer

TEST(ExactGrader, MatchesTrimmedTextCaseSensitively) {
  EXPECT_EQ(score("exact", "  Paris\n", "Paris"), 1.0);
  EXPECT_EQ(score("exact", "paris", "Paris"), 0.0);
  EXPECT_EQ(score("exact", "paris", "Paris", [](config::GraderConfig& g) { g.case_sensitive = false; }), 1.0);
  EXPECT_EQ(score("exact", "", "Paris"), 0.0);
  EXPECT_EQ(score("exact", "Zürich", "Zürich"), 1.0);
  EXPECT_EQ(score("exact", kHuge, "B"), 0.0);
}

TEST(NormalizedGrader, IgnoresCasePunctuationAndWhitespace) {
  EXPECT_EQ(score("normalized", "  The   Eiffel-Tower!\n", "the eiffeltower"), 1.0);
  EXPECT_EQ(score("normalized", "Paris.", "paris"), 1.0);
  EXPECT_EQ(score("normalized", "Lyon", "paris"), 0.0);
  EXPECT_EQ(score("normalized", "", "paris"), 0.0);
  // Non-ASCII bytes are kept as they are (no Unicode case folding): é stays é.
  EXPECT_EQ(score("normalized", "Café!", "café"), 1.0);
  EXPECT_EQ(normalizeAnswer("  A,  b;\tC  "), "a b c");
  EXPECT_EQ(normalizeAnswer("日本語。"), "日本語。");  // full-width punctuation is not ASCII punctuation
}

TEST(ContainsGrader, FindsExpectedCaseInsensitivelyByDefault) {
  EXPECT_EQ(score("contains", "The capital is PARIS, of course.", "paris"), 1.0);
  EXPECT_EQ(score("contains", "The capital is PARIS.", "paris", [](config::GraderConfig& g) { g.case_sensitive = true; }),
            0.0);
  EXPECT_EQ(score("contains", "", "paris"), 0.0);
  EXPECT_EQ(score("contains", "naïve café 東京", "東京"), 1.0);
  EXPECT_EQ(score("contains", kHuge, " B"), 1.0);
}

TEST(RegexGrader, SearchesWithRe2AndUsesExpectedWhenNoPattern) {
  EXPECT_EQ(score("regex", "order #12345 shipped", R"(#\d{5}\b)"), 1.0);
  EXPECT_EQ(score("regex", "order #1234 shipped", R"(#\d{5}\b)"), 0.0);
  EXPECT_EQ(score("regex", "", R"(^$)"), 1.0);
  EXPECT_EQ(score("regex", "YES", "yes"), 0.0);
  EXPECT_EQ(score("regex", "YES", "yes", [](config::GraderConfig& g) { g.case_sensitive = false; }), 1.0);
  EXPECT_EQ(score("regex", "ünïcödé", "c.d"), 1.0);
  EXPECT_EQ(score("regex", "anything", "", [](config::GraderConfig& g) { g.pattern = "^any"; }), 1.0);
  // RE2 is linear: a pathological pattern on a huge answer finishes.
  EXPECT_EQ(score("regex", kHuge, "(x+x+)+y"), 0.0);
}

TEST(RegexGrader, RejectsAnInvalidPatternAtLoad) {
  config::GraderConfig g;
  g.kind = "regex";
  g.pattern = "(unclosed";
  auto r = makeGrader(g, "", "suite.yaml:7");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("suite.yaml:7"), std::string::npos);
  EXPECT_NE(r.error().message.find("invalid RE2 pattern"), std::string::npos);
  g.pattern.reset();
  EXPECT_FALSE(makeGrader(g, "", "x").has_value()) << "no pattern and no expected";
}

TEST(ChoiceGrader, ExtractsTheLetterFromManyAnswerShapes) {
  EXPECT_EQ(extractChoice("B", "ABCD"), 'B');
  EXPECT_EQ(extractChoice("B\n", "ABCD"), 'B');
  EXPECT_EQ(extractChoice("(C)", "ABCD"), 'C');
  EXPECT_EQ(extractChoice("D) impact of an asteroid", "ABCD"), 'D');
  EXPECT_EQ(extractChoice("**A**", "ABCD"), 'A');
  EXPECT_EQ(extractChoice("The answer is C.", "ABCD"), 'C');
  EXPECT_EQ(extractChoice("Answer: (B)", "ABCD"), 'B');
  EXPECT_EQ(extractChoice("I think B is right", "ABCD"), 'B');
  EXPECT_EQ(extractChoice("b", "ABCD"), 'B');
  EXPECT_EQ(extractChoice("I do", "AB"), std::nullopt);            // claude-v2's famous non-answer
  EXPECT_EQ(extractChoice("a cat sat on the mat", "ABCD"), std::nullopt);
  EXPECT_EQ(extractChoice("", "ABCD"), std::nullopt);
  EXPECT_EQ(extractChoice("E", "ABCD"), std::nullopt);
  EXPECT_EQ(extractChoice("答案是 B", "ABCD"), 'B');
  EXPECT_EQ(extractChoice(kHuge, "ABCD"), 'B');
}

TEST(ChoiceGrader, ScoresAgainstExpectedLetter) {
  EXPECT_EQ(score("choice", "D\n", "D"), 1.0);
  EXPECT_EQ(score("choice", "C", "D"), 0.0);
  EXPECT_EQ(score("choice", "", "D"), 0.0);
  EXPECT_EQ(score("choice", "B", "B) house"), 1.0);
  EXPECT_EQ(score("choice", "C", "C", [](config::GraderConfig& g) { g.choices = "AB"; }), 0.0);
  config::GraderConfig g;
  g.kind = "choice";
  g.choices = "A1";
  EXPECT_FALSE(makeGrader(g, "", "x").has_value());
}

TEST(NumberGrader, ExtractsTheFinalNumber) {
  EXPECT_EQ(extractNumber("so 3 + 4 = 7"), 7.0);
  EXPECT_EQ(extractNumber("The answer is 42. I am 90% sure."), 42.0);
  EXPECT_EQ(extractNumber("#### 1,234"), 1234.0);
  EXPECT_EQ(extractNumber("-0.5"), -0.5);
  EXPECT_EQ(extractNumber("6.02e23 molecules"), 6.02e23);
  EXPECT_EQ(extractNumber("no digits here"), std::nullopt);
  EXPECT_EQ(extractNumber(""), std::nullopt);
  EXPECT_EQ(extractNumber("résultat: ٣"), std::nullopt);  // Arabic-Indic digits are not parsed
}

TEST(NumberGrader, ComparesWithinTolerance) {
  EXPECT_EQ(score("number", "about 3.14159", "3.1416", [](config::GraderConfig& g) { g.tolerance = 1e-3; }), 1.0);
  EXPECT_EQ(score("number", "3.2", "3.1416", [](config::GraderConfig& g) { g.tolerance = 1e-3; }), 0.0);
  EXPECT_EQ(score("number", "1050", "1000", [](config::GraderConfig& g) { g.rel_tolerance = 0.1; }), 1.0);
  EXPECT_EQ(score("number", "7", "7"), 1.0);
  EXPECT_EQ(score("number", "", "7"), 0.0);
  EXPECT_EQ(score("number", "seven", "7"), 0.0);
  EXPECT_EQ(score("number", "7", "not a number"), 0.0);
  EXPECT_EQ(score("number", std::string(1 << 20, '9') + " 5", "5"), 1.0);  // a huge digit run is not finite: skipped
}

constexpr const char* kPersonSchema =
    R"({"type":"object","required":["name","age"],"properties":{"name":{"type":"string","minLength":1},)"
    R"("age":{"type":"integer","minimum":0}},"additionalProperties":false})";

TEST(JsonSchemaGrader, ValidatesTheAnswerAgainstTheSchema) {
  auto tweak = [](config::GraderConfig& g) { g.schema = kPersonSchema; };
  EXPECT_EQ(score("json_schema", R"({"name":"Zoë","age":31})", "", tweak), 1.0);
  EXPECT_EQ(score("json_schema", "Sure!\n```json\n{\"name\":\"Ana\",\"age\":3}\n```\n", "", tweak), 1.0);
  EXPECT_EQ(score("json_schema", R"({"name":"Ana","age":-1})", "", tweak), 0.0);
  EXPECT_EQ(score("json_schema", R"({"name":"Ana"})", "", tweak), 0.0);
  EXPECT_EQ(score("json_schema", R"({"name":"Ana","age":3,"x":1})", "", tweak), 0.0);
  EXPECT_EQ(score("json_schema", "", "", tweak), 0.0);
  EXPECT_EQ(score("json_schema", "{not json", "", tweak), 0.0);
  EXPECT_EQ(score("json_schema", kHuge, "", tweak), 0.0);
  auto g = grader("json_schema", "", tweak);
  ASSERT_TRUE(g);
  const Grade bad = g->grade(R"({"name":"Ana","age":"three"})", "");
  EXPECT_EQ(bad.score, 0.0);
  EXPECT_NE(bad.detail.find("age"), std::string::npos) << bad.detail;
}

TEST(JsonSchemaGrader, RejectsAnInvalidSchemaAtLoad) {
  for (const char* schema : {"{not json", "[1,2]", R"({"type":"bogus"})", R"({"type":5})", R"({"minimum":"zero"})"}) {
    config::GraderConfig g;
    g.kind = "json_schema";
    g.schema = schema;
    auto r = makeGrader(g, "", "suite.yaml:3");
    EXPECT_FALSE(r.has_value()) << schema;
    if (!r) {
      EXPECT_NE(r.error().message.find("suite.yaml:3"), std::string::npos);
    }
  }
}

TEST(JudgeScore, ParsesJsonAndProseScores) {
  EXPECT_DOUBLE_EQ(*parseJudgeScore(R"({"score": 0.8, "reason": "good"})"), 0.8);
  EXPECT_DOUBLE_EQ(*parseJudgeScore("Here is my verdict:\n```json\n{\"score\": 1, \"reason\": \"ok\"}\n```"), 1.0);
  EXPECT_DOUBLE_EQ(*parseJudgeScore(R"({"reason": "uses {braces}", "score": 0})"), 0.0);
  EXPECT_DOUBLE_EQ(*parseJudgeScore("Score: 7/10"), 0.7);
  EXPECT_DOUBLE_EQ(*parseJudgeScore("I'd give it a score of 0.5."), 0.5);
}

TEST(JudgeScore, RefusesProseWithoutAScoreOutOfRangeOrContradictions) {
  for (const char* reply : {"", "The answer is quite good, well structured and mostly correct.",
                            R"({"score": "high"})", R"({"score": 8})", "Score: 1.5", "score: 0.2 ... final score: 0.9",
                            R"({"score": -0.1})", "{{{{{{{{{{"}) {
    auto r = parseJudgeScore(reply);
    EXPECT_FALSE(r.has_value()) << "'" << reply << "' gave " << (r ? *r : -1);
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kCorruptData);
    }
  }
  // A huge reply full of braces finishes and is an error, not a score.
  EXPECT_FALSE(parseJudgeScore(std::string(200000, '{') + std::string(200000, '}')).has_value());
}

TEST(JudgePrompt, CarriesRubricQuestionReferenceAndAnswer) {
  const std::string p = judgePrompt("Must mention Paris.", "Capital of France?", "Paris", "It is Lyon.");
  EXPECT_NE(p.find("Must mention Paris."), std::string::npos);
  EXPECT_NE(p.find("Capital of France?"), std::string::npos);
  EXPECT_NE(p.find("## Reference answer\nParis"), std::string::npos);
  EXPECT_NE(p.find("It is Lyon."), std::string::npos);
  EXPECT_NE(p.find("\"score\""), std::string::npos);
  EXPECT_EQ(judgePrompt("r", "q", "", "a").find("Reference answer"), std::string::npos);
}

TEST(MergeGrader, CaseOverridesWinAndKindStays) {
  config::GraderConfig task;
  task.kind = "number";
  task.tolerance = 0.5;
  config::GraderConfig over;
  over.kind = "exact";  // ignored: a case can't change the kind
  over.tolerance = 0.01;
  auto m = mergeGrader(task, over);
  EXPECT_EQ(m.kind, "number");
  EXPECT_EQ(*m.tolerance, 0.01);
  EXPECT_EQ(*mergeGrader(task, std::nullopt).tolerance, 0.5);
}

}  // namespace
}  // namespace rightsize::evals
