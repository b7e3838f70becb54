#pragma once
// A loaded, checked eval suite: every case resolved (inline and JSONL), every grader compiled,
// every candidate and judge model known to the gateway config. Nothing here calls a model.
//
// JSONL case files: one object a line, {"id"?: str, "prompt": str | "messages": [...],
// "expected"?: str | number | any JSON (compared as its JSON text), "grader"?: {overrides}};
// unknown fields are ignored (so an outcomes file can serve as a case file).

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "config/eval_suite.h"
#include "evals/graders.h"

namespace rightsize::evals {

struct EvalCase {
  std::string id;              // unique in the suite
  std::string task;
  std::string prompt;          // set when the case is a prompt
  std::string messages_json;   // set when the case is a `messages` array (JSON text)
  std::string expected;
  std::string ask;             // the human's ask (prompt, or system + last user turn): what the judge sees
  std::shared_ptr<const Grader> grader;
  std::string where;           // FILE:LINE
};

struct EvalTask {
  std::string name;
  double pass_score = 0.5;
  std::string grader_kind;
  std::vector<size_t> cases;   // indices into Suite::cases
};

struct Suite {
  config::SuiteConfig cfg;
  std::vector<EvalTask> tasks;
  std::vector<EvalCase> cases;
};

// Loads the suite at `path` against the gateway config `gw`. kInvalidArgument (naming FILE:LINE)
// for: a candidate or judge model that is not a model of `gw`, duplicate case ids, a bad case
// line, or a grader that does not compile; kIo when a case file can't be read.
Result<Suite> loadSuite(const std::string& path, const config::Config& gw);
// Same, from an already parsed SuiteConfig (tests).
Result<Suite> buildSuite(config::SuiteConfig cfg, const config::Config& gw);

}  // namespace rightsize::evals
