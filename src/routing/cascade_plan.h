#pragma once
// The decision of a staged cascade (cascade.stages), as a pure state machine shared by the
// gateway (pipeline/cascade_dispatch.cc) and the offline replay (evals/cascade_replay.cc), so
// a simulated cascade decides exactly as the served one.
//
//   CascadePlan plan = *CascadePlan::make(route_cascade_config, source, route_name);
//   CascadeRun run(plan, decidePreRoute(plan, thresholds, p));   // or CascadeRun run(plan)
//   while (!run.finished()) {
//     ... ask run.models() (an agree step: all of them, in parallel; run.kind(), run.extract()) ...
//     CascadeRun::Step step = run.feed(answers);   // kAccept, kEscalate or kExhausted
//   }
//
// Immutable plan, thread-safe; a CascadeRun is one request's, not shared.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "routing/extract.h"

namespace rightsize::routing {

// What became of one model's call in a stage.
struct StageAnswer {
  bool answered = false;              // the call returned an answer
  bool passed = false;                // model stage: it passed the route's checks; agree: it may vote
  std::optional<std::string> value;   // agree: the extracted value (nullopt = no vote)
};

// The consensus rule of an agree stage. `answers` are in the stage's order (cheapest first).
// The largest group of equal values among voting answers wins when it has >= min_votes; between
// groups of equal size, the one holding the cheapest (earliest) answer. Returns the index of the
// winning group's cheapest answer, or nullopt (no consensus).
std::optional<size_t> decideConsensus(std::span<const StageAnswer> answers, uint32_t min_votes);

class CascadePlan {
 public:
  struct Stage {
    config::CascadeStage::Kind kind = config::CascadeStage::Kind::kModel;
    std::vector<std::string> models;  // cheapest first for agree
    uint32_t min_votes = 1;
    std::optional<Extractor> extract;  // agree only
    int line = 0;
  };

  // Compiles a route's stages. kInvalidArgument naming "SOURCE:LINE" and the route for a bad
  // extract spec or a stage without models; kInvalidArgument when there are no stages.
  static Result<CascadePlan> make(const config::CascadeConfig& cfg, const std::string& source,
                                  const std::string& route_name);
  // A plan built directly (replay, planner); same validation, without line numbers.
  static Result<CascadePlan> fromStages(std::vector<Stage> stages);

  const std::vector<Stage>& stages() const { return stages_; }
  // Every model of every stage, in stage order, each once.
  std::vector<std::string> models() const;

 private:
  std::vector<Stage> stages_;
};

// Learned pre-routing (cascade.pre_route): thresholds on a router's pass probabilities.
struct PreRouteThresholds {
  std::optional<double> direct_above;    // nullopt: never direct
  std::optional<double> escalate_below;  // nullopt: never escalate
};

struct PreRouteChoice {
  enum class Decision { kNormal, kDirect, kEscalate };
  Decision decision = Decision::kNormal;
  // The probability the decision rests on: direct/normal, p of the first stage's cheapest model;
  // escalate, the highest p of the models of the non-final stages.
  double p = 0;
};
std::string_view preRouteName(PreRouteChoice::Decision d);  // "normal", "direct", "escalate"

// The pre-route decision for one request. `p`: the pass probability of each of plan.models(), in
// that order (precondition: same size). With c = the first stage's cheapest model (its first):
//   p(c) >= direct_above                                  -> kDirect: ask only c; it passes the
//                                                            route's checks -> accept, else the last stage;
//   else every model of every non-final stage < escalate_below -> kEscalate: only the last stage;
//   else kNormal (the plain cascade). A one-stage plan is always kNormal (nothing to skip).
PreRouteChoice decidePreRoute(const CascadePlan& plan, const PreRouteThresholds& t, std::span<const double> p);

class CascadeRun {
 public:
  explicit CascadeRun(const CascadePlan& plan) : plan_(&plan) {}
  // A run that starts as the pre-route decided (kNormal = the plain run above).
  CascadeRun(const CascadePlan& plan, PreRouteChoice::Decision decision);

  // Which answer the client gets: stage index and index within that stage's models.
  struct AnswerRef {
    size_t stage = 0;
    size_t index = 0;
    bool operator==(const AnswerRef&) const = default;
  };
  struct Step {
    enum class Verdict { kAccept, kEscalate, kExhausted };
    Verdict verdict = Verdict::kEscalate;
    // kAccept: the accepted answer. kExhausted (no stage accepted): the answer to send anyway,
    // the last stage's last answer (its most capable model's), else the latest answer of an
    // earlier stage; nullopt when nothing answered at all.
    std::optional<AnswerRef> answer;
  };

  // The stage the current step belongs to (AnswerRef::stage of its answers).
  size_t stage() const { return stage_; }
  bool finished() const { return finished_; }
  // The models to ask now, a prefix of the stage's models: all of them, or only the cheapest
  // for the direct step of a pre-routed run. Precondition: !finished().
  std::span<const std::string> models() const;
  // How the current step decides: a direct step is a model step whatever its stage's kind.
  config::CascadeStage::Kind kind() const;
  // The current step's extractor (agree steps only), else null.
  const Extractor* extract() const;

  // Feeds the current step's answers (one per models() entry, in its order) and moves on.
  // Precondition: !finished() and answers.size() == models().size().
  Step feed(std::span<const StageAnswer> answers);

 private:
  const CascadePlan* plan_;
  size_t stage_ = 0;
  bool direct_ = false;  // the current step is a pre-route's direct call
  bool finished_ = false;
  std::optional<AnswerRef> latest_;  // the most recent answer of any stage
};

}  // namespace rightsize::routing
