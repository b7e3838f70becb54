#include "evals/cascade_replay.h"

#include <fmt/format.h>

namespace rightsize::evals {

Result<ReplayTable> ReplayTable::build(const OutcomeSet& set, const routing::AnswerChecks& checks,
                                       const std::vector<const routing::CascadePlan*>& plans) {
  if (checks.judge()) return fail(ErrorCode::kInvalidArgument, "a cascade with a judge check cannot be replayed offline");
  ReplayTable t;
  t.set_ = &set;
  std::map<std::string, const routing::Extractor*> specs = {{"", nullptr}};
  for (const routing::CascadePlan* p : plans) {
    for (const auto& s : p->stages()) {
      for (const std::string& m : s.models)
        if (set.modelIndex(m) < 0) return fail(ErrorCode::kInvalidArgument, fmt::format("model '{}' is not in the outcome data", m));
      if (s.extract) specs.emplace(s.extract->spec(), &*s.extract);
    }
  }
  const size_t mc = set.models.size();
  // The local checks do not depend on the extractor: run them once per cell.
  std::vector<uint8_t> passed(set.size() * mc, 0);
  for (size_t i = 0; i < set.size(); ++i)
    for (size_t m = 0; m < mc; ++m) {
      if (!set.has(i, m)) continue;
      if (!set.hasResponse(i, m)) {
        passed[i * mc + m] = 1;
        continue;
      }
      routing::AnswerView view;
      view.text = set.responseAt(i, m);
      passed[i * mc + m] = checks.runLocal(view, "").pass ? 1 : 0;
    }
  for (const auto& [spec, ex] : specs) {
    std::vector<routing::StageAnswer> cells(set.size() * mc);
    for (size_t i = 0; i < set.size(); ++i)
      for (size_t m = 0; m < mc; ++m) {
        routing::StageAnswer& a = cells[i * mc + m];
        if (!set.has(i, m)) continue;
        a.answered = true;
        a.passed = passed[i * mc + m] != 0;
        if (ex && a.passed && set.hasResponse(i, m)) a.value = ex->extract(set.responseAt(i, m));
      }
    t.by_spec_.emplace(spec, std::move(cells));
  }
  return t;
}

const routing::StageAnswer& ReplayTable::at(const std::string& spec, size_t i, size_t m) const {
  return by_spec_.at(spec)[i * set_->models.size() + m];
}

std::vector<ReplayRecord> replayCascade(const ReplayTable& table, const routing::CascadePlan& plan,
                                        const std::vector<size_t>& rows, const ReplayPreRoute* pre) {
  static const std::string kNoExtractor;
  const OutcomeSet& set = table.set();
  const size_t mc = set.models.size();
  std::vector<std::vector<size_t>> cols;  // per stage, the model columns
  std::vector<std::string> specs;         // per stage, its extractor spec ("" = none)
  for (const auto& s : plan.stages()) {
    std::vector<size_t> c;
    for (const std::string& m : s.models) c.push_back(static_cast<size_t>(set.modelIndex(m)));
    cols.push_back(std::move(c));
    specs.push_back(s.extract ? s.extract->spec() : "");
  }
  std::vector<size_t> plan_cols;  // per plan.models() entry, its column
  for (const std::string& m : plan.models()) plan_cols.push_back(static_cast<size_t>(set.modelIndex(m)));
  std::vector<ReplayRecord> out;
  const size_t n = rows.empty() ? set.size() : rows.size();
  out.reserve(n);
  std::vector<routing::StageAnswer> answers;
  std::vector<double> p(plan_cols.size());
  for (size_t k = 0; k < n; ++k) {
    const size_t i = rows.empty() ? k : rows[k];
    ReplayRecord rec;
    if (pre) {
      for (size_t j = 0; j < plan_cols.size(); ++j) p[j] = pre->probs[i * mc + plan_cols[j]];
      rec.pre_route = routing::decidePreRoute(plan, pre->thresholds, p);
    }
    routing::CascadeRun run(plan, rec.pre_route.decision);
    routing::CascadeRun::Step step;
    while (!run.finished()) {
      const size_t si = run.stage();
      // A direct step asks a prefix of the stage (its cheapest model) and decides as a model stage.
      const std::string& spec = run.extract() ? specs[si] : kNoExtractor;
      const size_t count = run.models().size();
      answers.clear();
      for (size_t j = 0; j < count; ++j) {
        const size_t m = cols[si][j];
        answers.push_back(table.at(spec, i, m));
        if (answers.back().answered) rec.cost_usd += set.costAt(i, m);
      }
      step = run.feed(answers);
      rec.ended_stage = static_cast<int>(si);
    }
    rec.accepted = step.verdict == routing::CascadeRun::Step::Verdict::kAccept;
    if (step.answer) {
      const size_t m = cols[step.answer->stage][step.answer->index];
      rec.score = set.scoreAt(i, m);
      rec.model = set.models[m];
    }
    out.push_back(std::move(rec));
  }
  return out;
}

ReplaySummary summarize(const std::vector<ReplayRecord>& records, size_t stages) {
  ReplaySummary s;
  s.records = records.size();
  s.ended_share.assign(stages, 0);
  if (records.empty()) return s;
  for (const ReplayRecord& r : records) {
    s.quality += r.score;
    s.cost_usd += r.cost_usd;
    if (r.ended_stage >= 0) s.ended_share[static_cast<size_t>(r.ended_stage)] += 1;
    if (r.accepted) s.accepted_share += 1;
  }
  const double n = static_cast<double>(records.size());
  s.quality /= n;
  s.cost_usd /= n;
  s.accepted_share /= n;
  for (double& e : s.ended_share) e /= n;
  return s;
}

}  // namespace rightsize::evals
