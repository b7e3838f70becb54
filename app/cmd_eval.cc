// `rightsize eval`: run an eval suite against the gateway config's models, write the outcomes
// file `rightsize train` reads, a Markdown and an HTML report, and (with --select) the cheapest
// candidate per task (docs/evals.md).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

#include <fmt/core.h>

#include "app/commands.h"
#include "config/config.h"
#include "evals/eval_report.h"
#include "evals/runner.h"
#include "evals/suite.h"

namespace rightsize::app {
namespace {

struct EvalArgs {
  std::string config, suite, out, report;
  bool select = false;
  double pass = 0.9;
  bool quiet = false;
};

// "runs/x.jsonl.gz" -> "runs/x": where the reports go by default.
std::string stemOf(std::string p) {
  for (const char* ext : {".gz", ".jsonl", ".json"})
    if (p.size() > std::strlen(ext) && p.compare(p.size() - std::strlen(ext), std::strlen(ext), ext) == 0)
      p.resize(p.size() - std::strlen(ext));
  return p;
}

bool writeText(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  return static_cast<bool>(f);
}

int runEval(const EvalArgs& a) {
  auto cfg = config::loadConfigFile(a.config, config::processEnv());
  if (!cfg) {
    std::cerr << "rightsize: invalid configuration: " << cfg.error().message << "\n";
    return 2;
  }
  auto suite = evals::loadSuite(a.suite, *cfg);
  if (!suite) {
    std::cerr << "rightsize: invalid suite: " << suite.error().message << "\n";
    return suite.error().code == ErrorCode::kIo ? 1 : 2;
  }
  const bool tty = isatty(2) != 0;
  size_t last_line_pct = 0;
  evals::RunOptions opt;
  opt.out = a.out;
  opt.progress = [&](size_t done, size_t total, size_t errors) {
    if (a.quiet || total == 0) return;
    if (tty) {
      const int width = 30;
      const int fill = static_cast<int>(width * done / total);
      std::string bar(static_cast<size_t>(fill), '#');
      bar.resize(width, '.');
      fmt::print(stderr, "\reval [{}] {}/{} calls, {} errors", bar, done, total, errors);
      if (done == total) fmt::print(stderr, "\n");
    } else {
      const size_t p = done * 10 / total;  // a line every 10%
      if (p > last_line_pct || done == total) {
        last_line_pct = p;
        fmt::print(stderr, "eval: {}/{} cells done, {} errors\n", done, total, errors);
      }
    }
    std::fflush(stderr);
  };
  if (!a.quiet)
    fmt::print(stderr, "eval '{}': {} tasks, {} cases x {} candidates\n", suite->cfg.name, suite->tasks.size(),
               suite->cases.size(), suite->cfg.candidates.size());
  const auto t0 = std::chrono::steady_clock::now();
  auto sum = evals::runSuite(*suite, *cfg, opt);
  if (!sum) {
    std::cerr << "rightsize: " << sum.error().message << "\n";
    return sum.error().code == ErrorCode::kInvalidArgument ? 2 : 1;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!a.quiet)
    fmt::print(stderr, "{} cells: {} already done, {} run ({} failed), {} upstream calls, ${:.6f} spent, {:.1f} s -> {}\n",
               sum->cells_total, sum->cells_skipped, sum->cells_run, sum->cells_failed, sum->calls, sum->spent_usd, secs,
               a.out);

  const auto stats = evals::taskStats(*suite, sum->results);
  const std::string stem = a.report.empty() ? stemOf(a.out) : stemOf(a.report);
  const std::string md = stem + ".md", html = stem + ".html";
  if (!writeText(md, evals::reportMarkdown(*suite, stats)) ||
      !writeText(html, evals::reportHtml(*suite, stats, sum->results))) {
    std::cerr << "rightsize: cannot write the report " << md << " / " << html << "\n";
    return 1;
  }
  if (!a.quiet) fmt::print(stderr, "report: {} and {}\n", md, html);
  // The per-task table on stdout.
  for (const auto& t : stats) {
    fmt::print("{} ({} cases, {})\n", t.task, t.cases, t.grader);
    for (const auto& m : t.models)
      fmt::print("  {:<36} pass {:>6.1f}%  score {:.3f}  cost/case ${:.3g}  p50 {:.1f} ms{}\n", m.model, m.pass_rate * 100,
                 m.mean_score, m.mean_cost, m.p50_latency_ms, m.errors ? fmt::format("  errors {}", m.errors) : "");
  }
  if (a.select) {
    std::vector<std::string> names;
    for (const auto& [n, m] : cfg->models) names.push_back(n);
    fmt::print("\n{}", evals::selectionText(evals::selectCheapest(stats, a.pass), a.pass, names));
  }
  size_t unscored = 0;
  for (const auto& t : stats)
    for (const auto& m : t.models) unscored += m.errors;
  if (unscored > 0) {
    std::cerr << "rightsize: some calls failed (see \"errors\" in " << a.out << "); run the same command again to retry "
              << "only those\n";
    return 1;
  }
  return 0;
}

}  // namespace

void addEvalCommand(CLI::App& root, int& exit_code) {
  auto a = std::make_shared<EvalArgs>();
  auto* cmd = root.add_subcommand("eval", "run an eval suite against candidate models; writes outcomes for `train`");
  cmd->add_option("--config", a->config, "gateway configuration (providers and models)")->required();
  cmd->add_option("--suite", a->suite, "eval suite (YAML)")->required();
  cmd->add_option("--out", a->out, "outcomes file (.jsonl or .jsonl.gz); a rerun resumes it")->required();
  cmd->add_option("--report", a->report, "report path stem (default: the --out path without .jsonl[.gz]); "
                                         "writes STEM.md and STEM.html");
  cmd->add_flag("--select", a->select, "print the cheapest candidate per task that clears --pass, and a routes: snippet");
  cmd->add_option("--pass", a->pass, "pass-rate bar for --select (default 0.9)")->check(CLI::Range(0.0, 1.0));
  cmd->add_flag("--quiet", a->quiet, "no progress on stderr");
  cmd->callback([a, &exit_code] { exit_code = runEval(*a); });
}

}  // namespace rightsize::app
