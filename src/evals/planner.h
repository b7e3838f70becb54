#pragma once
// `rightsize plan`: choose the cheapest routing policy for a set of outcomes-with-responses that
// keeps the reference model's quality, and write it as a route.
//
// Candidates: every single model; and cascades "agree group -> reference": a group of 2 or 3
// models cheaper than the reference (cheapest first; min_votes 2, and 3 for a group of three)
// must agree on the extracted answer, else the reference answers. With max_stages >= 3 also
// "pair -> pair -> reference" (the second pair dearer than the first pair's cheapest model).
// Every candidate is replayed with the gateway's own decision code (evals/cascade_replay.h).
// Learned (only when PlanOptions::learned, `plan --learned`): the plain learned route over every
// model at quality targets 0.8, 0.85, 0.9, 0.95, 0.98 and 1.0, each record decided (as the gateway's
// learned policy does with the router's learned costs) by the router of the fold that did not see it.
// Learned + cascade (only when PlanOptions::learned, `plan --learned`): each of the 300 cheapest cascade
// candidates (by in-sample cost, which depends on agreement, not on scores) again with
// cascade.pre_route thresholds (direct_above in {off, 0.8, 0.9, 0.95} x escalate_below in {off,
// 0.1, 0.2}), replayed with out-of-fold pass probabilities: for each fold, a router trained
// (routing::train, learner lr) on the other folds' records predicts that fold's, so every
// candidate's per-record score and cost stays held out from the router.
//
// Choice rule (pickCheapestQualifying): among candidates whose conservative quality — the
// reference's mean score plus a one-sided lower confidence bound (normal approximation, level
// `confidence`) of the paired per-prompt score difference (candidate - reference) — is >=
// quality * the reference's mean score, the cheapest (mean cost; ties: higher quality, then
// earlier candidate). The reference itself always qualifies when quality <= 1.
//
// The level: fixed by PlanOptions::confidence, or by default the ladder 0.8 -> 0.9 -> 0.95: the
// first level whose cross-validated choice (below) keeps quality x the reference's quality held
// out; 0.95 when none does. A higher level is surer and dearer; the ladder spends the extra
// certainty only where the folds show the cheaper level picking a route that loses quality
// (bench/plan_holdout.cc measures the trade-off on new prompts, docs/cascade.md).
//
// Held-out estimate: K-fold cross-validation by prompt (routing::foldOf on the prompt id): for
// each fold the rule picks on the other folds and the pick is scored on the fold; the pooled
// held-out records measure the whole procedure. The final pick uses all records. Deterministic.
// With the ladder, the numbers reported are those of the level it stopped at, which was chosen
// by looking at them: a little optimistic when it stopped because the level held.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "evals/cascade_replay.h"
#include "evals/outcomes.h"
#include "routing/cascade_plan.h"
#include "routing/router_model.h"

namespace rightsize::evals {

struct PlanOptions {
  std::string reference;         // a model of the data
  double quality = 1.0;          // (0, 1]
  std::string extract = "auto";  // extractor spec for agree stages; "auto": each of answer, json:answer, text
  std::string route = "auto";    // route name written
  int max_stages = 2;            // 1: single models only; 2: + agree -> reference; 3: + pair -> pair -> reference
  uint32_t folds = 5;            // >= 2
  uint64_t seed = 1;             // of the fold split
  // One-sided confidence of the quality bound, in [0.5, 1); 0 (the default): the ladder 0.8 ->
  // 0.9 -> 0.95, the first level whose cross-validated choice keeps the quality.
  double confidence = 0;
  bool learned = false;          // also learned + cascade candidates (trains a router per fold; `plan --learned`)
  uint32_t threads = 2;          // router training threads
};

struct PlanCandidate {
  std::string name;              // e.g. "agree(a,b)>ref" or "model"
  routing::CascadePlan plan;
  std::vector<double> score, cost;  // per record of the set
  std::optional<routing::PreRouteThresholds> pre_route;  // learned + cascade: the thresholds
  // A plain learned route (`policy: learned` over every model of the data) at this `quality`;
  // `plan` then holds the reference alone and is not what runs.
  std::optional<double> learned_quality;
};

struct CandidateStats {
  size_t candidate = 0;
  double quality = 0, cost_usd = 0;
  double diff_lower = 0;         // lower bound (at the level used) of mean(candidate - reference)
  bool qualifies = false;
};

struct TaskNumbers {
  size_t records = 0;
  double quality = 0, cost_usd = 0, ref_quality = 0, ref_cost_usd = 0;
};

struct PlanResult {
  std::vector<PlanCandidate> candidates;
  size_t chosen = 0;                 // index into candidates (picked on all records)
  size_t reference = 0;              // index of the reference's single-model candidate
  CandidateStats chosen_stats;       // in-sample, all records
  std::vector<CandidateStats> runner_ups;  // next cheapest qualifying, then the best that did not
  ReplaySummary chosen_summary;      // in-sample: stage shares
  // Cross-validated (held-out) numbers of the procedure, pooled over folds.
  double cv_quality = 0, cv_cost_usd = 0, cv_ref_quality = 0, cv_ref_cost_usd = 0;
  std::vector<std::string> cv_picks;  // per fold, the candidate picked
  double confidence = 0;             // the level used (the ladder's pick, or PlanOptions::confidence)
  std::vector<std::string> models;   // the models searched (a learned route's candidates)
  std::vector<std::string> left_out; // models with no outcome on > 5% of the reference's records
  std::map<std::string, TaskNumbers> cv_by_task;
  // When the chosen candidate pre-routes: a router trained on every record (else empty).
  std::optional<routing::RouterModel> router;
};

// Plans over `set` (deterministic: same set and options, same result). Models with no outcome on
// more than 5% of the records the reference has are left out of the search (PlanResult::left_out);
// of the rest, the records every model has are searched. kInvalidArgument: no response texts in the data, unknown reference, a bad
// extract spec, quality outside (0, 1], fewer than 2 folds.
Result<PlanResult> planRoute(const OutcomeSet& set, const PlanOptions& opt);

// Evaluates candidates on `rows` and applies the choice rule; returns the index of the pick
// and fills `stats` (one per candidate) when non-null.
// `z`: the lower bound's standard-normal quantile (lowerBoundZ(PlanOptions::confidence)).
size_t pickCheapestQualifying(const std::vector<PlanCandidate>& cands, size_t reference, const std::vector<size_t>& rows,
                              double quality, double z, std::vector<CandidateStats>* stats = nullptr);

// The z of a one-sided lower confidence bound at `confidence` (0.95 -> 1.645; 0.5 -> 0: the mean).
double lowerBoundZ(double confidence);

// The chosen candidate as YAML: one top-level `routes:` mapping holding route `name` in the
// config's format (policy fixed for a single model, policy cascade with stages otherwise; with
// `cascade.pre_route` naming `router_path` when the candidate pre-routes; policy learned over
// `models` with `router: router_path` for a learned candidate).
std::string routeYaml(const PlanCandidate& c, const std::string& name, const std::string& reference,
                      const std::string& header_comment, const std::string& router_path = "",
                      const std::vector<std::string>& models = {});

}  // namespace rightsize::evals
