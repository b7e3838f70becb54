#pragma once
// Eval suites (`rightsize eval --suite FILE`): YAML -> plain structs. Only the YAML side lives
// here (config/ is the one folder that includes yaml-cpp); evals/suite.h loads JSONL case files,
// checks candidates against the gateway config and compiles the graders.
//
//   name: support-bot
//   candidates: [small-local, gpt-4o-mini, gpt-4o]     # model names of the gateway config
//   concurrency: 4          # calls in flight (default 4)
//   timeout_ms: 60000       # per upstream attempt (lowers the provider's own timeouts)
//   max_attempts: 3         # per call, retryable failures only (default: the provider's retry setting)
//   max_tokens: 512         # sent with every request (optional)
//   temperature: 0          # sent with every request (optional)
//   system: "..."           # system prompt prepended to `prompt` cases (optional)
//   tasks:
//     - name: triage
//       grader: {kind: choice, choices: "ABCD"}
//       pass_score: 1.0     # a case passes when score >= this (default 0.5)
//       cases_file: triage.jsonl        # JSONL: {"id"?, "prompt"|"messages", "expected"?, "grader"?: {...}}
//       cases:                          # and/or inline, same fields
//         - {id: t1, prompt: "...", expected: "B"}
//
// Unknown keys are errors naming FILE:LINE. Relative `cases_file` / `schema_file` paths resolve
// against the suite file's directory.

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace rightsize::config {

// Grader settings. Per-case `grader:` objects override the set fields of their task's grader
// (any key except `kind`).
struct GraderConfig {
  std::string kind;                      // exact|normalized|regex|contains|choice|number|json_schema|judge
  std::optional<bool> case_sensitive;    // contains (default false); exact, regex (default true)
  std::optional<std::string> pattern;    // regex: RE2 pattern; default: the case's `expected`
  std::optional<std::string> choices;    // choice: allowed letters, default "ABCDEFGHIJ"
  std::optional<double> tolerance;       // number: absolute tolerance (default 1e-6)
  std::optional<double> rel_tolerance;   // number: relative tolerance (default 0)
  std::optional<std::string> schema;     // json_schema: the JSON Schema as JSON text
  std::optional<std::string> model;      // judge: the judge model (a model name of the gateway config)
  std::optional<std::string> rubric;     // judge: what a good answer is
  int line = 0;                          // where it was written (0 = a JSONL case)
};

struct CaseConfig {
  std::string id;                        // empty: "<task>.<n>" is given by the loader
  std::optional<std::string> prompt;     // exactly one of prompt / messages_json
  std::optional<std::string> messages_json;  // OpenAI `messages` array, as JSON text
  std::string expected;
  std::optional<GraderConfig> grader;    // overrides
  std::string where;                     // "FILE:LINE"
};

struct TaskConfig {
  std::string name;
  GraderConfig grader;
  double pass_score = 0.5;
  std::vector<std::string> cases_files;  // resolved paths
  std::vector<CaseConfig> cases;         // inline cases
  int line = 0;
};

struct SuiteConfig {
  std::string name;
  std::vector<std::string> candidates;
  int concurrency = 4;
  std::optional<int> timeout_ms;
  std::optional<int> max_attempts;
  std::optional<int> max_tokens;
  std::optional<double> temperature;
  std::string system;
  std::vector<TaskConfig> tasks;
  std::string source;                    // the file, for messages
};

// Parses suite YAML. Errors are kInvalidArgument "FILE:LINE: ...". Checks structure and types;
// grader option values that need compiling (regex, schema) are checked by evals::loadSuite.
Result<SuiteConfig> parseSuite(const std::string& yaml_text, const std::string& source, const std::string& base_dir);
Result<SuiteConfig> loadSuiteFile(const std::string& path);

// The grader kinds parseSuite accepts.
const std::vector<std::string>& graderKinds();

}  // namespace rightsize::config
