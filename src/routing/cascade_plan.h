#pragma once
// The decision of a staged cascade (cascade.stages), as a pure state machine shared by the
// gateway (pipeline/cascade_dispatch.cc) and the offline replay (evals/cascade_replay.cc), so
// a simulated cascade decides exactly as the served one.
//
//   CascadePlan plan = *CascadePlan::make(route_cascade_config, source, route_name);
//   CascadeRun run(plan);
//   while (!run.finished()) {
//     const CascadePlan::Stage& s = plan.stages()[run.stage()];
//     ... ask s.models (an agree stage: all of them, in parallel) ...
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

class CascadeRun {
 public:
  explicit CascadeRun(const CascadePlan& plan) : plan_(&plan) {}

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

  size_t stage() const { return stage_; }
  bool finished() const { return finished_; }

  // Feeds the current stage's answers (one per model of the stage, in its order) and moves on.
  // Precondition: !finished() and answers.size() == the stage's model count.
  Step feed(std::span<const StageAnswer> answers);

 private:
  const CascadePlan* plan_;
  size_t stage_ = 0;
  bool finished_ = false;
  std::optional<AnswerRef> latest_;  // the most recent answer of any stage
};

}  // namespace rightsize::routing
