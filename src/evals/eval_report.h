#pragma once
// What an eval run says, per task and candidate: pass rate, mean score, mean cost, p50 latency,
// errors; the cheapest candidate that clears a pass-rate bar (`--select`); and the report files
// (Markdown, and one self-contained HTML page with an inline SVG cost-vs-quality chart per task).

#include <optional>
#include <string>
#include <vector>

#include "evals/runner.h"
#include "evals/suite.h"

namespace rightsize::evals {

struct ModelStats {
  std::string model;
  size_t cases = 0;        // cases of the task
  size_t scored = 0;       // cells with a score
  size_t passed = 0;       // score >= the task's pass_score
  size_t errors = 0;       // cells without a score (call or judge failed)
  double pass_rate = 0;    // passed / cases: an error counts as not passed
  double mean_score = 0;   // over scored cells
  double mean_cost = 0;    // USD per case, over scored cells
  double judge_cost = 0;   // USD, total
  double p50_latency_ms = 0;
};

struct TaskStats {
  std::string task;
  std::string grader;
  double pass_score = 0;
  size_t cases = 0;
  std::vector<ModelStats> models;   // suite candidate order
};

// Stats of every task (suite order) from a run's results (cells of non-candidates ignored).
std::vector<TaskStats> taskStats(const Suite& suite, const std::vector<CaseResult>& results);

struct Selection {
  std::string task;
  std::optional<std::string> chosen;  // cheapest candidate with pass_rate >= bar
  std::string best;                   // highest pass rate (ties: cheaper)
  std::string dearest;                // highest mean cost
  double chosen_cost = 0, dearest_cost = 0, chosen_pass = 0, best_pass = 0;
  double savings = 0;                 // 1 - chosen_cost / dearest_cost (0 when none chosen)
};

std::vector<Selection> selectCheapest(const std::vector<TaskStats>& stats, double bar);
// A table with savings, then a `routes:` YAML snippet (one fixed route per task: the chosen model,
// falling back to the best one; reference = the dearest), ready to paste into the gateway config.
// `model_names` are the gateway's model names (a route name must not collide with one).
std::string selectionText(const std::vector<Selection>& sel, double bar, const std::vector<std::string>& model_names);

std::string reportMarkdown(const Suite& suite, const std::vector<TaskStats>& stats);
// One HTML file, no external resources (inline CSS and SVG, no scripts).
std::string reportHtml(const Suite& suite, const std::vector<TaskStats>& stats, const std::vector<CaseResult>& results);
// The cost-vs-quality chart of one task (evals/plot.h): every candidate's (mean cost, mean
// score) and the hull of them; the oracle (per case, the cheapest best answer). "" when no
// candidate has a scored answer on the task.
std::string taskChartSvg(const Suite& suite, const TaskStats& t, const std::vector<CaseResult>& results);

}  // namespace rightsize::evals
