#pragma once
// Answer extractors for consensus (the cascade's `agree` stage, cascade replay, the planner):
// turn a model's answer text into a small comparable value, so that two answers "agree" when
// their values are equal. Pure functions; an Extractor is immutable and thread-safe.
//
// Spec strings (parsed once, at config load or on the command line):
//   json:FIELD     the first JSON object in the text (a ```json fence or bare), then its top-level FIELD
//                  (a string as is, a number numerically, true/false/null as written, else its JSON text)
//   regex:PATTERN  the first capture group of the first RE2 match (the whole match when no group)
//   number         the final number in the text: "18", "18.0", "$18", "1,234" -> canonical decimal
//   choice         one option letter A–J: "B", "(B)", "B.", "**B**", "The answer is (B)", "Answer: B"
//   answer         the final answer of a mixed workload: the option letter as `choice` when the text
//                  gives one, else the final number as `number` (multiple choice and math in one route)
//   text           the whole text
// Every value is then normalized: trimmed, surrounding quotes stripped, whitespace collapsed,
// ASCII case folded. No value (nothing found, or empty after normalizing) is no vote.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace rightsize::routing {

class Extractor {
 public:
  // Parses a spec string. kInvalidArgument naming the spec when it is unknown, a json: without a
  // field, or a regex that RE2 rejects.
  static Result<Extractor> parse(std::string_view spec);

  // The normalized value of `answer`, or nullopt (no vote).
  std::optional<std::string> extract(std::string_view answer) const;

  // The spec as given (for messages and written configs).
  const std::string& spec() const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

// Trim, strip one pair of surrounding quotes ("", '', ``), collapse runs of whitespace to one
// space, fold ASCII letters to lower case. Non-ASCII bytes are kept as they are.
std::string normalizeAnswer(std::string_view s);

}  // namespace rightsize::routing
