#pragma once
// Outcome files (what `eval` writes and `train`, `score`, `simulate` read) and prompt files
// (what `decide` reads). JSON Lines, gzip optional (detected from the bytes, not the name).
//
//   {"id": "...", "task": "...", "prompt": "..." | "messages": [...],
//    "outcomes": {"model": {"score": 0..1, "cost_usd": >= 0, "response": "..."}, ...}}
// (`response`, the model's answer text, is optional; cascade replay and `plan` need it.)
//
// Strictness: a line that is not a JSON object, lacks `id`, has both or neither of `prompt`
// and `messages`, repeats an earlier id, or has an outcome without a numeric `score` in
// [0, 1] or a numeric `cost_usd` >= 0 is an error naming FILE:LINE. Blank lines are skipped.
// Unknown fields are ignored. A model missing from some records is allowed: its cells are
// NaN ("no outcome"). A `messages` prompt is reduced to the human's ask (api::humanAsk).

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <simdjson.h>

#include "common/result.h"
#include "routing/trainer.h"

namespace rightsize::evals {

struct OutcomeSet {
  std::vector<std::string> models;   // in order of first appearance
  std::vector<std::string> ids;
  std::vector<std::string> tasks;    // "" when absent
  std::vector<std::string> asks;     // the text routed on
  std::vector<std::string> where;    // "FILE:LINE" of each record, for messages
  std::vector<float> score;          // ids.size() * models.size(); NaN = no outcome
  std::vector<double> cost_usd;      // same; double: a sum of costs is compared with the ledger's nano-dollars
  std::vector<std::string> response; // same; the outcome's "response" text ("" when absent)
  std::vector<bool> has_response;    // same; the outcome had a "response" string
  size_t responses_present = 0;      // how many outcomes had one
  std::map<std::string, size_t> index;  // id -> record

  size_t size() const { return ids.size(); }
  float scoreAt(size_t i, size_t m) const { return score[i * models.size() + m]; }
  double costAt(size_t i, size_t m) const { return cost_usd[i * models.size() + m]; }
  bool hasResponse(size_t i, size_t m) const { return has_response[i * models.size() + m]; }
  const std::string& responseAt(size_t i, size_t m) const { return response[i * models.size() + m]; }
  bool has(size_t i, size_t m) const;
  int modelIndex(const std::string& name) const;
};

// Reads and merges outcome files (ids must be unique across all of them). Errors: kIo when a
// file can't be read, kCorruptData (with FILE:LINE) for a bad line, kInvalidArgument when
// there are no records.
Result<OutcomeSet> readOutcomes(const std::vector<std::string>& paths);

struct PromptRecord {
  std::string id;
  std::string ask;
};

// Reads a prompts file for `decide`: only `id` and `prompt`/`messages` are read; `outcomes`
// and every other field are ignored whatever they hold. Same line rules as above.
Result<std::vector<PromptRecord>> readPrompts(const std::string& path);

// Calls fn(where, object) for every non-blank line of JSON Lines `text` (where = "PATH:LINE"),
// stopping at fn's first error. A line that is not a JSON object is a kCorruptData error naming it.
using JsonLineFn = std::function<Result<void>(const std::string& where, simdjson::dom::object obj)>;
Result<void> forEachJsonLine(const std::string& text, const std::string& path, const JsonLineFn& fn);

// Reads a whole file, gunzipping it when it is gzip (plain files pass through). kIo on failure.
Result<std::string> readMaybeGzip(const std::string& path);

// The training view: only `models` (all when empty; each must exist, else kInvalidArgument),
// dropping records that have none of them.
Result<routing::TrainingData> toTrainingData(const OutcomeSet& set, const std::vector<std::string>& models);

// The same set with only `models` (in that order; each must exist, else kInvalidArgument),
// dropping records that have none of them: e.g. a two-model pair out of a many-model set.
Result<OutcomeSet> restrictModels(const OutcomeSet& set, const std::vector<std::string>& models);

// The same set with only records `rows` (indices into `set`, in that order; each < set.size()):
// e.g. a planning split and a judging split of one file.
OutcomeSet restrictRecords(const OutcomeSet& set, const std::vector<size_t>& rows);

}  // namespace rightsize::evals
