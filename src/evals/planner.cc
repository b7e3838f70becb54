#include "evals/planner.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include <boost/math/distributions/normal.hpp>
#include <fmt/format.h>

#include "routing/trainer.h"

namespace rightsize::evals {

namespace {

using Kind = config::CascadeStage::Kind;

constexpr size_t kLearnedBases = 300;  // cascades that also get pre-routed variants
constexpr double kMinCoverage = 0.95;  // of the reference's records, for a model to be searched
// The default confidence levels of the quality bound, tried in order (planner.h).
constexpr std::array<double, 3> kConfidenceLadder{0.8, 0.9, 0.95};

routing::CascadePlan::Stage modelStage(const std::string& m) {
  routing::CascadePlan::Stage s;
  s.kind = Kind::kModel;
  s.models = {m};
  return s;
}

routing::CascadePlan::Stage agreeStage(std::vector<std::string> models, uint32_t min_votes, const routing::Extractor& ex) {
  routing::CascadePlan::Stage s;
  s.kind = Kind::kAgree;
  s.models = std::move(models);
  s.min_votes = min_votes;
  s.extract = ex;
  return s;
}

// "a > agree2/2(b,c) > ref"; with `spec`, agree stages name their extractor: "agree2/2[number](b,c)".
std::string describe(const routing::CascadePlan& p, bool spec) {
  std::string out;
  for (const auto& s : p.stages()) {
    if (!out.empty()) out += " > ";
    if (s.kind == Kind::kModel) {
      out += s.models[0];
      continue;
    }
    out += fmt::format("agree{}/{}{}(", s.min_votes, s.models.size(), spec ? "[" + s.extract->spec() + "]" : "");
    for (size_t i = 0; i < s.models.size(); ++i) out += (i ? "," : "") + s.models[i];
    out += ")";
  }
  return out;
}

// The router the planner trains: fast (one learner, 3 inner folds), seeded, deterministic.
routing::TrainOptions trainOptions(const PlanOptions& opt) {
  routing::TrainOptions t;
  t.seed = opt.seed;
  t.folds = 3;
  t.threads = opt.threads;
  t.learner = "lr";
  return t;
}

routing::TrainingData trainingRows(const OutcomeSet& set, const std::vector<size_t>& rows) {
  routing::TrainingData d;
  d.models = set.models;
  for (size_t i : rows) {
    d.ids.push_back(set.ids[i]);
    d.asks.push_back(set.asks[i]);
    d.tasks.push_back(set.tasks[i]);
    for (size_t m = 0; m < set.models.size(); ++m) {
      d.score.push_back(set.scoreAt(i, m));
      d.cost_usd.push_back(static_cast<float>(set.costAt(i, m)));
    }
  }
  return d;
}

constexpr std::array<double, 6> kLearnedQualities{0.8, 0.85, 0.9, 0.95, 0.98, 1.0};

struct OutOfFold {
  std::vector<double> probs;  // probs[i * models + m]
  std::vector<int> picks;     // picks[i * kLearnedQualities.size() + q]: the learned route's model
};

// Out-of-fold pass probabilities and learned decisions: record i's come from a router trained on
// the other folds' records.
Result<OutOfFold> outOfFoldProbabilities(const OutcomeSet& set, const std::vector<size_t>& rows,
                                         const std::vector<uint32_t>& fold, const PlanOptions& opt) {
  const size_t mc = set.models.size();
  OutOfFold out;
  std::vector<double>& probs = out.probs;
  probs.assign(set.size() * mc, 0.0);
  out.picks.assign(set.size() * kLearnedQualities.size(), -1);
  std::vector<double> p(mc), cost(mc);
  for (uint32_t f = 0; f < opt.folds; ++f) {
    std::vector<size_t> train, test;
    for (size_t i : rows) (fold[i] == f ? test : train).push_back(i);
    if (test.empty() || train.empty()) continue;
    auto router = routing::train(trainingRows(set, train), trainOptions(opt));
    if (!router) return fail(router.error());
    // The router's columns are the data's models in the data's order (trainingRows).
    for (size_t i : test) {
      router->predict(set.asks[i], p);
      for (size_t m = 0; m < mc; ++m) {
        probs[i * mc + m] = p[m];
        cost[m] = router->estimateCostUsd(m, set.asks[i].size());
      }
      for (size_t q = 0; q < kLearnedQualities.size(); ++q)
        out.picks[i * kLearnedQualities.size() + q] =
            router->choose(p, cost, {}, router->knobForQuality(kLearnedQualities[q]), router->anchor_model);
    }
  }
  return out;
}

std::string thresholdName(const std::optional<double>& t) { return t ? fmt::format("{:g}", *t) : "off"; }

std::string yamlString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

double lowerBoundZ(double confidence) {
  return boost::math::quantile(boost::math::normal_distribution<double>(), confidence);
}

size_t pickCheapestQualifying(const std::vector<PlanCandidate>& cands, size_t reference, const std::vector<size_t>& rows,
                              double quality, double z, std::vector<CandidateStats>* stats) {
  const PlanCandidate& ref = cands[reference];
  const double n = static_cast<double>(rows.size());
  double ref_q = 0;
  for (size_t i : rows) ref_q += ref.score[i];
  ref_q /= n;
  std::vector<CandidateStats> all(cands.size());
  size_t best = reference;
  for (size_t c = 0; c < cands.size(); ++c) {
    CandidateStats& st = all[c];
    st.candidate = c;
    double sum_d = 0, sum_d2 = 0;
    for (size_t i : rows) {
      st.quality += cands[c].score[i];
      st.cost_usd += cands[c].cost[i];
      const double d = cands[c].score[i] - ref.score[i];
      sum_d += d;
      sum_d2 += d * d;
    }
    st.quality /= n;
    st.cost_usd /= n;
    const double mean_d = sum_d / n;
    const double var = n > 1 ? std::max(0.0, (sum_d2 - n * mean_d * mean_d) / (n - 1)) : 0.0;
    st.diff_lower = mean_d - z * std::sqrt(var / n);
    // The small epsilon keeps the reference (difference exactly 0) qualifying at quality 1.
    st.qualifies = ref_q + st.diff_lower >= quality * ref_q - 1e-12;
  }
  // Picked once every candidate is scored (the reference may come after the cheaper ones).
  for (size_t c = 0; c < cands.size(); ++c) {
    const CandidateStats& st = all[c];
    const CandidateStats& b = all[best];
    if (st.qualifies && (st.cost_usd < b.cost_usd || (st.cost_usd == b.cost_usd && st.quality > b.quality))) best = c;
  }
  if (stats) *stats = std::move(all);
  return best;
}

namespace {

// K-fold cross-validation of the choice rule at `z`: for each fold, the pick on the other folds
// scored on the fold; pooled into res.cv_* (reset first).
void crossValidate(PlanResult& res, const std::vector<uint32_t>& fold, const std::vector<size_t>& rows,
                   const std::vector<std::string>& tasks, const PlanOptions& opt, double z) {
  const size_t ref_plan = res.reference;
  res.cv_quality = res.cv_cost_usd = res.cv_ref_quality = res.cv_ref_cost_usd = 0;
  res.cv_picks.clear();
  res.cv_by_task.clear();
  double n_held = 0;
  for (uint32_t f = 0; f < opt.folds; ++f) {
    std::vector<size_t> train, test;
    for (size_t i : rows) (fold[i] == f ? test : train).push_back(i);
    if (test.empty() || train.empty()) continue;
    const size_t pick = pickCheapestQualifying(res.candidates, ref_plan, train, opt.quality, z);
    res.cv_picks.push_back(res.candidates[pick].name);
    for (size_t i : test) {
      const double q = res.candidates[pick].score[i], c = res.candidates[pick].cost[i];
      const double rq = res.candidates[ref_plan].score[i], rc = res.candidates[ref_plan].cost[i];
      res.cv_quality += q;
      res.cv_cost_usd += c;
      res.cv_ref_quality += rq;
      res.cv_ref_cost_usd += rc;
      TaskNumbers& t = res.cv_by_task[tasks[i].empty() ? "(no task)" : tasks[i]];
      ++t.records;
      t.quality += q;
      t.cost_usd += c;
      t.ref_quality += rq;
      t.ref_cost_usd += rc;
      n_held += 1;
    }
  }
  if (n_held > 0) {
    res.cv_quality /= n_held;
    res.cv_cost_usd /= n_held;
    res.cv_ref_quality /= n_held;
    res.cv_ref_cost_usd /= n_held;
  }
  for (auto& [task, t] : res.cv_by_task) {
    const double n = static_cast<double>(t.records);
    t.quality /= n;
    t.cost_usd /= n;
    t.ref_quality /= n;
    t.ref_cost_usd /= n;
  }
}

}  // namespace

Result<PlanResult> planRoute(const OutcomeSet& set, const PlanOptions& opt) {
  if (set.responses_present == 0)
    return fail(ErrorCode::kInvalidArgument,
                "the outcome data has no \"response\" texts: plan replays cascades on the models' answers, so it needs "
                "outcomes with responses");
  const int ref_col = set.modelIndex(opt.reference);
  if (ref_col < 0) return fail(ErrorCode::kInvalidArgument, fmt::format("reference model '{}' is not in the data", opt.reference));
  if (!(opt.quality > 0 && opt.quality <= 1))
    return fail(ErrorCode::kInvalidArgument, fmt::format("--quality must be in (0, 1], got {}", opt.quality));
  if (opt.confidence != 0 && !(opt.confidence >= 0.5 && opt.confidence < 1))
    return fail(ErrorCode::kInvalidArgument, fmt::format("--confidence must be in [0.5, 1), got {}", opt.confidence));
  if (opt.folds < 2) return fail(ErrorCode::kInvalidArgument, "cross-validation needs at least 2 folds");
  if (opt.max_stages < 1) return fail(ErrorCode::kInvalidArgument, "--max-stages must be at least 1");
  // The extractors agree stages are tried with: the one given, or with "auto" the final answer
  // (an option letter, else a number), a JSON "answer" field, and the whole text. One that never
  // finds agreement costs nothing: its cascades are dearer than the reference and dropped below.
  std::vector<routing::Extractor> extractors;
  for (const char* spec : opt.extract == "auto" ? std::vector<const char*>{"answer", "json:answer", "text"}
                                                : std::vector<const char*>{opt.extract.c_str()}) {
    auto ex = routing::Extractor::parse(spec);
    if (!ex) return fail(ex.error());
    extractors.push_back(*ex);
  }

  // A model with no outcome on more than 5% of the reference's records is left out of the search,
  // rather than those records (one sparse model would otherwise shrink the data for all).
  {
    std::vector<std::string> kept, left_out;
    size_t ref_n = 0;
    std::vector<size_t> both(set.models.size(), 0);
    for (size_t i = 0; i < set.size(); ++i) {
      if (!set.has(i, static_cast<size_t>(ref_col))) continue;
      ++ref_n;
      for (size_t m = 0; m < set.models.size(); ++m) both[m] += set.has(i, m) ? 1 : 0;
    }
    for (size_t m = 0; m < set.models.size(); ++m)
      (static_cast<int>(m) == ref_col || static_cast<double>(both[m]) >= kMinCoverage * static_cast<double>(ref_n)
           ? kept
           : left_out)
          .push_back(set.models[m]);
    if (!left_out.empty()) {
      auto sub = restrictModels(set, kept);
      if (!sub) return fail(sub.error());
      auto r = planRoute(*sub, opt);
      if (r) r->left_out = std::move(left_out);
      return r;
    }
  }

  // Only records where every model has an outcome: every candidate is then scored on the same prompts.
  std::vector<size_t> rows;
  for (size_t i = 0; i < set.size(); ++i) {
    bool all = true;
    for (size_t m = 0; m < set.models.size() && all; ++m) all = set.has(i, m);
    if (all) rows.push_back(i);
  }
  if (rows.size() < opt.folds) return fail(ErrorCode::kInvalidArgument, "too few records with every model's outcome");

  // Models by mean cost, cheapest first (ties by name: deterministic).
  std::vector<double> mean_cost(set.models.size(), 0);
  for (size_t m = 0; m < set.models.size(); ++m) {
    for (size_t i : rows) mean_cost[m] += set.costAt(i, m);
    mean_cost[m] /= static_cast<double>(rows.size());
  }
  std::vector<size_t> by_cost(set.models.size());
  std::iota(by_cost.begin(), by_cost.end(), 0);
  std::sort(by_cost.begin(), by_cost.end(), [&](size_t a, size_t b) {
    return mean_cost[a] != mean_cost[b] ? mean_cost[a] < mean_cost[b] : set.models[a] < set.models[b];
  });
  std::vector<size_t> cheaper;  // than the reference, cheapest first
  for (size_t m : by_cost)
    if (static_cast<int>(m) != ref_col && mean_cost[m] < mean_cost[static_cast<size_t>(ref_col)]) cheaper.push_back(m);

  std::vector<routing::CascadePlan> plans;
  size_t ref_plan = 0;
  for (size_t m : by_cost) {
    if (static_cast<int>(m) == ref_col) ref_plan = plans.size();
    plans.push_back(*routing::CascadePlan::fromStages({modelStage(set.models[m])}));
  }
  const std::string& ref = opt.reference;
  const auto names = [&](std::initializer_list<size_t> cols) {
    std::vector<std::string> v;
    for (size_t c : cols) v.push_back(set.models[c]);
    return v;
  };
  for (const routing::Extractor& ex : extractors) {
    const size_t k = cheaper.size();
    if (opt.max_stages >= 2)
      for (size_t a = 0; a < k; ++a)
        for (size_t b = a + 1; b < k; ++b) {
          plans.push_back(*routing::CascadePlan::fromStages(
              {agreeStage(names({cheaper[a], cheaper[b]}), 2, ex), modelStage(ref)}));
          for (size_t c = b + 1; c < k; ++c)
            for (uint32_t votes : {2u, 3u})
              plans.push_back(*routing::CascadePlan::fromStages(
                  {agreeStage(names({cheaper[a], cheaper[b], cheaper[c]}), votes, ex), modelStage(ref)}));
        }
    if (opt.max_stages >= 3)
      for (size_t a = 0; a < k; ++a)
        for (size_t b = a + 1; b < k; ++b)
          for (size_t c = a + 1; c < k; ++c)
            for (size_t d = c + 1; d < k; ++d) {
              if (c == b || d == b) continue;
              plans.push_back(*routing::CascadePlan::fromStages({agreeStage(names({cheaper[a], cheaper[b]}), 2, ex),
                                                                agreeStage(names({cheaper[c], cheaper[d]}), 2, ex),
                                                                modelStage(ref)}));
            }
  }

  auto checks = routing::AnswerChecks::make(config::CascadeConfig{}, "plan", opt.route);
  if (!checks) return fail(checks.error());
  std::vector<const routing::CascadePlan*> plan_ptrs;
  for (const auto& p : plans) plan_ptrs.push_back(&p);
  auto table = ReplayTable::build(set, **checks, plan_ptrs);
  if (!table) return fail(table.error());

  PlanResult res;
  res.models = set.models;
  double ref_cost = 0;
  for (size_t i : rows) ref_cost += set.costAt(i, static_cast<size_t>(ref_col));
  for (size_t p = 0; p < plans.size(); ++p) {
    const auto recs = replayCascade(*table, plans[p], rows);
    // A cascade that costs at least the reference on all records is never the cheapest that
    // qualifies: not kept (cost depends on which answers agree, not on scores: no label is read).
    if (plans[p].stages().size() > 1) {
      double cost = 0;
      for (const auto& r : recs) cost += r.cost_usd;
      if (cost >= ref_cost) continue;
    }
    if (p == ref_plan) res.reference = res.candidates.size();
    PlanCandidate c{describe(plans[p], extractors.size() > 1), std::move(plans[p]), std::vector<double>(set.size(), 0),
                    std::vector<double>(set.size(), 0), std::nullopt, std::nullopt};
    for (size_t k = 0; k < rows.size(); ++k) {
      c.score[rows[k]] = recs[k].score;
      c.cost[rows[k]] = recs[k].cost_usd;
    }
    res.candidates.push_back(std::move(c));
  }

  std::vector<uint32_t> fold(set.size(), 0);
  for (size_t i : rows) fold[i] = routing::foldOf(set.ids[i], opt.seed, opt.folds);

  // Learned + cascade: every cascade again, pre-routed with out-of-fold probabilities.
  if (opt.learned && opt.max_stages >= 2) {
    auto oof = outOfFoldProbabilities(set, rows, fold, opt);
    if (!oof) return fail(oof.error());
    const std::vector<double>* probs = &oof->probs;
    // The plain learned route at each quality target.
    for (size_t q = 0; q < kLearnedQualities.size(); ++q) {
      PlanCandidate lc{fmt::format("learned (quality {:g})", kLearnedQualities[q]), res.candidates[res.reference].plan,
                       std::vector<double>(set.size(), 0), std::vector<double>(set.size(), 0), std::nullopt,
                       kLearnedQualities[q]};
      for (size_t i : rows) {
        const int m = oof->picks[i * kLearnedQualities.size() + q];
        if (m < 0) continue;
        lc.score[i] = set.scoreAt(i, static_cast<size_t>(m));
        lc.cost[i] = set.costAt(i, static_cast<size_t>(m));
      }
      res.candidates.push_back(std::move(lc));
    }
    // Pre-routed variants of the kLearnedBases cheapest cascades only (memory: every candidate
    // keeps two doubles per record). A cascade's cost depends on which answers agree, never on
    // the scores, so this cut looks at no label; but the best cascade is rarely the cheapest
    // (cheap models that agree while wrong are), so the cut is wide: every cascade of 11 models.
    std::vector<size_t> bases;
    for (size_t c = 0; c < res.candidates.size(); ++c)
      if (res.candidates[c].plan.stages().size() >= 2 && !res.candidates[c].learned_quality) bases.push_back(c);
    std::vector<double> mean_cost_of(res.candidates.size(), 0);
    for (size_t c : bases)
      for (size_t i : rows) mean_cost_of[c] += res.candidates[c].cost[i];
    std::stable_sort(bases.begin(), bases.end(), [&](size_t a, size_t b) { return mean_cost_of[a] < mean_cost_of[b]; });
    if (bases.size() > kLearnedBases) bases.resize(kLearnedBases);
    std::sort(bases.begin(), bases.end());
    for (size_t c : bases) {
      for (std::optional<double> direct : {std::optional<double>(), std::optional<double>(0.8), std::optional<double>(0.9),
                                           std::optional<double>(0.95)})
        for (std::optional<double> escalate : {std::optional<double>(), std::optional<double>(0.1), std::optional<double>(0.2)}) {
          if (!direct && !escalate) continue;
          const routing::PreRouteThresholds t{direct, escalate};
          const ReplayPreRoute pre{t, *probs};
          PlanCandidate pc{fmt::format("{} [pre_route direct {} escalate {}]", res.candidates[c].name, thresholdName(direct),
                                       thresholdName(escalate)),
                           res.candidates[c].plan, std::vector<double>(set.size(), 0), std::vector<double>(set.size(), 0), t,
                           std::nullopt};
          const auto recs = replayCascade(*table, pc.plan, rows, &pre);
          for (size_t k = 0; k < rows.size(); ++k) {
            pc.score[rows[k]] = recs[k].score;
            pc.cost[rows[k]] = recs[k].cost_usd;
          }
          res.candidates.push_back(std::move(pc));
        }
    }
  }

  // Cross-validation of the procedure, at each confidence level of the ladder (one level when
  // fixed): the first level whose pooled held-out quality keeps quality x the reference's is used.
  std::vector<double> ladder = opt.confidence > 0 ? std::vector<double>{opt.confidence}
                                                  : std::vector<double>(kConfidenceLadder.begin(), kConfidenceLadder.end());
  double z = 0;
  for (size_t l = 0; l < ladder.size(); ++l) {
    z = lowerBoundZ(ladder[l]);
    crossValidate(res, fold, rows, set.tasks, opt, z);
    res.confidence = ladder[l];
    if (res.cv_quality >= opt.quality * res.cv_ref_quality - 1e-12) break;
  }

  std::vector<CandidateStats> stats;
  res.chosen = pickCheapestQualifying(res.candidates, res.reference, rows, opt.quality, z, &stats);
  res.chosen_stats = stats[res.chosen];
  std::vector<CandidateStats> qualifying, failing;
  for (const CandidateStats& s : stats) {
    if (s.candidate == res.chosen) continue;
    (s.qualifies ? qualifying : failing).push_back(s);
  }
  std::sort(qualifying.begin(), qualifying.end(), [](const CandidateStats& a, const CandidateStats& b) {
    return a.cost_usd != b.cost_usd ? a.cost_usd < b.cost_usd : a.candidate < b.candidate;
  });
  std::sort(failing.begin(), failing.end(), [](const CandidateStats& a, const CandidateStats& b) {
    return a.diff_lower != b.diff_lower ? a.diff_lower > b.diff_lower : a.candidate < b.candidate;
  });
  for (size_t k = 0; k < std::min<size_t>(3, qualifying.size()); ++k) res.runner_ups.push_back(qualifying[k]);
  for (size_t k = 0; k < std::min<size_t>(2, failing.size()); ++k) res.runner_ups.push_back(failing[k]);
  const PlanCandidate& chosen = res.candidates[res.chosen];
  if (chosen.learned_quality) {
    // The route's router: trained on every record. The in-sample summary decides with it.
    auto router = routing::train(trainingRows(set, rows), trainOptions(opt));
    if (!router) return fail(router.error());
    const size_t mc = set.models.size();
    std::vector<double> p(mc), cost(mc);
    ReplaySummary& sum = res.chosen_summary;
    sum.records = rows.size();
    sum.ended_share = {1.0};
    for (size_t i : rows) {
      router->predict(set.asks[i], p);
      for (size_t m = 0; m < mc; ++m) cost[m] = router->estimateCostUsd(m, set.asks[i].size());
      const int m = router->choose(p, cost, {}, router->knobForQuality(*chosen.learned_quality), router->anchor_model);
      if (m < 0) continue;
      sum.quality += set.scoreAt(i, static_cast<size_t>(m));
      sum.cost_usd += set.costAt(i, static_cast<size_t>(m));
    }
    if (!rows.empty()) {
      sum.quality /= static_cast<double>(rows.size());
      sum.cost_usd /= static_cast<double>(rows.size());
    }
    res.router = std::move(*router);
    return res;
  }
  if (chosen.pre_route) {
    // The route's router: trained on every record. The in-sample summary replays with it.
    auto router = routing::train(trainingRows(set, rows), trainOptions(opt));
    if (!router) return fail(router.error());
    const size_t mc = set.models.size();
    std::vector<double> probs(set.size() * mc, 0.0), p(mc);
    for (size_t i : rows) {
      router->predict(set.asks[i], p);
      for (size_t m = 0; m < mc; ++m) probs[i * mc + m] = p[m];
    }
    const ReplayPreRoute pre{*chosen.pre_route, probs};
    res.chosen_summary = summarize(replayCascade(*table, chosen.plan, rows, &pre), chosen.plan.stages().size());
    res.router = std::move(*router);
    return res;
  }
  res.chosen_summary = summarize(replayCascade(*table, chosen.plan, rows), chosen.plan.stages().size());
  return res;
}

std::string routeYaml(const PlanCandidate& c, const std::string& name, const std::string& reference,
                      const std::string& header_comment, const std::string& router_path,
                      const std::vector<std::string>& models) {
  std::string out;
  for (size_t start = 0; start < header_comment.size();) {
    size_t nl = header_comment.find('\n', start);
    if (nl == std::string::npos) nl = header_comment.size();
    out += "# " + header_comment.substr(start, nl - start) + "\n";
    start = nl + 1;
  }
  const auto list = [](const std::vector<std::string>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + yamlString(v[i]);
    return s + "]";
  };
  out += "routes:\n  " + yamlString(name) + ":\n";
  if (c.learned_quality) {
    out += "    policy: learned\n    candidates: " + list(models) + "\n";
    out += "    router: " + yamlString(router_path) + "\n";
    out += fmt::format("    quality: {:g}\n", *c.learned_quality);
    out += "    reference: " + yamlString(reference) + "\n";
    return out;
  }
  const auto& stages = c.plan.stages();
  if (stages.size() == 1 && stages[0].kind == Kind::kModel) {
    out += "    policy: fixed\n    candidates: " + list(stages[0].models) + "\n";
    return out;
  }
  std::vector<std::string> cands = c.plan.models();
  out += "    policy: cascade\n    candidates: " + list(cands) + "\n";
  if (std::find(cands.begin(), cands.end(), reference) != cands.end()) out += "    reference: " + yamlString(reference) + "\n";
  out += "    cascade:\n      stages:\n";
  for (const auto& s : stages) {
    if (s.kind == Kind::kModel) {
      out += "        - {kind: model, model: " + yamlString(s.models[0]) + "}\n";
    } else {
      out += fmt::format("        - {{kind: agree, models: {}, min_votes: {}, extract: {}}}\n", list(s.models), s.min_votes,
                         yamlString(s.extract->spec()));
    }
  }
  if (c.pre_route && !router_path.empty()) {
    out += "      pre_route: {router: " + yamlString(router_path);
    if (c.pre_route->direct_above) out += fmt::format(", direct_above: {:g}", *c.pre_route->direct_above);
    if (c.pre_route->escalate_below) out += fmt::format(", escalate_below: {:g}", *c.pre_route->escalate_below);
    out += "}\n";
  }
  return out;
}

}  // namespace rightsize::evals
