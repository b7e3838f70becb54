#include "evals/eval_report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "evals/metrics.h"
#include "evals/plot.h"

#include "common/strings.h"

namespace rightsize::evals {
namespace {

std::string htmlEsc(std::string_view s) { return xmlEscape(s); }

std::string mdEsc(std::string_view s) {
  std::string o;
  for (char c : s) {
    if (c == '|') o += "\\|";
    else if (c == '\n') o += ' ';
    else o.push_back(c);
  }
  return o;
}

std::string usd(double v) {
  if (v == 0) return "$0";
  if (v >= 0.01) return fmt::format("${:.4f}", v);
  return fmt::format("${:.3g}", v);
}

std::string pct(double v) { return fmt::format("{:.1f}%", v * 100); }

// Milliseconds, with a decimal below 10 ms (a local or replayed model answers in well under 1 ms).
std::string millis(double ms) { return ms < 10 ? fmt::format("{:.1f} ms", ms) : fmt::format("{:.0f} ms", ms); }

// Median (p50) of a sample: the lower middle for even sizes, so it is always an observed value.
double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[(v.size() - 1) / 2];
}

// A route name for a task that is a valid, non-colliding identifier.
std::string routeName(const std::string& task, const std::set<std::string>& models) {
  std::string r;
  for (char c : task) r.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '-');
  if (r.empty()) r = "task";
  if (models.count(r)) r += "-route";
  return r;
}

std::string yamlScalar(const std::string& s) {
  bool plain = !s.empty();
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/')) plain = false;
  if (plain) return s;
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o.push_back('\\');
    o.push_back(c);
  }
  return o + "\"";
}

}  // namespace

std::vector<TaskStats> taskStats(const Suite& suite, const std::vector<CaseResult>& results) {
  std::map<std::string, const CaseResult*> by_id;
  for (const auto& r : results) by_id[r.id] = &r;
  std::vector<TaskStats> out;
  for (const auto& t : suite.tasks) {
    TaskStats ts;
    ts.task = t.name;
    ts.grader = t.grader_kind;
    ts.pass_score = t.pass_score;
    ts.cases = t.cases.size();
    for (const auto& m : suite.cfg.candidates) {
      ModelStats ms;
      ms.model = m;
      ms.cases = t.cases.size();
      double score_sum = 0, cost_sum = 0;
      std::vector<double> lat;
      for (size_t ci : t.cases) {
        auto it = by_id.find(suite.cases[ci].id);
        const Cell* c = nullptr;
        if (it != by_id.end()) {
          auto ct = it->second->cells.find(m);
          if (ct != it->second->cells.end()) c = &ct->second;
        }
        if (!c || !c->scored) {
          ++ms.errors;
          continue;
        }
        ++ms.scored;
        if (c->score >= t.pass_score - 1e-12) ++ms.passed;
        score_sum += c->score;
        cost_sum += c->cost_usd;
        ms.judge_cost += c->judge_cost_usd;
        lat.push_back(c->latency_ms);
      }
      ms.pass_rate = ms.cases ? static_cast<double>(ms.passed) / static_cast<double>(ms.cases) : 0;
      ms.mean_score = ms.scored ? score_sum / static_cast<double>(ms.scored) : 0;
      ms.mean_cost = ms.scored ? cost_sum / static_cast<double>(ms.scored) : 0;
      ms.p50_latency_ms = median(lat);
      ts.models.push_back(ms);
    }
    out.push_back(std::move(ts));
  }
  return out;
}

std::vector<Selection> selectCheapest(const std::vector<TaskStats>& stats, double bar) {
  std::vector<Selection> out;
  for (const auto& t : stats) {
    Selection s;
    s.task = t.task;
    const ModelStats* chosen = nullptr;
    const ModelStats* best = nullptr;
    const ModelStats* dearest = nullptr;
    for (const auto& m : t.models) {
      if (m.scored == 0) continue;  // never answered: nothing to say about it
      if (!dearest || m.mean_cost > dearest->mean_cost) dearest = &m;
      if (!best || m.pass_rate > best->pass_rate || (m.pass_rate == best->pass_rate && m.mean_cost < best->mean_cost))
        best = &m;
      if (m.pass_rate + 1e-12 >= bar && (!chosen || m.mean_cost < chosen->mean_cost)) chosen = &m;
    }
    if (best) {
      s.best = best->model;
      s.best_pass = best->pass_rate;
    }
    if (dearest) {
      s.dearest = dearest->model;
      s.dearest_cost = dearest->mean_cost;
    }
    if (chosen) {
      s.chosen = chosen->model;
      s.chosen_cost = chosen->mean_cost;
      s.chosen_pass = chosen->pass_rate;
      s.savings = s.dearest_cost > 0 ? 1.0 - s.chosen_cost / s.dearest_cost : 0;
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::string selectionText(const std::vector<Selection>& sel, double bar, const std::vector<std::string>& model_names) {
  std::string o = fmt::format("cheapest candidate with pass rate >= {}:\n", pct(bar));
  o += fmt::format("{:<24} {:<32} {:>9} {:>12} {:>9}  {}\n", "task", "choice", "pass", "cost/case", "savings",
                   "vs (dearest)");
  for (const auto& s : sel) {
    if (s.chosen) {
      o += fmt::format("{:<24} {:<32} {:>9} {:>12} {:>9}  {} at {}\n", s.task, *s.chosen, pct(s.chosen_pass),
                       usd(s.chosen_cost), pct(s.savings), s.dearest, usd(s.dearest_cost));
    } else {
      o += fmt::format("{:<24} {:<32} {:>9} {:>12} {:>9}  best is {} at {}\n", s.task, "(none clears the bar)", "-",
                       "-", "-", s.best.empty() ? "(no answers)" : s.best, pct(s.best_pass));
    }
  }
  const std::set<std::string> models(model_names.begin(), model_names.end());
  o += "\n# paste into the gateway config (one fixed route per task)\nroutes:\n";
  for (const auto& s : sel) {
    const std::string target = s.chosen ? *s.chosen : s.best;
    if (target.empty()) continue;
    o += fmt::format("  {}:\n", yamlScalar(routeName(s.task, models)));
    if (!s.chosen) o += fmt::format("    # no candidate reached {}; {} has the best pass rate\n", pct(bar), s.best);
    o += fmt::format("    candidates: [{}]\n    policy: fixed\n", yamlScalar(target));
    if (!s.best.empty() && s.best != target) o += fmt::format("    fallback: [{}]\n", yamlScalar(s.best));
    if (!s.dearest.empty()) o += fmt::format("    reference: {}\n", yamlScalar(s.dearest));
  }
  return o;
}

std::string reportMarkdown(const Suite& suite, const std::vector<TaskStats>& stats) {
  std::string o = fmt::format("# Eval report: {}\n\n", mdEsc(suite.cfg.name.empty() ? suite.cfg.source : suite.cfg.name));
  o += fmt::format("{} tasks, {} cases, {} candidates. A case passes when its score >= the task's pass score; a call "
                   "that failed counts as not passed.\n\n",
                   suite.tasks.size(), suite.cases.size(), suite.cfg.candidates.size());
  for (const auto& t : stats) {
    o += fmt::format("## {}\n\n{} cases, grader `{}`, pass score {}\n\n", mdEsc(t.task), t.cases, t.grader, t.pass_score);
    o += "| model | pass rate | mean score | mean cost | p50 latency | errors |\n|---|--:|--:|--:|--:|--:|\n";
    for (const auto& m : t.models)
      o += fmt::format("| {} | {} ({}/{}) | {:.3f} | {} | {} | {} |\n", mdEsc(m.model), pct(m.pass_rate), m.passed,
                       m.cases, m.mean_score, usd(m.mean_cost), millis(m.p50_latency_ms), m.errors);
    o += "\n";
  }
  return o;
}

std::string taskChartSvg(const Suite& suite, const TaskStats& t, const std::vector<CaseResult>& results) {
  ScoreReport r;
  r.prompts = t.cases;
  std::vector<CostQuality> pts;
  bool first = true;
  for (const auto& m : t.models) {
    if (m.scored == 0) continue;
    SingleModel sm;
    sm.name = m.model;
    sm.mean = {m.mean_cost, m.mean_score};
    pts.push_back(sm.mean);
    if (first || m.mean_score > r.frame.q_star || (m.mean_score == r.frame.q_star && m.mean_cost < r.frame.c_star)) {
      r.frame.q_star = m.mean_score;
      r.frame.c_star = m.mean_cost;
      r.best_model = m.model;
    }
    first = false;
    r.singles.push_back(std::move(sm));
  }
  if (r.singles.empty()) return "";  // nothing scored: no chart (and no axis range to draw)
  r.zero.points = pts;
  r.zero.hull = upperHull(pts);
  // Oracle: per case, the cheapest candidate with that case's best score.
  std::map<std::string, const CaseResult*> by_id;
  for (const auto& c : results) by_id[c.id] = &c;
  double oq = 0, oc = 0;
  size_t n = 0;
  for (const auto& ec : suite.cases) {
    if (ec.task != t.task) continue;
    auto it = by_id.find(ec.id);
    if (it == by_id.end()) continue;
    const Cell* pick = nullptr;
    for (const auto& m : suite.cfg.candidates) {
      auto c = it->second->cells.find(m);
      if (c == it->second->cells.end() || !c->second.scored) continue;
      const Cell& cell = c->second;
      if (!pick || cell.score > pick->score || (cell.score == pick->score && cell.cost_usd < pick->cost_usd)) pick = &cell;
    }
    if (!pick) continue;
    oq += pick->score, oc += pick->cost_usd, ++n;
  }
  if (n) r.oracle.points.push_back({oc / static_cast<double>(n), oq / static_cast<double>(n)});
  return costQualitySvg(r, "cost vs quality: " + t.task);
}

std::string reportHtml(const Suite& suite, const std::vector<TaskStats>& stats, const std::vector<CaseResult>& results) {
  const std::string title = "Eval report: " + (suite.cfg.name.empty() ? suite.cfg.source : suite.cfg.name);
  std::string o = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>" + htmlEsc(title) +
                  "</title>\n<style>\nbody{font-family:Helvetica,Arial,sans-serif;margin:2em;color:#222}\n"
                  "table{border-collapse:collapse;margin:1em 0}\nth,td{border:1px solid #ccc;padding:4px 10px}\n"
                  "td.n{text-align:right}\nth{background:#f2f2f2}\n</style>\n</head>\n<body>\n";
  o += "<h1>" + htmlEsc(title) + "</h1>\n";
  o += fmt::format("<p>{} tasks, {} cases, {} candidates. A case passes when its score &gt;= the task's pass score; a "
                   "call that failed counts as not passed.</p>\n",
                   suite.tasks.size(), suite.cases.size(), suite.cfg.candidates.size());
  for (const auto& t : stats) {
    o += "<h2>" + htmlEsc(t.task) + "</h2>\n";
    o += fmt::format("<p>{} cases, grader <code>{}</code>, pass score {}</p>\n", t.cases, htmlEsc(t.grader), t.pass_score);
    o += "<table>\n<tr><th>model</th><th>pass rate</th><th>mean score</th><th>mean cost</th><th>p50 latency</th>"
         "<th>errors</th></tr>\n";
    for (const auto& m : t.models)
      o += fmt::format("<tr><td>{}</td><td class=\"n\">{} ({}/{})</td><td class=\"n\">{:.3f}</td><td class=\"n\">{}</td>"
                       "<td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
                       htmlEsc(m.model), pct(m.pass_rate), m.passed, m.cases, m.mean_score, htmlEsc(usd(m.mean_cost)),
                       millis(m.p50_latency_ms), m.errors);
    o += "</table>\n";
    std::string svg = taskChartSvg(suite, t, results);
    if (svg.empty()) {
      o += "<p>No scored answers yet: no chart.</p>\n";
      continue;
    }
    if (svg.rfind("<?xml", 0) == 0) svg = svg.substr(svg.find('\n') + 1);  // no XML declaration inside HTML
    o += "<figure>\n" + svg + "</figure>\n";
  }
  o += "</body>\n</html>\n";
  return o;
}

}  // namespace rightsize::evals
