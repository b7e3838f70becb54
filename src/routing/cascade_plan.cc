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

std::string_view preRouteName(PreRouteChoice::Decision d) {
  switch (d) {
    case PreRouteChoice::Decision::kDirect: return "direct";
    case PreRouteChoice::Decision::kEscalate: return "escalate";
    case PreRouteChoice::Decision::kNormal: break;
  }
  return "normal";
}

PreRouteChoice decidePreRoute(const CascadePlan& plan, const PreRouteThresholds& t, std::span<const double> p) {
  const auto& stages = plan.stages();
  // Position of `m` in plan.models() without building it (the planner calls this per record
  // and candidate): count the first occurrences before m's first occurrence.
  const auto prob = [&](const std::string& m) {
    size_t index = 0;
    for (size_t si = 0; si < stages.size(); ++si)
      for (size_t j = 0; j < stages[si].models.size(); ++j) {
        const std::string& x = stages[si].models[j];
        bool seen = false;
        for (size_t sk = 0; sk <= si && !seen; ++sk)
          for (size_t k = 0; k < (sk == si ? j : stages[sk].models.size()) && !seen; ++k) seen = stages[sk].models[k] == x;
        if (seen) continue;
        if (x == m) {
          assert(index < p.size());
          return p[index];
        }
        ++index;
      }
    assert(false);
    return 0.0;
  };
  PreRouteChoice c;
  c.p = prob(stages.front().models.front());
  if (stages.size() < 2) return c;
  if (t.direct_above && c.p >= *t.direct_above) {
    c.decision = PreRouteChoice::Decision::kDirect;
    return c;
  }
  if (!t.escalate_below) return c;
  double highest = 0;
  for (size_t si = 0; si + 1 < stages.size(); ++si)
    for (const std::string& m : stages[si].models) highest = std::max(highest, prob(m));
  if (highest < *t.escalate_below) {
    c.decision = PreRouteChoice::Decision::kEscalate;
    c.p = highest;
  }
  return c;
}

CascadeRun::CascadeRun(const CascadePlan& plan, PreRouteChoice::Decision decision) : plan_(&plan) {
  if (plan.stages().size() < 2) return;  // nothing to skip (decidePreRoute never skips here)
  if (decision == PreRouteChoice::Decision::kDirect) direct_ = true;
  if (decision == PreRouteChoice::Decision::kEscalate) stage_ = plan.stages().size() - 1;
}

std::span<const std::string> CascadeRun::models() const {
  const std::vector<std::string>& m = plan_->stages()[stage_].models;
  return direct_ ? std::span<const std::string>(m.data(), 1) : std::span<const std::string>(m);
}

config::CascadeStage::Kind CascadeRun::kind() const {
  return direct_ ? config::CascadeStage::Kind::kModel : plan_->stages()[stage_].kind;
}

const Extractor* CascadeRun::extract() const {
  const CascadePlan::Stage& s = plan_->stages()[stage_];
  return !direct_ && s.extract ? &*s.extract : nullptr;
}

CascadeRun::Step CascadeRun::feed(std::span<const StageAnswer> answers) {
  assert(!finished_);
  const CascadePlan::Stage& s = plan_->stages()[stage_];
  assert(answers.size() == models().size());
  Step step;
  std::optional<size_t> pick;
  if (kind() == config::CascadeStage::Kind::kAgree) {
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
  // A direct call that did not pass goes straight to the last stage.
  stage_ = direct_ ? plan_->stages().size() - 1 : stage_ + 1;
  direct_ = false;
  step.verdict = Step::Verdict::kEscalate;
  return step;
}

}  // namespace rightsize::routing
