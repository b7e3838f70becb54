#pragma once
// Cost-quality metrics of routing decisions, exactly as SPEC.md "Routing metrics" defines them
// (docs/router.md lists the interpretations this file had to choose).
//
// A curve is a set of (cost, quality) points, one per knob value. Its hull is the
// non-decreasing upper convex hull (RouterBench's NDCH): the Pareto-optimal points joined by
// straight lines, concave and non-decreasing; quality is 0 before its first point and flat
// after its last.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "evals/outcomes.h"

namespace rightsize::evals {

struct CostQuality {
  double cost = 0;
  double quality = 0;
};

// NDCH of `points` (any order, duplicates allowed), cheapest first. Empty in, empty out.
std::vector<CostQuality> upperHull(std::vector<CostQuality> points);
// The hull's quality at `cost`: 0 before the first point, linear between points, flat after.
double hullQualityAt(const std::vector<CostQuality>& hull, double cost);
// The least cost at which the hull reaches `quality` (the first point's cost when the first
// point already does); nullopt when it never does.
std::optional<double> hullCostFor(const std::vector<CostQuality>& hull, double quality);
// Mean of hullQualityAt over [lo, hi] (exact piecewise-linear integral); hullQualityAt(lo) when hi <= lo.
double hullMeanQuality(const std::vector<CostQuality>& hull, double lo, double hi);

struct CurveMetrics {
  std::vector<CostQuality> points;   // as given (router: one per knob, knob order)
  std::vector<CostQuality> hull;
  std::optional<double> savings_parity;  // 1 - C(Q*)/C*
  std::optional<double> savings_95;      // 1 - C(0.95 Q*)/C*
  double q_at_cstar = 0;                 // hull quality at C*
  double aiq = 0;                        // mean hull quality over [cheapest, dearest] single-model cost
  // Two candidates only (share of calls to the stronger model stands in for cost):
  std::optional<double> apgr;
  std::optional<double> cpt50, cpt80;
};

// The reference frame all metrics of one data set share.
struct Frame {
  double q_star = 0, c_star = 0;   // best single model (highest mean score; ties: cheaper)
  double c_min = 0, c_max = 0;     // cheapest and dearest single model mean cost
  // two-candidate frame (valid when two_candidates)
  bool two_candidates = false;
  double q_weak = 0, q_strong = 0;
};

// Metrics of a curve. `share_points` (two candidates: (share of calls to the strong model,
// quality), one per point) feeds APGR/CPT and may be empty otherwise.
CurveMetrics curveMetrics(const std::vector<CostQuality>& points, const Frame& frame,
                          const std::vector<CostQuality>& share_points);

struct SingleModel {
  std::string name;
  CostQuality mean;
  CurveMetrics metrics;
};

struct ScoreReport {
  size_t prompts = 0;
  Frame frame;
  std::string best_model, weak_model;      // weak: two candidates only
  std::vector<SingleModel> singles;        // models with an outcome on every scored prompt
  std::vector<std::string> partial_models; // models skipped as baselines (missing outcomes)
  std::vector<double> knobs;               // router points, ascending knob
  CurveMetrics router;
  std::vector<double> router_share;        // two candidates: share of strong per knob
  CurveMetrics zero;                       // hull of the single models
  CurveMetrics random;                     // each prompt to a uniformly random single model (expectation)
  CurveMetrics oracle;                     // per prompt the cheapest model with the best score
};

struct DecisionRecord {
  std::string id;
  std::string model;
  double knob = 0;
  std::string where;  // FILE:LINE, for messages
};

// Reads a decisions file ({"id","model","knob"} per line). kCorruptData with FILE:LINE.
Result<std::vector<DecisionRecord>> readDecisions(const std::string& path);
// One decisions line (no trailing newline).
std::string decisionLine(const std::string& id, const std::string& model, double knob);

// Scores decisions against outcomes. Every decided id must be in `data` with an outcome for
// the chosen model, and every knob must decide every decided prompt (else kInvalidArgument /
// kCorruptData naming the line). Baselines use the decided prompts.
Result<ScoreReport> scoreDecisions(const OutcomeSet& data, const std::vector<DecisionRecord>& decisions);

// Renders: a fixed-width table for people; JSON for machines.
std::string reportTable(const ScoreReport& r);
std::string reportJson(const ScoreReport& r);

}  // namespace rightsize::evals
