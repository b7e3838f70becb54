#pragma once
// Answer checks for the cascade policy: does a cheap model's answer look good enough to stop
// escalating? Pure: these read an upstream's response body and decide; the judge's call to a
// model is made by the gateway (src/server/cascade_dispatch.cc), which uses judgePrompt() and
// parseJudgeScore() from here.
//
// Thread-safe after construction: every method is const.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "config/config.h"

namespace rightsize::routing {

// What the checks read from a Chat Completions response.
struct AnswerView {
  std::string text;                    // choices[0].message.content ("" when null)
  bool refusal_field = false;          // choices[0].message.refusal is a non-empty string
  bool has_tool_calls = false;         // choices[0].message.tool_calls is a non-empty array
  std::optional<double> mean_logprob;  // mean of choices[0].logprobs.content[*].logprob, when present
};

// Reads a non-streaming Chat Completions body. kCorruptData when it is not one.
Result<AnswerView> parseAnswer(std::string_view completion_body);

// The outcome of the local checks on one answer.
struct CheckVerdict {
  bool pass = true;
  std::string failed;   // the failing check's name ("json_schema", "regex", "not_refusal", "logprob", "judge")
  std::string detail;   // one line: why (never the answer's text)
};

// True when `text` opens like a refusal ("I can't help with that", "As an AI language model", ...).
bool looksLikeRefusal(std::string_view text);

// The user message sent to a judge model: the ask, the answer, and how to reply (an integer
// 0-10 and nothing else).
std::string judgePrompt(std::string_view ask, std::string_view answer);
// The judge's reply -> score in [0, 1]: the reply must be an integer 0..10 (optionally "/10",
// surrounding whitespace, a trailing period). Anything else is garbage: nullopt.
std::optional<double> parseJudgeScore(std::string_view reply);

class AnswerChecks {
 public:
  // Compiles the configured checks (regex patterns, JSON schemas). Errors name the config
  // source and line (kInvalidArgument).
  static Result<std::unique_ptr<AnswerChecks>> make(const config::CascadeConfig& cfg, const std::string& source,
                                                    const std::string& route_name);
  ~AnswerChecks();

  // Runs every check except the judge, in configured order; the first failure is the verdict.
  // `request_schema` is the request's response_format JSON schema (JSON text, "" if none),
  // used by a json_schema check that has no schema of its own. The logprob check applies only
  // when the upstream returned logprobs (an upstream without them passes it).
  CheckVerdict runLocal(const AnswerView& answer, std::string_view request_schema) const;

  // The upstream must be asked for logprobs (a logprob check is configured).
  bool wantsLogprobs() const { return wants_logprobs_; }
  // The judge check, if configured (at most one is used: the first).
  const config::CascadeCheck* judge() const { return judge_; }

 private:
  AnswerChecks() = default;
  struct Compiled;
  std::vector<std::unique_ptr<Compiled>> checks_;
  bool wants_logprobs_ = false;
  const config::CascadeCheck* judge_ = nullptr;
};

// A compiled JSON Schema (draft 7 and earlier keywords, as valijson supports), shared by the
// cascade's json_schema check and the evals' json_schema grader. Immutable; validate() is
// thread-safe.
class JsonSchema {
 public:
  // kInvalidArgument when the text is not JSON, not an object or boolean, or not a valid schema.
  static Result<JsonSchema> compile(std::string_view schema_json);
  // Whether `instance_json` is JSON matching the schema; else failed = "json_schema" and
  // `detail` gives the first error with its path (or "the answer is not JSON").
  CheckVerdict validate(std::string_view instance_json) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

// compile() + validate() in one call.
Result<CheckVerdict> validateJsonSchema(std::string_view schema_json, std::string_view instance_json);

}  // namespace rightsize::routing
