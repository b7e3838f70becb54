#include "routing/cascade_plan.h"

#include <algorithm>
#include <cassert>
#include <map>

#include <fmt/format.h>

namespace rightsize::routing {

std::optional<size_t> decideConsensus(std::span<const StageAnswer> answers, uint32_t min_votes) {
  // value -> (votes, first index); scanning cheapest first makes "first index" the cheapest.
  std::map<std::string, std::pair<uint32_t, size_t>> groups;
  for (size_t i = 0; i < answers.size(); ++i) {
    const StageAnswer& a = answers[i];
    if (!a.answered || !a.passed || !a.value) continue;
    auto [it, inserted] = groups.try_emplace(*a.value, 0u, i);
    ++it->second.first;
  }
  std::optional<std::pair<uint32_t, size_t>> best;
  for (const auto& [value, g] : groups) {
    if (!best || g.first > best->first || (g.first == best->first && g.second < best->second)) best = g;
  }
  if (!best || best->first < min_votes) return std::nullopt;
  return best->second;
}

Result<CascadePlan> CascadePlan::fromStages(std::vector<Stage> stages) {
  if (stages.empty()) return fail(ErrorCode::kInvalidArgument, "a staged cascade needs at least one stage");
  for (const Stage& s : stages) {
    if (s.models.empty()) return fail(ErrorCode::kInvalidArgument, "a cascade stage has no models");
    if (s.kind == config::CascadeStage::Kind::kAgree) {
      if (!s.extract) return fail(ErrorCode::kInvalidArgument, "an agree stage needs an extract spec");
      if (s.min_votes < 1 || s.min_votes > s.models.size())
        return fail(ErrorCode::kInvalidArgument,
                    fmt::format("min_votes {} is not in 1..{} (the stage's models)", s.min_votes, s.models.size()));
    } else if (s.models.size() != 1) {
      return fail(ErrorCode::kInvalidArgument, "a model stage has exactly one model");
    }
  }
  CascadePlan p;
  p.stages_ = std::move(stages);
  return p;
}

Result<CascadePlan> CascadePlan::make(const config::CascadeConfig& cfg, const std::string& source,
                                      const std::string& route_name) {
  std::vector<Stage> stages;
  for (const config::CascadeStage& cs : cfg.stages) {
    Stage s;
    s.kind = cs.kind;
    s.models = cs.models;
    s.min_votes = cs.kind == config::CascadeStage::Kind::kAgree ? cs.min_votes : 1;
    s.line = cs.line;
    if (cs.kind == config::CascadeStage::Kind::kAgree) {
      auto e = Extractor::parse(cs.extract);
      if (!e) return fail(ErrorCode::kInvalidArgument, fmt::format("{}:{}: routes.{}.cascade.stages: {}", source, cs.line,
                                                                   route_name, e.error().message));
      s.extract = std::move(*e);
    }
    stages.push_back(std::move(s));
  }
  auto p = fromStages(std::move(stages));
  if (!p) return fail(ErrorCode::kInvalidArgument, fmt::format("{}: routes.{}.cascade: {}", source, route_name, p.error().message));
  return p;
}

std::vector<std::string> CascadePlan::models() const {
  std::vector<std::string> out;
  for (const Stage& s : stages_)
    for (const std::string& m : s.models)
      if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
  return out;
}

CascadeRun::Step CascadeRun::feed(std::span<const StageAnswer> answers) {
  assert(!finished_);
  const CascadePlan::Stage& s = plan_->stages()[stage_];
  assert(answers.size() == s.models.size());
  Step step;
  std::optional<size_t> pick;
  if (s.kind == config::CascadeStage::Kind::kAgree) {
    pick = decideConsensus(answers, s.min_votes);
  } else if (answers[0].answered && answers[0].passed) {
    pick = 0;
  }
  std::optional<size_t> last_answered;
  for (size_t i = 0; i < answers.size(); ++i)
    if (answers[i].answered) last_answered = i;
  const bool last_stage = stage_ + 1 == plan_->stages().size();
  if (pick) {
    step.verdict = Step::Verdict::kAccept;
    step.answer = AnswerRef{stage_, *pick};
    finished_ = true;
    return step;
  }
  if (last_answered) latest_ = AnswerRef{stage_, *last_answered};
  if (last_stage) {
    step.verdict = Step::Verdict::kExhausted;
    step.answer = latest_;
    finished_ = true;
    return step;
  }
  ++stage_;
  step.verdict = Step::Verdict::kEscalate;
  return step;
}

}  // namespace rightsize::routing
