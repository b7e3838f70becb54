#pragma once
// Offline replay of a staged cascade over outcome files that carry each model's response text:
// what `simulate --cascade` reports and what `plan` searches over. The decision is the gateway's
// own (routing::CascadeRun, routing::Extractor, routing::AnswerChecks::runLocal); only the calls
// are replaced by the recorded outcomes.
//
// Per record and model: no outcome = the model is down (no answer, no cost). A recorded answer
// costs its cost_usd whether it is used or not. A model stage passes when its response passes the
// route's local checks (a record without a response text passes: there is nothing to check); an
// agree stage votes with the extracted value of responses that pass the checks. The score of a
// record is the recorded score of the answer the cascade sends (0 when nothing answered).

#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "evals/outcomes.h"
#include "routing/cascade_plan.h"
#include "routing/checks.h"

namespace rightsize::evals {

// The per-(record, model) stage answers of one outcome set, computed once per extractor spec
// (extraction is the costly part of a replay). Built for the plan's extractors; holds pointers
// into `set`, which must outlive it.
class ReplayTable {
 public:
  // `checks`: the route's local checks (a judge check cannot be replayed: kInvalidArgument).
  // Every plan model must be in the set (kInvalidArgument naming it).
  static Result<ReplayTable> build(const OutcomeSet& set, const routing::AnswerChecks& checks,
                                   const std::vector<const routing::CascadePlan*>& plans);

  const OutcomeSet& set() const { return *set_; }
  // The stage answer of model column `m` for record `i` under extractor `spec` ("" = no extractor:
  // a model stage).
  const routing::StageAnswer& at(const std::string& spec, size_t i, size_t m) const;

 private:
  const OutcomeSet* set_ = nullptr;
  std::map<std::string, std::vector<routing::StageAnswer>> by_spec_;
};

// Learned pre-routing in a replay (cascade.pre_route): the gateway's own decidePreRoute over
// given probabilities instead of a router's predictions on the live request.
struct ReplayPreRoute {
  routing::PreRouteThresholds thresholds;
  // Pass probability per (record, model column of the set): probs[i * set.models.size() + m].
  // Only the columns of the plan's models are read. Size: set.size() * set.models.size().
  std::span<const double> probs;
};

struct ReplayRecord {
  double score = 0;                 // of the answer sent
  double cost_usd = 0;              // every call made
  int ended_stage = -1;             // stage whose decision ended the run
  bool accepted = false;            // false: no stage accepted (the last answer was sent)
  std::string model;                // who answered ("" when nobody)
  routing::PreRouteChoice pre_route;  // kNormal without pre-routing
};

struct ReplaySummary {
  size_t records = 0;
  double quality = 0;               // mean score
  double cost_usd = 0;              // mean cost per record
  std::vector<double> ended_share;  // per stage: share of records whose run ended there
  double accepted_share = 0;
};

// Replays `plan` over records `rows` of the table's set (all records when empty), pre-routed
// per record when `pre` is given (its probs must cover the set).
std::vector<ReplayRecord> replayCascade(const ReplayTable& table, const routing::CascadePlan& plan,
                                        const std::vector<size_t>& rows = {}, const ReplayPreRoute* pre = nullptr);
ReplaySummary summarize(const std::vector<ReplayRecord>& records, size_t stages);

}  // namespace rightsize::evals
