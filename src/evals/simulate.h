#pragma once
// Batch decisions of a learned router over prompts (what `decide` and `simulate` run).

#include <functional>
#include <string>
#include <vector>

#include "evals/metrics.h"
#include "evals/outcomes.h"
#include "routing/router_model.h"

namespace rightsize::evals {

// N evenly spaced knob values from 0 to 1 (N >= 2; N == 1 gives {1}).
std::vector<double> sweepKnobs(int n);

// One decision per prompt per knob, prompt-major within each knob (knob 0's decisions first).
// The router's learned costs price the choices. `progress(done, total)` is called now and then.
std::vector<DecisionRecord> decideAll(const routing::RouterModel& router, const std::vector<PromptRecord>& prompts,
                                      const std::vector<double>& knobs,
                                      const std::function<void(size_t, size_t)>& progress = {});

// The prompts of an outcome set, for decideAll.
std::vector<PromptRecord> promptsOf(const OutcomeSet& set);

}  // namespace rightsize::evals
