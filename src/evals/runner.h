#pragma once
// The eval runner: every case x every candidate, through the same upstream code the gateway
// uses (upstream::makeProvider / Provider::complete, so every provider kind works), with a
// concurrency limit, retries with backoff (Retry-After honoured), per-attempt timeouts,
// cost from usage x the model's prices, latency, judge calls, and resumability.
//
// Files (OUT = the --out path; gzip when it ends in ".gz"):
//   OUT                  the outcomes file (SPEC "Data formats"), rewritten whole at the end of a
//                        run: written to OUT.tmp, then renamed, so OUT is always complete.
//   OUT.partial.jsonl    a plain JSONL journal, one line per finished case, flushed line by line
//                        while the run goes. An interrupted run leaves it behind; the next run
//                        reads OUT and the journal (a torn last line is ignored), skips every
//                        (case, model) that already has a score, and deletes the journal once OUT
//                        is rewritten.
// A cell whose call or judge failed after retries is recorded under the record's "errors"
// object (never as a score) and is tried again on the next run.

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "evals/suite.h"

namespace rightsize::evals {

// One model's result on one case.
struct Cell {
  bool scored = false;
  double score = 0;
  double cost_usd = 0;          // the candidate's call (usage x prices)
  double judge_cost_usd = 0;    // the judge's call, when a judge graded it
  std::string response;
  double latency_ms = 0;        // the successful attempt
  int64_t tokens_in = 0, tokens_out = 0;
  int attempts = 0;
  std::string detail;           // the grader's reason
  std::string error;            // set instead of a score when the call or the judge failed
};

struct CaseResult {
  std::string id, task, prompt, messages_json, expected;
  std::map<std::string, Cell> cells;   // by model name
};

// The outcome file's line for `r` (no newline).
std::string outcomeLine(const CaseResult& r);

// Reads an outcomes file written by the runner (or any outcomes file): id, task, prompt or
// messages, expected, every scored model and every recorded error. `tolerate_torn_tail`: a last
// line that is not JSON is skipped (an interrupted journal). Missing file: empty result.
Result<std::map<std::string, CaseResult>> readResults(const std::string& path, bool tolerate_torn_tail);

struct RunOptions {
  std::string out;                                  // OUT
  bool quiet = false;
  // progress(done, total, errors) after each finished cell.
  std::function<void(size_t, size_t, size_t)> progress;
};

struct RunSummary {
  size_t cells_total = 0;       // cases x candidates
  size_t cells_skipped = 0;     // already scored in OUT or the journal
  size_t cells_run = 0;
  size_t cells_failed = 0;      // ended with an error this run
  size_t calls = 0;             // upstream attempts, judges included
  double spent_usd = 0;         // this run's candidate + judge cost
  std::vector<CaseResult> results;  // suite order, candidates' cells (merged with earlier runs)
};

// Runs `suite` against `gw`'s providers, writing OUT as described above. Fails (kIo) only when
// files can't be read or written, or (kInvalidArgument) when a provider can't be built.
Result<RunSummary> runSuite(const Suite& suite, const config::Config& gw, const RunOptions& opt);

}  // namespace rightsize::evals
