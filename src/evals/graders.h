#pragma once
// Graders: turn a model's answer (and the case's `expected`) into a score in [0, 1].
//
//   exact        trimmed answer == trimmed expected (case-sensitive unless case_sensitive: false)
//   normalized   equal after lower-casing ASCII, dropping ASCII punctuation, collapsing whitespace
//   regex        the answer contains a match of the RE2 pattern (`pattern`, else `expected`);
//                case-sensitive unless case_sensitive: false
//   contains     the answer contains `expected` (case-insensitive unless case_sensitive: true)
//   choice       the multiple-choice letter extracted from the answer equals expected's letter
//   number       the number extracted from the answer is within tolerance of expected's number
//   json_schema  the answer (optionally in a ```json fence) is JSON valid against the schema
//   judge        a judge model scores the answer against a rubric (see judgePrompt/parseJudgeScore)
//
// A grader is compiled once (regex, schema) so bad options fail at suite load, before any call.
// Grading never throws and never fails for an answer's content: an empty, huge, binary or
// malformed answer just scores 0 with a reason. Only the judge's own output can be an error.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "config/eval_suite.h"

namespace rightsize::evals {

struct Grade {
  double score = 0;
  std::string detail;   // why (short, for the report and the outcome file)
};

class Grader {
 public:
  virtual ~Grader() = default;
  virtual const std::string& kind() const = 0;
  // Scores `answer`. Not for judge graders (isJudge()): the runner calls the judge model.
  virtual Grade grade(std::string_view answer, std::string_view expected) const = 0;
  virtual bool isJudge() const { return false; }
  virtual const config::GraderConfig& config() const = 0;
};

// Compiles `cfg` (kind and options already merged). kInvalidArgument naming `where` for a bad
// regex, a schema that is not JSON or not a valid JSON Schema, empty choices, or an unknown kind.
// `expected` is given for graders that compile it (regex without `pattern`).
Result<std::unique_ptr<Grader>> makeGrader(const config::GraderConfig& cfg, std::string_view expected,
                                           const std::string& where);

// Merges a case's overrides onto its task's grader (set fields win; kind stays the task's).
config::GraderConfig mergeGrader(const config::GraderConfig& task, const std::optional<config::GraderConfig>& over);

// The pieces the graders are made of, exposed for tests.
std::string normalizeAnswer(std::string_view s);
// The chosen letter in `answer` among `choices` (upper-case letters), or nullopt.
std::optional<char> extractChoice(std::string_view answer, std::string_view choices);
// The answer's number: after "####", "answer is", "answer:" when present, else the last number.
// Commas between digit groups are ignored; "1/2" is not a number (0.5 is).
std::optional<double> extractNumber(std::string_view answer);
// A JSON document inside an answer: the whole trimmed answer, or the content of its first
// ```json (or ```) fence.
std::string_view jsonPayload(std::string_view answer);

// The judge model's user message for one case.
std::string judgePrompt(std::string_view rubric, std::string_view question, std::string_view expected,
                        std::string_view answer);
// Reads the judge's score: a JSON object {"score": x} anywhere in the reply (x in [0, 1]),
// else "score: x" / "score: x/10" in prose. Prose without a score,
// a score out of range, or two different scores is kCorruptData (recorded as an error, never
// as a score).
Result<double> parseJudgeScore(std::string_view reply);

}  // namespace rightsize::evals
