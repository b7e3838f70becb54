// `rightsize plan`: pick the cheapest routing policy (a single model, a consensus cascade, or one
// pre-routed by a learned router)
// that keeps the reference's quality on outcomes-with-responses, cross-validated, and write it
// as a route (src/evals/planner.h, docs/cascade.md).
#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/core.h>

#include "app/commands.h"
#include "evals/outcomes.h"
#include "evals/planner.h"

namespace rightsize::app {
namespace {

struct PlanArgs {
  std::vector<std::string> data;
  std::string out;
  evals::PlanOptions opt;
};

double savings(double cost, double ref_cost) { return ref_cost > 0 ? 1.0 - cost / ref_cost : 0.0; }

int runPlan(const PlanArgs& a) {
  auto set = evals::readOutcomes(a.data);
  if (!set) {
    std::cerr << "rightsize: " << set.error().message << "\n";
    return 2;
  }
  auto res = evals::planRoute(*set, a.opt);
  if (!res) {
    std::cerr << "rightsize: plan: " << res.error().message << "\n";
    return res.error().code == ErrorCode::kInvalidArgument ? 2 : 1;
  }
  const evals::PlanCandidate& chosen = res->candidates[res->chosen];
  std::string data_list;
  for (const auto& d : a.data) data_list += (data_list.empty() ? "" : ",") + d;
  const std::string header = fmt::format(
      "written by `rightsize plan` over {}\nreference {}, quality {}, confidence {}, extract {}, {} folds\n"
      "held-out (cross-validated) quality {:.4f} vs reference {:.4f}; cost/request ${:.6f} vs ${:.6f} ({:.1f}% saved)",
      data_list, a.opt.reference, a.opt.quality, res->confidence, a.opt.extract, a.opt.folds, res->cv_quality, res->cv_ref_quality,
      res->cv_cost_usd, res->cv_ref_cost_usd, 100 * savings(res->cv_cost_usd, res->cv_ref_cost_usd));
  // A pre-routed pick needs its router: written beside the routes file, referenced by its file
  // name (relative paths resolve against the directory of the config the route is appended to).
  std::string router_name;
  if ((chosen.pre_route || chosen.learned_quality) && res->router) {
    router_name = a.opt.route + (chosen.learned_quality ? ".router.rsr" : ".pre_route.rsr");
    const std::filesystem::path router_path = std::filesystem::path(a.out).parent_path() / router_name;
    if (auto st = res->router->save(router_path.string()); !st) {
      std::cerr << "rightsize: cannot write " << router_path.string() << ": " << st.error().message << "\n";
      return 1;
    }
  }
  const std::string yaml = evals::routeYaml(chosen, a.opt.route, a.opt.reference, header, router_name, res->models);
  std::ofstream f(a.out, std::ios::binary | std::ios::trunc);
  f << yaml;
  if (!f) {
    std::cerr << "rightsize: cannot write " << a.out << "\n";
    return 1;
  }
  for (const auto& m : res->left_out)
    fmt::print(stderr, "left out of the search: {} (no outcome on more than 5% of the reference's records)\n", m);
  fmt::print(stderr, "candidates: {}; chosen: {}\n", res->candidates.size(), chosen.name);
  fmt::print(stderr, "confidence of the quality bound: {}{}\n", res->confidence,
             a.opt.confidence > 0 ? " (--confidence)"
                                  : " (ladder 0.8, 0.9, 0.95: the first whose cross-validated choice keeps the "
                                    "quality, else 0.95)");
  fmt::print(stderr, "held-out ({}-fold CV of the whole choice): quality {:.4f} (reference {:.4f}), cost/request ${:.6f} "
                     "(reference ${:.6f}), savings {:.1f}%\n",
             a.opt.folds, res->cv_quality, res->cv_ref_quality, res->cv_cost_usd, res->cv_ref_cost_usd,
             100 * savings(res->cv_cost_usd, res->cv_ref_cost_usd));
  std::string picks;
  for (const auto& p : res->cv_picks) picks += "\n    " + p;
  fmt::print(stderr, "  per-fold picks:{}\n", picks);
  for (const auto& [task, t] : res->cv_by_task)
    fmt::print(stderr, "  task {:<16} n={:<5} quality {:.4f} (reference {:.4f}), cost ${:.6f} (reference ${:.6f}), savings {:.1f}%\n",
               task, t.records, t.quality, t.ref_quality, t.cost_usd, t.ref_cost_usd, 100 * savings(t.cost_usd, t.ref_cost_usd));
  const auto& cs = res->chosen_stats;
  fmt::print(stderr, "chosen, all records: quality {:.4f}, cost ${:.6f}, {}% lower bound of the quality difference {:+.4f}\n",
             cs.quality, cs.cost_usd, 100 * res->confidence, cs.diff_lower);
  for (size_t s = 0; s < res->chosen_summary.ended_share.size(); ++s)
    fmt::print(stderr, "  ended at stage {}: {:.1f}%\n", s + 1, 100 * res->chosen_summary.ended_share[s]);
  fmt::print(stderr, "runner-ups:\n");
  for (const auto& r : res->runner_ups)
    fmt::print(stderr, "  {:<80} quality {:.4f}, cost ${:.6f}, bound {:+.4f}{}\n", res->candidates[r.candidate].name,
               r.quality, r.cost_usd, r.diff_lower, r.qualifies ? "" : " (does not qualify)");
  if (!router_name.empty()) fmt::print(stderr, "wrote its router beside it: {}\n", router_name);
  fmt::print(stderr, "wrote route '{}' to {}\n", a.opt.route, a.out);
  return 0;
}

}  // namespace

void addPlanCommand(CLI::App& root, int& exit_code) {
  auto a = std::make_shared<PlanArgs>();
  auto* cmd = root.add_subcommand("plan", "choose the cheapest single model or consensus cascade that keeps the "
                                          "reference's quality (cross-validated) and write it as a route");
  cmd->add_option("--data", a->data, "outcome files with responses, comma-separated")->required()->delimiter(',');
  cmd->add_option("--reference", a->opt.reference, "the model whose quality must be kept")->required();
  cmd->add_option("--quality", a->opt.quality, "fraction of the reference's quality to keep (default 1.0)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--confidence", a->opt.confidence,
                  "one-sided confidence of the quality bound (0.5: the mean; default: 0.8, raised to 0.9 then 0.95 "
                  "while the cross-validated choice loses quality)")
      ->check(CLI::Range(0.5, 0.999));
  cmd->add_option("--extract", a->opt.extract, "how agree stages compare answers: json:FIELD, regex:PATTERN, number, "
                                               "choice, answer, text, or auto (default: cascades with each of answer, "
                                               "json:answer and text are searched)");
  cmd->add_option("--route", a->opt.route, "route name to write (default auto)");
  cmd->add_option("--max-stages", a->opt.max_stages, "1: single models; 2: + agree -> reference; 3: + pair -> pair -> "
                                                     "reference (default 2)")
      ->check(CLI::Range(1, 3));
  cmd->add_option("--folds", a->opt.folds, "cross-validation folds (default 5)")->check(CLI::Range(2, 50));
  cmd->add_option("--seed", a->opt.seed, "seed of the fold split (and of the routers trained)");
  cmd->add_flag("--learned", a->opt.learned,
                "also search learned + cascade candidates (a router per fold; ~9x the time; see docs/cascade.md)");
  cmd->add_option("--threads", a->opt.threads, "router training threads (default 2)")->check(CLI::Range(1, 256));
  cmd->add_option("--out", a->out, "routes YAML to write")->required();
  cmd->callback([a, &exit_code] { exit_code = runPlan(*a); });
}

}  // namespace rightsize::app
