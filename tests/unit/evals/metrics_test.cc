// Metrics against small hand-computed cases (SPEC.md "Routing metrics").
#include <gtest/gtest.h>

#include <cmath>

#include "evals/metrics.h"

namespace rightsize::evals {
namespace {

TEST(UpperHull, DropsDominatedAndBelowChordPoints) {
  // (2, 0.5) is under the chord from (1, 0.4) to (3, 0.9); (4, 0.8) is dominated by (3, 0.9).
  auto h = upperHull({{3, 0.9}, {1, 0.4}, {2, 0.5}, {4, 0.8}, {1, 0.3}});
  ASSERT_EQ(h.size(), 2u);
  EXPECT_DOUBLE_EQ(h[0].cost, 1);
  EXPECT_DOUBLE_EQ(h[0].quality, 0.4);
  EXPECT_DOUBLE_EQ(h[1].cost, 3);
  EXPECT_DOUBLE_EQ(h[1].quality, 0.9);
}

TEST(UpperHull, KeepsPointsAboveTheChord) {
  auto h = upperHull({{1, 0.4}, {2, 0.8}, {3, 0.9}});
  ASSERT_EQ(h.size(), 3u);
  EXPECT_DOUBLE_EQ(h[1].quality, 0.8);
}

TEST(HullQualityAt, IsZeroBeforeLinearBetweenAndFlatAfter) {
  std::vector<CostQuality> h{{1, 0.4}, {3, 0.9}};
  EXPECT_DOUBLE_EQ(hullQualityAt(h, 0.5), 0.0);
  EXPECT_DOUBLE_EQ(hullQualityAt(h, 1), 0.4);
  EXPECT_DOUBLE_EQ(hullQualityAt(h, 2), 0.65);
  EXPECT_DOUBLE_EQ(hullQualityAt(h, 10), 0.9);
}

TEST(HullCostFor, InterpolatesAndIsEmptyWhenUnreachable) {
  std::vector<CostQuality> h{{1, 0.4}, {3, 0.9}};
  EXPECT_DOUBLE_EQ(*hullCostFor(h, 0.65), 2.0);
  EXPECT_DOUBLE_EQ(*hullCostFor(h, 0.1), 1.0);  // already reached at the first point
  EXPECT_FALSE(hullCostFor(h, 0.95).has_value());
}

TEST(HullMeanQuality, IntegratesZeroBeforeFirstPointAndFlatAfterLast) {
  std::vector<CostQuality> h{{1, 0.4}, {3, 0.9}};
  // [0, 4]: 0 on [0,1], trapezoid (0.4+0.9)/2*2 = 1.3 on [1,3], 0.9 on [3,4] -> 2.2 / 4.
  EXPECT_NEAR(hullMeanQuality(h, 0, 4), 0.55, 1e-12);
  EXPECT_NEAR(hullMeanQuality(h, 1, 3), 0.65, 1e-12);
}

Frame frameFor(double q_star, double c_star, double c_min, double c_max) {
  Frame f;
  f.q_star = q_star;
  f.c_star = c_star;
  f.c_min = c_min;
  f.c_max = c_max;
  return f;
}

TEST(CurveMetrics, SavingsQualityAtCStarAndAiqMatchHandComputation) {
  // Router points: (1, 0.6), (2, 0.85), (4, 0.95); best single model Q* 0.9 at C* 4.
  const Frame f = frameFor(0.9, 4, 1, 4);
  auto m = curveMetrics({{1, 0.6}, {2, 0.85}, {4, 0.95}}, f, {});
  // C(0.9) on segment (2,0.85)-(4,0.95): 2 + 0.05/0.1*2 = 3 -> savings 1 - 3/4.
  ASSERT_TRUE(m.savings_parity.has_value());
  EXPECT_NEAR(*m.savings_parity, 0.25, 1e-12);
  // C(0.855) = 2 + 0.005/0.1*2 = 2.1 -> 1 - 2.1/4.
  ASSERT_TRUE(m.savings_95.has_value());
  EXPECT_NEAR(*m.savings_95, 0.475, 1e-12);
  EXPECT_NEAR(m.q_at_cstar, 0.95, 1e-12);
  // AIQ over [1, 4]: (0.6+0.85)/2*1 + (0.85+0.95)/2*2 = 0.725 + 1.8 = 2.525 / 3.
  EXPECT_NEAR(m.aiq, 2.525 / 3, 1e-12);
}

TEST(CurveMetrics, SavingsAtParityIsNotApplicableWhenTheHullNeverReachesQStar) {
  const Frame f = frameFor(0.9, 4, 1, 4);
  auto m = curveMetrics({{1, 0.6}, {2, 0.86}}, f, {});
  EXPECT_FALSE(m.savings_parity.has_value());
  EXPECT_TRUE(m.savings_95.has_value());  // 0.855 is reached
  EXPECT_NEAR(m.q_at_cstar, 0.86, 1e-12);  // flat after the last point
  EXPECT_FALSE(curveMetrics({{1, 0.6}, {2, 0.85}}, f, {}).savings_95.has_value());
}

TEST(CurveMetrics, ApgrAndCptForTwoCandidatesMatchHandComputation) {
  Frame f = frameFor(0.9, 10, 1, 10);
  f.two_candidates = true;
  f.q_weak = 0.5;
  f.q_strong = 0.9;
  // Share points (0, 0.5), (0.5, 0.8), (1, 0.9): PGR 0, 0.75, 1.
  // APGR = area: (0+0.75)/2*0.5 + (0.75+1)/2*0.5 = 0.1875 + 0.4375 = 0.625.
  auto m = curveMetrics({{1, 0.5}, {5.5, 0.8}, {10, 0.9}}, f, {{0, 0.5}, {0.5, 0.8}, {1, 0.9}});
  ASSERT_TRUE(m.apgr.has_value());
  EXPECT_NEAR(*m.apgr, 0.625, 1e-12);
  // CPT(50%): PGR 0.5 -> quality 0.7 on (0,0.5)-(0.5,0.8): share 0.2/0.3*0.5 = 1/3.
  ASSERT_TRUE(m.cpt50.has_value());
  EXPECT_NEAR(*m.cpt50, 1.0 / 3, 1e-12);
  // CPT(80%): quality 0.82 on (0.5,0.8)-(1,0.9): 0.5 + 0.02/0.1*0.5 = 0.6.
  ASSERT_TRUE(m.cpt80.has_value());
  EXPECT_NEAR(*m.cpt80, 0.6, 1e-12);
}

TEST(CurveMetrics, RandomTwoModelMixHasApgrOneHalf) {
  Frame f = frameFor(0.9, 10, 1, 10);
  f.two_candidates = true;
  f.q_weak = 0.5;
  f.q_strong = 0.9;
  auto m = curveMetrics({{1, 0.5}, {10, 0.9}}, f, {{0, 0.5}, {1, 0.9}});
  EXPECT_NEAR(*m.apgr, 0.5, 1e-12);
  EXPECT_NEAR(*m.cpt50, 0.5, 1e-12);
}

// Three prompts, two models: cheap (cost 1) and dear (cost 10).
OutcomeSet threePrompts() {
  OutcomeSet s;
  s.models = {"cheap", "dear"};
  s.ids = {"a", "b", "c"};
  s.tasks = {"", "", ""};
  s.asks = {"x", "y", "z"};
  s.where = {"f:1", "f:2", "f:3"};
  // a: both right; b: only dear right; c: both wrong.
  s.score = {1, 1, 0, 1, 0, 0};
  s.cost_usd = {1, 10, 1, 10, 1, 10};
  for (size_t i = 0; i < 3; ++i) s.index[s.ids[i]] = i;
  return s;
}

TEST(ScoreDecisions, OracleTakesTheCheapestModelWithTheBestScore) {
  auto s = threePrompts();
  std::vector<DecisionRecord> d{{"a", "cheap", 0, "d:1"}, {"b", "cheap", 0, "d:2"}, {"c", "cheap", 0, "d:3"},
                                {"a", "dear", 1, "d:4"},  {"b", "dear", 1, "d:5"},  {"c", "dear", 1, "d:6"}};
  auto r = scoreDecisions(s, d);
  ASSERT_TRUE(r) << r.error().message;
  // Oracle: a -> cheap (tie, cheaper), b -> dear, c -> cheap (tie at 0): quality 2/3, cost (1+10+1)/3.
  ASSERT_EQ(r->oracle.points.size(), 1u);
  EXPECT_NEAR(r->oracle.points[0].quality, 2.0 / 3, 1e-12);
  EXPECT_NEAR(r->oracle.points[0].cost, 4.0, 1e-12);
  EXPECT_EQ(r->best_model, "dear");
  EXPECT_NEAR(r->frame.q_star, 2.0 / 3, 1e-12);
  EXPECT_TRUE(r->frame.two_candidates);
  ASSERT_EQ(r->knobs.size(), 2u);
  EXPECT_NEAR(r->router.points[0].quality, 1.0 / 3, 1e-12);
  EXPECT_NEAR(r->router_share[1], 1.0, 1e-12);
  // The router's two points are exactly the two single models: same hull as the zero router.
  EXPECT_NEAR(r->router.aiq, r->zero.aiq, 1e-12);
}

TEST(ScoreDecisions, RejectsAKnobThatDoesNotDecideEveryPrompt) {
  auto s = threePrompts();
  std::vector<DecisionRecord> d{{"a", "cheap", 0, "d:1"}, {"b", "cheap", 0, "d:2"}, {"a", "dear", 1, "d:3"}};
  auto r = scoreDecisions(s, d);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("knob 1"), std::string::npos) << r.error().message;
}

TEST(ScoreDecisions, RejectsAnUnknownIdNamingTheLine) {
  auto s = threePrompts();
  auto r = scoreDecisions(s, {{"nope", "cheap", 0, "d.jsonl:7"}});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("d.jsonl:7"), std::string::npos) << r.error().message;
}

TEST(ScoreDecisions, ReportsRenderAsTableAndJson) {
  auto s = threePrompts();
  auto r = scoreDecisions(s, {{"a", "cheap", 0, ""}, {"b", "dear", 0, ""}, {"c", "cheap", 0, ""}});
  ASSERT_TRUE(r);
  EXPECT_NE(reportTable(*r).find("oracle"), std::string::npos);
  EXPECT_NE(reportJson(*r).find("\"apgr\""), std::string::npos);
  // This router is the oracle here: quality 2/3 at cost 4.
  EXPECT_NEAR(r->router.points[0].quality, 2.0 / 3, 1e-12);
}

}  // namespace
}  // namespace rightsize::evals
