// `rightsize train | decide | score | simulate`: learn a router from outcomes, make batch
// decisions, and measure them (docs/router.md).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include <fmt/core.h>

#include "app/commands.h"
#include "common/strings.h"
#include "config/config.h"
#include "evals/cascade_replay.h"
#include "evals/metrics.h"
#include "evals/outcomes.h"
#include "evals/plot.h"
#include "evals/simulate.h"
#include "routing/cascade_policy.h"
#include "routing/router_model.h"
#include "routing/trainer.h"

namespace rightsize::app {
namespace {

std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> out;
  for (auto part : split(s, ',')) {
    auto t = trim(part);
    if (!t.empty()) out.emplace_back(t);
  }
  return out;
}

int reportError(const Error& e) {
  std::cerr << "rightsize: " << e.message << "\n";
  return e.code == ErrorCode::kInvalidArgument ? 2 : 1;
}

// A progress bar on stderr: redrawn in place on a terminal, one line per finished stage otherwise.
class ProgressBar {
 public:
  explicit ProgressBar(bool quiet) : quiet_(quiet), tty_(isatty(2) != 0) {}
  void update(std::string_view stage, size_t done, size_t total) {
    if (quiet_) return;
    if (tty_) {
      const int width = 30;
      const int fill = total > 0 ? static_cast<int>(width * done / total) : width;
      std::string bar(static_cast<size_t>(fill), '#');
      bar.resize(width, '.');
      fmt::print(stderr, "\r{:<28} [{}] {}/{}", stage, bar, done, total);
      if (done >= total) fmt::print(stderr, "\n");
    } else if (done >= total && total > 0) {
      fmt::print(stderr, "{}: {}/{} done\n", stage, done, total);
    }
    std::fflush(stderr);
  }

 private:
  bool quiet_;
  bool tty_;
};

// ---- train ----
struct TrainArgs {
  std::string data, out, models, learner = "auto";
  uint64_t seed = 1;
  uint32_t folds = 5, threads = 0, hash_bits = 16, epochs = 12;
  bool quiet = false;
  bool compare_knn = false;
};

// Metrics of a held-out sweep in the training data's own frame (for the learner comparison).
evals::Frame frameOf(const routing::TrainingData& d) {
  evals::Frame f;
  const size_t m_count = d.models.size();
  bool first = true;
  for (size_t m = 0; m < m_count; ++m) {
    double q = 0, c = 0, n = 0;
    for (size_t i = 0; i < d.size(); ++i)
      if (!std::isnan(d.scoreAt(i, m))) q += d.scoreAt(i, m), c += d.costAt(i, m), n += 1;
    if (n == 0) continue;
    q /= n, c /= n;
    if (first || q > f.q_star || (q == f.q_star && c < f.c_star)) f.q_star = q, f.c_star = c;
    f.c_min = first ? c : std::min(f.c_min, c);
    f.c_max = first ? c : std::max(f.c_max, c);
    first = false;
  }
  return f;
}

int runTrain(const TrainArgs& a) {
  auto set = evals::readOutcomes(splitList(a.data));
  if (!set) return reportError(set.error());
  auto data = evals::toTrainingData(*set, splitList(a.models));
  if (!data) return reportError(data.error());
  ProgressBar bar(a.quiet);
  routing::TrainOptions opt;
  opt.seed = a.seed;
  opt.folds = a.folds;
  opt.threads = a.threads;
  opt.hash_bits = a.hash_bits;
  opt.epochs = a.epochs;
  opt.learner = a.learner;
  opt.compare_knn = a.compare_knn;
  opt.progress = [&](std::string_view stage, size_t done, size_t total) { bar.update(stage, done, total); };
  if (!a.quiet)
    fmt::print(stderr, "training on {} prompts x {} models from {}\n", data->size(), data->models.size(), a.data);
  const auto t0 = std::chrono::steady_clock::now();
  routing::TrainReport rep;
  auto router = routing::train(*data, opt, &rep);
  if (!router) return reportError(router.error());
  if (auto s = router->save(a.out); !s) return reportError(s.error());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!a.quiet) {
    const evals::Frame f = frameOf(*data);
    fmt::print(stderr, "held-out ({}-fold inside the training data):\n", a.folds);
    for (const auto& t : rep.tried) fmt::print(stderr, "  {:<44} log loss {:.4f}  brier {:.4f}\n", t.name, t.log_loss, t.brier);
    for (const auto& t : rep.finalists) {
      std::vector<evals::CostQuality> pts;
      for (const auto& [c, q] : t.curve) pts.push_back({c, q});
      auto m = evals::curveMetrics(pts, f, {});
      fmt::print(stderr, "  {:<60} log loss {:.4f}  AIQ {:.4f}  savings@95 {}  Q@C* {:.4f}\n", t.name, t.log_loss,
                 m.aiq, m.savings_95 ? fmt::format("{:.1f}%", *m.savings_95 * 100) : "n/a", m.q_at_cstar);
    }
    std::string anchors;
    for (const auto& [b, v] : rep.anchor_values) anchors += fmt::format(" {:g}:{:.4f}", b, v);
    fmt::print(stderr, "stacked choice minus tf-idf finalist, held-out AIQ + Q@C*: {:+.4f} (bootstrap se {:.4f})\n",
               rep.selection_gap, rep.selection_gap_se);
    fmt::print(stderr, "kept: {}\nanchor bonus for {}: {:g} (held-out AIQ + Q@C* by bonus:{})\n", rep.chosen,
               router->models[static_cast<size_t>(router->anchor_model)], rep.anchor_bonus, anchors);
    fmt::print(stderr, "out-of-distribution shrinkage: {}\n", rep.ood);
    fmt::print(stderr, "wrote {} ({} models, {:.1f}s)\n", a.out, router->modelCount(), secs);
  }
  return 0;
}

// ---- decide ----
struct DecideArgs {
  std::string router, prompts;
  int sweep = 0;
  double quality = -1;
};

int runDecide(const DecideArgs& a) {
  auto router = routing::RouterModel::load(a.router);
  if (!router) return reportError(router.error());
  auto prompts = evals::readPrompts(a.prompts);
  if (!prompts) return reportError(prompts.error());
  std::vector<double> knobs;
  if (a.quality >= 0) knobs = {router->knobForQuality(a.quality)};
  else knobs = evals::sweepKnobs(a.sweep > 0 ? a.sweep : 21);
  ProgressBar bar(false);
  auto decisions = evals::decideAll(*router, *prompts, knobs,
                                    [&](size_t done, size_t total) { bar.update("decide", done, total); });
  std::string out;
  for (const auto& d : decisions) {
    out += evals::decisionLine(d.id, d.model, d.knob);
    out += '\n';
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

// ---- score ----
struct ScoreArgs {
  std::string data, decisions;
  bool json = false;
};

int runScore(const ScoreArgs& a) {
  auto set = evals::readOutcomes(splitList(a.data));
  if (!set) return reportError(set.error());
  auto decisions = evals::readDecisions(a.decisions);
  if (!decisions) return reportError(decisions.error());
  auto rep = evals::scoreDecisions(*set, *decisions);
  if (!rep) return reportError(rep.error());
  std::cout << (a.json ? evals::reportJson(*rep) + "\n" : evals::reportTable(*rep));
  return 0;
}

// ---- simulate ----
struct SimulateArgs {
  std::string router, data, plot, title, cv_by, models;
  std::string cascade, config;  // --cascade ROUTE of --config FILE
  std::string records;          // --cascade: per-record JSONL output
  int sweep = 21;
  uint32_t cv = 0;
  uint64_t seed = 1;
  uint32_t threads = 0, hash_bits = 16, epochs = 12;
  std::string learner = "auto";
  bool json = false;
};

// Cross-validated decisions: each prompt is decided by a router trained without its fold (or
// its group, e.g. its task), so the pooled curve is a held-out measurement.
Result<std::vector<evals::DecisionRecord>> crossValidatedDecisions(const SimulateArgs& a, const evals::OutcomeSet& set,
                                                                   const std::vector<double>& knobs) {
  auto all = evals::toTrainingData(set, {});
  if (!all) return fail(all.error());
  std::vector<std::string> group_of(set.size());
  std::vector<std::string> groups;
  if (a.cv_by == "task") {
    std::set<std::string> g(set.tasks.begin(), set.tasks.end());
    groups.assign(g.begin(), g.end());
    group_of = set.tasks;
  } else if (!a.cv_by.empty()) {
    return fail(ErrorCode::kInvalidArgument, "--cv-by must be 'task'");
  } else {
    for (uint32_t k = 0; k < a.cv; ++k) groups.push_back(std::to_string(k));
    // The outer split uses another seed than train's inner folds.
    for (size_t i = 0; i < set.size(); ++i)
      group_of[i] = std::to_string(routing::foldOf(set.ids[i], a.seed + 0x5eed, a.cv));
  }
  if (groups.size() < 2) return fail(ErrorCode::kInvalidArgument, "cross-validation needs at least 2 groups");
  std::vector<evals::DecisionRecord> out;
  ProgressBar bar(false);
  for (size_t g = 0; g < groups.size(); ++g) {
    routing::TrainingData tr;
    tr.models = set.models;
    std::vector<evals::PromptRecord> test;
    const size_t m_count = set.models.size();
    for (size_t i = 0; i < set.size(); ++i) {
      if (group_of[i] == groups[g]) {
        test.push_back({set.ids[i], set.asks[i]});
        continue;
      }
      tr.ids.push_back(set.ids[i]);
      tr.asks.push_back(set.asks[i]);
      tr.tasks.push_back(set.tasks[i]);
      for (size_t m = 0; m < m_count; ++m) {
        tr.score.push_back(set.scoreAt(i, m));
        tr.cost_usd.push_back(set.costAt(i, m));
      }
    }
    routing::TrainOptions opt;
    opt.seed = a.seed;
    opt.threads = a.threads;
    opt.hash_bits = a.hash_bits;
    opt.epochs = a.epochs;
    opt.learner = a.learner;
    const std::string label = fmt::format("fold {}/{} {}", g + 1, groups.size(), a.cv_by.empty() ? "" : groups[g]);
    opt.progress = [&](std::string_view stage, size_t done, size_t total) {
      bar.update(label + " " + std::string(stage), done, total);
    };
    routing::TrainReport rep;
    auto router = routing::train(tr, opt, &rep);
    if (!router) return fail(router.error());
    fmt::print(stderr, "{}: train {} / test {} prompts, kept {} (stacked - tf-idf {:+.4f}, se {:.4f}); ood: {}\n", label,
               tr.size(), test.size(), rep.chosen, rep.selection_gap, rep.selection_gap_se, rep.ood);
    auto d = evals::decideAll(*router, test, knobs);
    out.insert(out.end(), d.begin(), d.end());
  }
  return out;
}

// --cascade: replays a staged cascade route of a config over outcomes with responses, with the
// gateway's own decision code (evals/cascade_replay.h); cost counts every call made.
int runCascadeSimulate(const SimulateArgs& a, const evals::OutcomeSet& set) {
  if (a.config.empty()) {
    std::cerr << "rightsize: simulate --cascade needs --config (the file that defines the route)\n";
    return 2;
  }
  auto cfg = config::loadConfigFile(a.config, config::processEnv());
  if (!cfg) return reportError(cfg.error());
  auto rit = cfg->routes.find(a.cascade);
  if (rit == cfg->routes.end()) {
    std::cerr << "rightsize: no route '" << a.cascade << "' in " << a.config << "\n";
    return 2;
  }
  const config::RouteConfig& rc = rit->second;
  if (rc.policy != "cascade" || rc.cascade.stages.empty()) {
    std::cerr << "rightsize: route '" << a.cascade << "' is not a staged cascade (policy: cascade with cascade.stages)\n";
    return 2;
  }
  if (set.responses_present == 0) {
    std::cerr << "rightsize: " << a.data << " has no \"response\" texts; a cascade replay needs the models' answers\n";
    return 2;
  }
  auto policy = routing::makeCascade(routing::PolicyContext{*cfg, rc});
  if (!policy) return reportError(policy.error());
  const routing::CascadePlan& plan = *(*policy)->plan();
  auto table = evals::ReplayTable::build(set, (*policy)->checks(), {&plan});
  if (!table) return reportError(table.error());
  // cascade.pre_route: the route's router predicts on each record's ask, as it would on the request.
  std::vector<double> probs;
  std::optional<evals::ReplayPreRoute> pre;
  if (const routing::CascadePreRouter* pr = (*policy)->preRouter()) {
    const std::vector<std::string> plan_models = plan.models();
    const size_t mc = set.models.size();
    probs.assign(set.size() * mc, 0.0);
    std::vector<double> p;
    for (size_t i = 0; i < set.size(); ++i) {
      pr->probabilities(set.asks[i], p);
      for (size_t j = 0; j < plan_models.size(); ++j)
        probs[i * mc + static_cast<size_t>(set.modelIndex(plan_models[j]))] = p[j];
    }
    pre = evals::ReplayPreRoute{pr->thresholds(), probs};
  }
  const auto records = evals::replayCascade(*table, plan, {}, pre ? &*pre : nullptr);
  const auto sum = evals::summarize(records, plan.stages().size());
  if (!a.records.empty()) {
    // One line per record, in the data's order: what the gateway would send and charge for it.
    std::ofstream f(a.records, std::ios::binary | std::ios::trunc);
    for (size_t i = 0; i < records.size() && f; ++i) {
      const evals::ReplayRecord& r = records[i];
      f << fmt::format("{{\"id\":{},\"task\":{},\"model\":{},\"ended_stage\":{},\"accepted\":{},\"score\":{},\"cost_usd\":{}{}}}\n",
                       jsonString(set.ids[i]), jsonString(set.tasks[i]), jsonString(r.model), r.ended_stage + 1,
                       r.accepted ? "true" : "false", r.score, r.cost_usd,
                       pre ? fmt::format(",\"pre_route\":\"{}\",\"p\":{:.4f}", routing::preRouteName(r.pre_route.decision),
                                         r.pre_route.p)
                           : std::string());
    }
    if (!f.flush()) {
      std::cerr << "rightsize: cannot write " << a.records << "\n";
      return 1;
    }
  }
  const auto single = [&](const std::string& model, double& q, double& c) {
    const int m = set.modelIndex(model);
    q = c = 0;
    size_t n = 0;
    for (size_t i = 0; i < set.size(); ++i)
      if (m >= 0 && set.has(i, static_cast<size_t>(m))) {
        q += set.scoreAt(i, static_cast<size_t>(m));
        c += set.costAt(i, static_cast<size_t>(m));
        ++n;
      }
    if (n) q /= static_cast<double>(n), c /= static_cast<double>(n);
    return n;
  };
  if (a.json) {
    std::string shares;
    for (double s : sum.ended_share) shares += (shares.empty() ? "" : ",") + fmt::format("{:.6f}", s);
    double rq = 0, rcost = 0;
    single(rc.reference, rq, rcost);
    fmt::print("{{\"route\":\"{}\",\"records\":{},\"quality\":{:.6f},\"cost_usd\":{:.9f},\"accepted_share\":{:.6f},"
               "\"ended_share\":[{}],\"reference\":\"{}\",\"reference_quality\":{:.6f},\"reference_cost_usd\":{:.9f}}}\n",
               a.cascade, sum.records, sum.quality, sum.cost_usd, sum.accepted_share, shares, rc.reference, rq, rcost);
    return 0;
  }
  fmt::print("cascade route '{}' over {} records (every call paid; in-sample replay)\n", a.cascade, sum.records);
  fmt::print("  {:<40} quality {:.4f}  cost/request ${:.6f}  accepted {:.1f}%\n", "cascade", sum.quality, sum.cost_usd,
             100 * sum.accepted_share);
  for (size_t s = 0; s < sum.ended_share.size(); ++s) fmt::print("  ended at stage {}: {:.1f}%\n", s + 1, 100 * sum.ended_share[s]);
  for (const std::string& m : plan.models()) {
    double q = 0, c = 0;
    const size_t n = single(m, q, c);
    fmt::print("  {:<40} quality {:.4f}  cost/request ${:.6f}  (n={}){}\n", m, q, c, n, m == rc.reference ? "  reference" : "");
  }
  return 0;
}

int runSimulate(const SimulateArgs& a) {
  if (!a.records.empty() && a.cascade.empty()) {
    std::cerr << "rightsize: simulate --records needs --cascade\n";
    return 2;
  }
  if (!a.cascade.empty()) {
    if (!a.router.empty() || a.cv != 0 || !a.cv_by.empty()) {
      std::cerr << "rightsize: simulate --cascade excludes --router and --cv/--cv-by\n";
      return 2;
    }
    auto set = evals::readOutcomes(splitList(a.data));
    if (!set) return reportError(set.error());
    return runCascadeSimulate(a, *set);
  }
  if (a.router.empty() == (a.cv == 0 && a.cv_by.empty())) {
    std::cerr << "rightsize: simulate needs exactly one of --router or --cv/--cv-by\n";
    return 2;
  }
  auto set = evals::readOutcomes(splitList(a.data));
  if (!set) return reportError(set.error());
  if (!a.models.empty()) {
    set = evals::restrictModels(*set, splitList(a.models));
    if (!set) return reportError(set.error());
  }
  const auto knobs = evals::sweepKnobs(a.sweep);
  std::vector<evals::DecisionRecord> decisions;
  if (!a.router.empty()) {
    auto router = routing::RouterModel::load(a.router);
    if (!router) return reportError(router.error());
    for (const auto& m : router->models)
      if (set->modelIndex(m) < 0) {
        std::cerr << "rightsize: the router's model '" << m << "' has no outcomes in " << a.data << "\n";
        return 2;
      }
    ProgressBar bar(false);
    decisions = evals::decideAll(*router, evals::promptsOf(*set), knobs,
                                 [&](size_t done, size_t total) { bar.update("decide", done, total); });
  } else {
    auto d = crossValidatedDecisions(a, *set, knobs);
    if (!d) return reportError(d.error());
    decisions = std::move(*d);
  }
  auto rep = evals::scoreDecisions(*set, decisions);
  if (!rep) return reportError(rep.error());
  std::cout << (a.json ? evals::reportJson(*rep) + "\n" : evals::reportTable(*rep));
  if (!a.plot.empty()) {
    std::string title = a.title;
    if (title.empty()) title = a.router.empty() ? "cross-validated router: " + a.data : "router " + a.router;
    std::ofstream f(a.plot, std::ios::binary | std::ios::trunc);
    const std::string svg = evals::costQualitySvg(*rep, title);
    f.write(svg.data(), static_cast<std::streamsize>(svg.size()));
    if (!f) {
      std::cerr << "rightsize: cannot write " << a.plot << "\n";
      return 1;
    }
  }
  return 0;
}

}  // namespace

void addRouterCommands(CLI::App& root, int& exit_code) {
  {
    auto a = std::make_shared<TrainArgs>();
    auto* cmd = root.add_subcommand("train", "learn a router from outcomes");
    cmd->add_option("--data", a->data, "outcome files (.jsonl or .jsonl.gz), comma-separated")->required();
    cmd->add_option("--out", a->out, "router file to write")->required();
    cmd->add_option("--models", a->models, "only these models, comma-separated (default: all)");
    cmd->add_option("--seed", a->seed, "seed of the fold split and SGD order (same data + seed = same file)");
    cmd->add_option("--learner", a->learner,
                    "auto (keep the best on held-out folds), lr, mf, task, blend, or tfidf-lr (the baseline)")
        ->check(CLI::IsMember({"auto", "lr", "mf", "task", "blend", "tfidf-lr"}));
    cmd->add_option("--folds", a->folds, "inner cross-validation folds")->check(CLI::Range(2, 20));
    cmd->add_option("--threads", a->threads, "worker threads (0 = all cores)");
    cmd->add_option("--hash-bits", a->hash_bits, "2^bits hashed feature buckets")->check(CLI::Range(10, 22));
    cmd->add_option("--epochs", a->epochs, "SGD passes per fit")->check(CLI::Range(1, 200));
    cmd->add_flag("--quiet", a->quiet, "no progress or summary on stderr");
    cmd->add_flag("--compare-knn", a->compare_knn,
                  "also report k-nearest-neighbours on the held-out folds (comparison only; slower)");
    cmd->callback([a, &exit_code] { exit_code = runTrain(*a); });
  }
  {
    auto a = std::make_shared<DecideArgs>();
    auto* cmd = root.add_subcommand("decide", "batch decisions of a router: one JSON line per prompt per knob");
    cmd->add_option("--router", a->router, "router file from `rightsize train`")->required();
    cmd->add_option("--prompts", a->prompts, "prompts (outcomes form; only id and prompt/messages are read)")
        ->required();
    auto* sweep = cmd->add_option("--sweep", a->sweep, "N evenly spaced knob values from 0 to 1 (default 21)")
                      ->check(CLI::Range(1, 10001));
    auto* q = cmd->add_option("--quality", a->quality,
                              "one knob: the one calibrated for this fraction of the best model's quality")
                  ->check(CLI::Range(0.0, 1.0));
    sweep->excludes(q);
    cmd->callback([a, &exit_code] { exit_code = runDecide(*a); });
  }
  {
    auto a = std::make_shared<ScoreArgs>();
    auto* cmd = root.add_subcommand("score", "cost-quality metrics of decisions against outcomes");
    cmd->add_option("--data", a->data, "outcome files, comma-separated")->required();
    cmd->add_option("--decisions", a->decisions, "decisions from `rightsize decide`")->required();
    cmd->add_flag("--json", a->json, "one JSON object instead of the table");
    cmd->callback([a, &exit_code] { exit_code = runScore(*a); });
  }
  {
    auto a = std::make_shared<SimulateArgs>();
    auto* cmd = root.add_subcommand(
        "simulate", "decide (sweep) + score + plot; or, with --cv K, K-fold cross-validation of train itself");
    cmd->add_option("--router", a->router, "router file");
    cmd->add_option("--data", a->data, "outcome files, comma-separated")->required();
    cmd->add_option("--sweep", a->sweep, "knob values (default 21)")->check(CLI::Range(2, 10001));
    cmd->add_option("--plot", a->plot, "write an SVG of the cost-quality curve");
    cmd->add_option("--title", a->title, "plot title");
    cmd->add_flag("--json", a->json, "one JSON object instead of the table");
    cmd->add_option("--cv", a->cv, "instead of --router: K-fold cross-validation (train on K-1, decide the rest)")
        ->check(CLI::Range(2, 50));
    cmd->add_option("--cv-by", a->cv_by, "instead of --router: leave-one-group-out; 'task' holds out each task");
    cmd->add_option("--seed", a->seed, "--cv: seed of the split and of train");
    cmd->add_option("--learner", a->learner, "--cv: learner for train")
        ->check(CLI::IsMember({"auto", "lr", "mf", "task", "blend", "tfidf-lr"}));
    cmd->add_option("--models", a->models, "only these models, comma-separated (e.g. a two-model pair)");
    cmd->add_option("--threads", a->threads, "--cv: train threads (0 = all cores)");
    cmd->add_option("--hash-bits", a->hash_bits, "--cv: train hash bits")->check(CLI::Range(10, 22));
    cmd->add_option("--epochs", a->epochs, "--cv: SGD passes per fit")->check(CLI::Range(1, 200));
    cmd->add_option("--cascade", a->cascade,
                    "instead of a router: replay this staged cascade route of --config over the data's responses");
    cmd->add_option("--config", a->config, "--cascade: the configuration file defining the route");
    cmd->add_option("--records", a->records,
                    "--cascade: also write one JSON line per record (id, task, model sent, ended_stage, accepted, score, "
                    "cost_usd of every call) to this file");
    cmd->callback([a, &exit_code] { exit_code = runSimulate(*a); });
  }
}

}  // namespace rightsize::app
