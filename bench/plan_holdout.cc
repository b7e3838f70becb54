// How `rightsize plan`'s choice holds on prompts it never saw: the protocol of issue 12's blind
// check, run on a shared outcomes file. For each split seed, a random `plan_size` prompts are
// planned on (evals::planRoute, what `rightsize plan` runs) and the written route is replayed
// (evals::replayCascade, the gateway's decision code) on all the other prompts, beside the
// reference alone on the same prompts. Repeated per reference model and per --confidence level.
// Plain main(): prints a table, asserts nothing. A development tool: its numbers come from the
// shared data, not from the blind sets.
//
//   rs_plan_holdout --data F[,F] [--tasks T,T] [--extract choice] [--references M,M]
//                   [--plan-size 650] [--splits 20] [--quality 1.0] [--confidence 0.5,0.8,0.95]
//
// Per reference and confidence: over the splits, the mean judged quality difference (route -
// quality x reference, on the judged prompts), the share of splits whose route keeps at least
// quality x the reference's quality ("held"), the mean cost as a share of the reference's, and the share that held at
// <= 55% of the reference's cost ("won": issue 12's bar).

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "common/strings.h"
#include "evals/cascade_replay.h"
#include "evals/outcomes.h"
#include "evals/planner.h"
#include "routing/checks.h"
#include "routing/trainer.h"

using namespace rightsize;

namespace {

struct Tally {
  int splits = 0, held = 0, won = 0, cascades = 0;
  double diff = 0, cost_share = 0, worst = 1;
};

// Non-empty comma-separated items.
std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> out;
  for (std::string_view item : rightsize::split(s, ','))
    if (!item.empty()) out.emplace_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"plan on a random sample, judge on the rest"};
  std::string data, tasks, references, extract = "choice";
  std::vector<double> levels = {0, 0.5, 0.8, 0.95};
  size_t plan_size = 650;
  int splits = 20;
  double quality = 1.0;
  app.add_option("--data", data, "outcome files with responses")->required();
  app.add_option("--tasks", tasks, "only these tasks (default all)");
  app.add_option("--extract", extract, "extractor of agree stages");
  app.add_option("--references", references, "reference models (default: the best-scoring model)");
  app.add_option("--plan-size", plan_size, "prompts planned on per split");
  app.add_option("--splits", splits, "random splits");
  app.add_option("--quality", quality, "plan --quality");
  app.add_option("--confidence", levels, "plan --confidence values (0: the default ladder)")->delimiter(',');
  CLI11_PARSE(app, argc, argv);

  auto all = evals::readOutcomes(splitList(data));
  if (!all) {
    fmt::print(stderr, "{}\n", all.error().message);
    return 2;
  }
  const auto want = splitList(tasks);
  std::vector<size_t> keep;
  for (size_t i = 0; i < all->size(); ++i) {
    bool every = true;
    for (size_t m = 0; m < all->models.size() && every; ++m) every = all->has(i, m);
    if (every && (want.empty() || std::find(want.begin(), want.end(), all->tasks[i]) != want.end())) keep.push_back(i);
  }
  const evals::OutcomeSet set = evals::restrictRecords(*all, keep);
  std::vector<std::string> refs = splitList(references);
  if (refs.empty()) {
    size_t best = 0;
    double best_q = -1;
    for (size_t m = 0; m < set.models.size(); ++m) {
      double q = 0;
      for (size_t i = 0; i < set.size(); ++i) q += set.scoreAt(i, m);
      if (q > best_q) best_q = q, best = m;
    }
    refs.push_back(set.models[best]);
  }
  if (set.size() <= plan_size) {
    fmt::print(stderr, "only {} prompts: nothing left to judge on\n", set.size());
    return 2;
  }
  auto checks = routing::AnswerChecks::make(config::CascadeConfig{}, "holdout", "auto");
  if (!checks) return 2;
  fmt::print("{} prompts ({} models); plan on {}, judge on {}; {} splits; quality {}\n\n", set.size(), set.models.size(),
             plan_size, set.size() - plan_size, splits, quality);
  fmt::print("| reference | confidence | judged diff (mean) | worst | held | cascade picked | cost vs ref | won (held, <= 55%) |\n");
  fmt::print("|---|---|---|---|---|---|---|---|\n");
  for (const auto& ref : refs) {
    const int ref_col = set.modelIndex(ref);
    if (ref_col < 0) {
      fmt::print(stderr, "no model {}\n", ref);
      return 2;
    }
    std::vector<Tally> tally(levels.size());
    for (int s = 1; s <= splits; ++s) {
      // A split: the plan_size prompts with the smallest hash of (id, seed) are planned on.
      std::vector<std::pair<uint32_t, size_t>> order;
      for (size_t i = 0; i < set.size(); ++i)
        order.emplace_back(routing::foldOf(set.ids[i], 1000 + static_cast<uint64_t>(s), 1u << 30), i);
      std::sort(order.begin(), order.end());
      std::vector<size_t> plan_rows, judge_rows;
      for (size_t k = 0; k < order.size(); ++k) (k < plan_size ? plan_rows : judge_rows).push_back(order[k].second);
      std::sort(plan_rows.begin(), plan_rows.end());
      std::sort(judge_rows.begin(), judge_rows.end());
      const evals::OutcomeSet plan_set = evals::restrictRecords(set, plan_rows);
      const evals::OutcomeSet judge_set = evals::restrictRecords(set, judge_rows);
      double ref_q = 0, ref_c = 0;
      for (size_t i = 0; i < judge_set.size(); ++i) {
        ref_q += judge_set.scoreAt(i, static_cast<size_t>(ref_col));
        ref_c += judge_set.costAt(i, static_cast<size_t>(ref_col));
      }
      ref_q /= static_cast<double>(judge_set.size());
      ref_c /= static_cast<double>(judge_set.size());
      for (size_t l = 0; l < levels.size(); ++l) {
        evals::PlanOptions opt;
        opt.reference = ref;
        opt.quality = quality;
        opt.extract = extract;
        opt.confidence = levels[l];
        opt.seed = static_cast<uint64_t>(s);
        auto res = evals::planRoute(plan_set, opt);
        if (!res) {
          fmt::print(stderr, "plan: {}\n", res.error().message);
          return 1;
        }
        const routing::CascadePlan& chosen = res->candidates[res->chosen].plan;
        auto table = evals::ReplayTable::build(judge_set, **checks, {&chosen});
        if (!table) {
          fmt::print(stderr, "replay: {}\n", table.error().message);
          return 1;
        }
        const auto sum = evals::summarize(evals::replayCascade(*table, chosen), chosen.stages().size());
        Tally& t = tally[l];
        const double diff = sum.quality - quality * ref_q, share = ref_c > 0 ? sum.cost_usd / ref_c : 1;
        ++t.splits;
        t.diff += diff;
        t.worst = std::min(t.worst, diff);
        t.cost_share += share;
        t.cascades += chosen.stages().size() > 1 ? 1 : 0;
        t.held += diff >= 0 ? 1 : 0;
        t.won += diff >= 0 && share <= 0.55 ? 1 : 0;
      }
    }
    for (size_t l = 0; l < levels.size(); ++l) {
      const Tally& t = tally[l];
      const double n = t.splits;
      fmt::print("| {} | {} | {:+.4f} | {:+.4f} | {}/{} | {}/{} | {:.1f}% | {}/{} |\n", ref, levels[l], t.diff / n, t.worst,
                 t.held, t.splits, t.cascades, t.splits, 100 * t.cost_share / n, t.won, t.splits);
    }
    std::fflush(stdout);
  }
  return 0;
}
