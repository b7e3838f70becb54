// Suite YAML, JSONL case files and their errors; the runner end to end against the replay
// provider (a file, no network): outcomes, costs, resume, stale cases, failures as errors.
#include <gtest/gtest.h>

#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "config/config.h"
#include "config/eval_suite.h"
#include "evals/eval_report.h"
#include "evals/outcomes.h"
#include "evals/runner.h"
#include "evals/suite.h"

namespace rightsize::evals {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "rs_eval_test_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name, const std::string& text) const {
    const std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  std::string path(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

config::Config gatewayConfig(const TempDir& dir) {
  // Two recorded prompts; "small" gets one right, "big" both.
  const std::string data = dir.file("replay.jsonl",
      R"({"id":"r1","prompt":"What is 2+2? Answer with A) 3 or B) 4","outcomes":{"small-id":{"score":1,"cost_usd":0,"response":"B"},"big-id":{"score":1,"cost_usd":0,"response":"The answer is B."}}})"
      "\n"
      R"({"id":"r2","prompt":"Capital of France?","outcomes":{"small-id":{"score":0,"cost_usd":0,"response":"Lyon"},"big-id":{"score":1,"cost_usd":0,"response":"Paris."}}})"
      "\n");
  const std::string yaml = "providers:\n  rec: {kind: replay, data: \"" + data +
                           "\"}\n"
                           "models:\n"
                           "  small: {provider: rec, id: small-id, input_usd_per_mtok: 1, output_usd_per_mtok: 2}\n"
                           "  big: {provider: rec, id: big-id, input_usd_per_mtok: 10, output_usd_per_mtok: 30}\n";
  auto cfg = config::parseConfig(yaml, "gw.yaml", [](const std::string&) { return std::nullopt; });
  EXPECT_TRUE(cfg.has_value()) << (cfg ? "" : cfg.error().message);
  return *cfg;
}

Result<Suite> suiteFrom(const TempDir& dir, const std::string& yaml, const config::Config& gw) {
  return loadSuite(dir.file("suite.yaml", yaml), gw);
}

const char* kSuite = R"(name: demo
candidates: [small, big]
concurrency: 2
tasks:
  - name: arithmetic
    grader: {kind: choice, choices: AB}
    cases:
      - {id: add, prompt: "What is 2+2? Answer with A) 3 or B) 4", expected: B}
  - name: capitals
    grader: {kind: normalized}
    cases_file: capitals.jsonl
)";

TEST(SuiteConfig, ReportsUnknownKeysAndMissingPiecesWithLines) {
  auto bad = [](const std::string& yaml) {
    auto r = config::parseSuite(yaml, "s.yaml", "");
    EXPECT_FALSE(r.has_value()) << yaml;
    return r ? std::string() : r.error().message;
  };
  EXPECT_NE(bad("candidates: [a]\ntasks:\n  - name: t\n    grader: {kind: exact}\n    cases: [{prompt: p, expected: e}]\n"
                "colour: red\n")
                .find("s.yaml:6: unknown key 'colour'"),
            std::string::npos);
  EXPECT_NE(bad("candidates: []\ntasks: []\n").find("candidates must be a non-empty list"), std::string::npos);
  EXPECT_NE(bad("candidates: [a]\ntasks:\n  - name: t\n    grader: {kind: fuzzy}\n    cases: [{prompt: p}]\n")
                .find("unknown grader kind 'fuzzy'"),
            std::string::npos);
  EXPECT_NE(bad("candidates: [a]\ntasks:\n  - name: t\n    grader: {kind: judge}\n    cases: [{prompt: p}]\n")
                .find("needs 'model'"),
            std::string::npos);
  EXPECT_NE(bad("candidates: [a]\ntasks:\n  - name: t\n    grader: {kind: exact}\n").find("has no cases"),
            std::string::npos);
  EXPECT_NE(bad("candidates: [a]\ntasks:\n  - name: t\n    grader: {kind: exact}\n    cases: [{prompt: p, messages: "
                "[{role: user, content: x}]}]\n")
                .find("both 'prompt' and 'messages'"),
            std::string::npos);
  EXPECT_NE(bad("candidates: [a, a]\ntasks: []\n").find("listed twice"), std::string::npos);
  EXPECT_NE(bad("{{{").find("not valid YAML"), std::string::npos);
}

TEST(SuiteConfig, TurnsYamlSchemasAndMessagesIntoJson) {
  auto r = config::parseSuite(R"(candidates: [a]
tasks:
  - name: extract
    grader:
      kind: json_schema
      schema: {type: object, required: [n], properties: {n: {type: integer, minimum: 1}}}
    cases:
      - messages: [{role: system, content: "Reply in JSON"}, {role: user, content: "n is \"7\""}]
)",
                              "s.yaml", "");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(*r->tasks[0].grader.schema,
            R"({"type":"object","required":["n"],"properties":{"n":{"type":"integer","minimum":1}}})");
  EXPECT_EQ(*r->tasks[0].cases[0].messages_json,
            R"([{"role":"system","content":"Reply in JSON"},{"role":"user","content":"n is \"7\""}])");
}

TEST(Suite, LoadsInlineAndJsonlCasesAndChecksModels) {
  TempDir dir;
  auto gw = gatewayConfig(dir);
  dir.file("capitals.jsonl", R"({"id": "fr", "prompt": "Capital of France?", "expected": "paris"})"
                             "\n\n"
                             R"({"prompt": "Capital of Spain?", "expected": "Madrid", "extra": 1})"
                             "\n");
  auto s = suiteFrom(dir, kSuite, gw);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  ASSERT_EQ(s->cases.size(), 3u);
  EXPECT_EQ(s->cases[1].id, "fr");
  EXPECT_EQ(s->cases[2].id, "capitals.2");
  EXPECT_EQ(s->tasks[1].cases.size(), 2u);

  auto unknown = suiteFrom(dir, std::string(kSuite).replace(std::string(kSuite).find("small, big"), 10, "small, gpt-9"), gw);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().message.find("candidate 'gpt-9' is not a model"), std::string::npos);

  dir.file("capitals.jsonl", R"({"id": "add", "prompt": "dup", "expected": "x"})"
                             "\n");
  auto dup = suiteFrom(dir, kSuite, gw);
  ASSERT_FALSE(dup.has_value());
  EXPECT_NE(dup.error().message.find("case id 'add' is already used"), std::string::npos);

  dir.file("capitals.jsonl", "{\"prompt\": \"no expected\"}\n");
  auto badline = suiteFrom(dir, kSuite, gw);
  ASSERT_FALSE(badline.has_value());
  EXPECT_NE(badline.error().message.find("capitals.jsonl:1"), std::string::npos) << badline.error().message;

  dir.file("capitals.jsonl", "{\"prompt\": \"p\", \"expected\": \"x\"}\nnot json\n");
  auto notjson = suiteFrom(dir, kSuite, gw);
  ASSERT_FALSE(notjson.has_value());
  EXPECT_NE(notjson.error().message.find("capitals.jsonl:2"), std::string::npos) << notjson.error().message;

  dir.file("capitals.jsonl", R"({"prompt": "p", "expected": "x", "grader": {"pattern": "("}})"
                             "\n");
  auto badover = suiteFrom(dir, std::string(kSuite).replace(std::string(kSuite).find("normalized"), 10, "regex"), gw);
  ASSERT_FALSE(badover.has_value());
  EXPECT_NE(badover.error().message.find("invalid RE2 pattern"), std::string::npos);
}

TEST(Runner, WritesOutcomesThatTrainReadsAndResumes) {
  TempDir dir;
  auto gw = gatewayConfig(dir);
  dir.file("capitals.jsonl", R"({"id": "fr", "prompt": "Capital of France?", "expected": "paris"})"
                             "\n");
  auto s = suiteFrom(dir, kSuite, gw);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  RunOptions opt;
  opt.out = dir.path("out.jsonl.gz");
  auto sum = runSuite(*s, gw, opt);
  ASSERT_TRUE(sum.has_value()) << sum.error().message;
  EXPECT_EQ(sum->cells_total, 4u);
  EXPECT_EQ(sum->cells_run, 4u);
  EXPECT_EQ(sum->cells_failed, 0u);
  EXPECT_FALSE(fs::exists(opt.out + ".partial.jsonl"));

  // The file is gzip and train's reader takes it.
  auto set = readOutcomes({opt.out});
  ASSERT_TRUE(set.has_value()) << set.error().message;
  ASSERT_EQ(set->size(), 2u);
  const int small = set->modelIndex("small"), big = set->modelIndex("big");
  ASSERT_GE(small, 0);
  ASSERT_GE(big, 0);
  const size_t fr = set->index.at("fr"), add = set->index.at("add");
  EXPECT_EQ(set->scoreAt(fr, small), 0.0f);
  EXPECT_EQ(set->scoreAt(fr, big), 1.0f);
  EXPECT_EQ(set->scoreAt(add, small), 1.0f);
  EXPECT_EQ(set->scoreAt(add, big), 1.0f);
  // Replay usage: ceil(chars / 4) tokens. "Capital of France?" = 18 chars -> 5 in; "Paris." -> 2 out.
  EXPECT_NEAR(set->costAt(fr, big), (5 * 10 + 2 * 30) / 1e6, 1e-12);

  auto stats = taskStats(*s, sum->results);
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[1].models[0].pass_rate, 0.0);  // small on capitals
  EXPECT_EQ(stats[1].models[1].pass_rate, 1.0);
  auto sel = selectCheapest(stats, 0.9);
  EXPECT_EQ(*sel[0].chosen, "small");
  EXPECT_EQ(*sel[1].chosen, "big");
  EXPECT_GT(sel[0].savings, 0.5);

  // Rerun: nothing to do.
  auto again = runSuite(*s, gw, opt);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->cells_skipped, 4u);
  EXPECT_EQ(again->cells_run, 0u);
  EXPECT_EQ(again->calls, 0u);

  // A changed expected answer makes that case stale: it runs again, the rest does not.
  dir.file("capitals.jsonl", R"({"id": "fr", "prompt": "Capital of France?", "expected": "lyon"})"
                             "\n");
  auto s2 = suiteFrom(dir, kSuite, gw);
  ASSERT_TRUE(s2.has_value());
  auto third = runSuite(*s2, gw, opt);
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->cells_run, 2u);
  EXPECT_EQ(third->cells_skipped, 2u);
}

TEST(Runner, ResumesFromAnInterruptedJournalIgnoringATornLine) {
  TempDir dir;
  auto gw = gatewayConfig(dir);
  dir.file("capitals.jsonl", R"({"id": "fr", "prompt": "Capital of France?", "expected": "paris"})"
                             "\n");
  auto s = suiteFrom(dir, kSuite, gw);
  ASSERT_TRUE(s.has_value());
  RunOptions opt;
  opt.out = dir.path("out.jsonl");
  // What a killed run leaves: a journal with one finished case (scores made up, so we can tell
  // they were kept rather than recomputed) and half a line.
  dir.file("out.jsonl.partial.jsonl",
           R"({"id":"add","task":"arithmetic","prompt":"What is 2+2? Answer with A) 3 or B) 4","expected":"B","outcomes":{"small":{"score":0.25,"cost_usd":0.5},"big":{"score":0.75,"cost_usd":0.5}}})"
           "\n"
           R"({"id":"fr","task":"capitals","prompt":"Capit)");
  auto sum = runSuite(*s, gw, opt);
  ASSERT_TRUE(sum.has_value()) << sum.error().message;
  EXPECT_EQ(sum->cells_skipped, 2u);
  EXPECT_EQ(sum->cells_run, 2u);
  auto set = readOutcomes({opt.out});
  ASSERT_TRUE(set.has_value()) << set.error().message;
  EXPECT_EQ(set->scoreAt(set->index.at("add"), set->modelIndex("small")), 0.25f);
  EXPECT_FALSE(fs::exists(opt.out + ".partial.jsonl"));
  // A journal that is corrupt before its last line is an error, not silently dropped data.
  dir.file("out.jsonl.partial.jsonl", "garbage\n{\"id\":\"add\"}\n");
  auto bad = runSuite(*s, gw, opt);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("partial.jsonl:1"), std::string::npos);
}

TEST(Runner, RecordsAnUnrecordedPromptAsAnErrorNotAScore) {
  TempDir dir;
  auto gw = gatewayConfig(dir);
  dir.file("capitals.jsonl", R"({"id": "de", "prompt": "Capital of Germany?", "expected": "Berlin"})"
                             "\n");
  auto s = suiteFrom(dir, kSuite, gw);
  ASSERT_TRUE(s.has_value());
  RunOptions opt;
  opt.out = dir.path("out.jsonl");
  auto sum = runSuite(*s, gw, opt);
  ASSERT_TRUE(sum.has_value());
  EXPECT_EQ(sum->cells_failed, 2u);
  auto results = readResults(opt.out, false);
  ASSERT_TRUE(results.has_value());
  const auto& de = results->at("de");
  EXPECT_FALSE(de.cells.at("small").scored);
  EXPECT_NE(de.cells.at("small").error.find("not in the recorded data"), std::string::npos);
  auto stats = taskStats(*s, sum->results);
  EXPECT_EQ(stats[1].models[0].errors, 1u);
  EXPECT_EQ(stats[1].models[0].pass_rate, 0.0);
  // train's reader accepts the record (no outcomes for it).
  EXPECT_TRUE(readOutcomes({opt.out}).has_value());
}

TEST(EvalReport, MarkdownHtmlAndSelectionSnippet) {
  TempDir dir;
  auto gw = gatewayConfig(dir);
  dir.file("capitals.jsonl", R"({"id": "fr", "prompt": "Capital of France?", "expected": "paris"})"
                             "\n");
  auto s = suiteFrom(dir, kSuite, gw);
  ASSERT_TRUE(s.has_value());
  RunOptions opt;
  opt.out = dir.path("out.jsonl");
  auto sum = runSuite(*s, gw, opt);
  ASSERT_TRUE(sum.has_value());
  auto stats = taskStats(*s, sum->results);
  const std::string md = reportMarkdown(*s, stats);
  EXPECT_NE(md.find("| small | 100.0% (1/1) |"), std::string::npos) << md;
  const std::string html = reportHtml(*s, stats, sum->results);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(html.find("<?xml"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("router hull"), std::string::npos);
  size_t svgs = 0;
  for (size_t p = html.find("<svg"); p != std::string::npos; p = html.find("<svg", p + 1)) ++svgs;
  EXPECT_EQ(svgs, 2u);
  const std::string text = selectionText(selectCheapest(stats, 0.9), 0.9, {"small", "big"});
  EXPECT_NE(text.find("routes:\n  arithmetic:\n    candidates: [small]\n    policy: fixed\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  capitals:\n    candidates: [big]\n"), std::string::npos) << text;
  // The snippet parses as a gateway config once models are added.
  const std::string snippet = text.substr(text.find("routes:"));
  const std::string yaml = "providers:\n  rec: {kind: replay, data: \"" + dir.path("replay.jsonl") +
                           "\"}\nmodels:\n  small: {provider: rec}\n  big: {provider: rec}\n" + snippet;
  auto cfg = config::parseConfig(yaml, "pasted.yaml", [](const std::string&) { return std::nullopt; });
  EXPECT_TRUE(cfg.has_value()) << (cfg ? "" : cfg.error().message) << "\n" << yaml;
}

}  // namespace
}  // namespace rightsize::evals
