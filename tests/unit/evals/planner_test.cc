#include "evals/planner.h"

#include <gtest/gtest.h>

#include <cmath>

#include "config/config.h"
#include "evals/cascade_replay.h"

namespace rightsize::evals {
namespace {

// cheap1 ($1) and cheap2 ($2) are right (A) whenever they agree; on every 4th prompt they
// disagree and both are wrong. ref ($100) is always right.
OutcomeSet synthetic(bool with_responses = true, size_t n = 40) {
  OutcomeSet s;
  s.models = {"cheap1", "cheap2", "ref"};
  for (size_t i = 0; i < n; ++i) {
    s.ids.push_back("p" + std::to_string(i));
    s.tasks.push_back(i % 2 ? "odd" : "even");
    s.asks.push_back("question " + std::to_string(i));
    s.where.push_back("synthetic:" + std::to_string(i + 1));
    s.index[s.ids.back()] = i;
    const bool hard = i % 4 == 0;
    const std::vector<std::string> texts = {hard ? "B" : "The answer is (A)", hard ? "C." : "A", "**A**"};
    const std::vector<float> scores = {hard ? 0.f : 1.f, hard ? 0.f : 1.f, 1.f};
    const std::vector<float> costs = {1, 2, 100};
    for (size_t m = 0; m < 3; ++m) {
      s.score.push_back(scores[m]);
      s.cost_usd.push_back(costs[m]);
      s.response.push_back(with_responses ? texts[m] : "");
      s.has_response.push_back(with_responses);
      if (with_responses) ++s.responses_present;
    }
  }
  return s;
}

PlanOptions options() {
  PlanOptions o;
  o.reference = "ref";
  o.extract = "choice";
  o.folds = 4;
  return o;
}

TEST(Planner, PicksTheObviousConsensusCascade) {
  const OutcomeSet s = synthetic();
  auto r = planRoute(s, options());
  ASSERT_TRUE(r) << r.error().message;
  const PlanCandidate& c = r->candidates[r->chosen];
  ASSERT_EQ(c.plan.stages().size(), 2u) << c.name;
  EXPECT_EQ(c.plan.stages()[0].models, (std::vector<std::string>{"cheap1", "cheap2"}));
  EXPECT_EQ(c.plan.stages()[1].models, std::vector<std::string>{"ref"});
  EXPECT_DOUBLE_EQ(r->chosen_stats.quality, 1.0);
  EXPECT_DOUBLE_EQ(r->chosen_stats.cost_usd, 3 + 100 * 0.25);  // both cheap models always, ref on a quarter
  EXPECT_DOUBLE_EQ(r->chosen_summary.ended_share[0], 0.75);
  EXPECT_DOUBLE_EQ(r->cv_quality, 1.0);
  EXPECT_DOUBLE_EQ(r->cv_ref_cost_usd, 100);
  EXPECT_EQ(r->cv_by_task.size(), 2u);
}

TEST(Planner, IsDeterministicAndWritesARouteTheConfigReads) {
  const OutcomeSet s = synthetic();
  auto a = planRoute(s, options());
  auto b = planRoute(s, options());
  ASSERT_TRUE(a && b);
  const std::string ya = routeYaml(a->candidates[a->chosen], "auto", "ref", "test");
  EXPECT_EQ(ya, routeYaml(b->candidates[b->chosen], "auto", "ref", "test"));
  EXPECT_EQ(a->cv_picks, b->cv_picks);
  EXPECT_EQ(a->cv_cost_usd, b->cv_cost_usd);
  const std::string cfg_text = std::string(R"(providers:
  up: {kind: openai, base_url: "https://example.test/v1"}
models:
  cheap1: {provider: up}
  cheap2: {provider: up}
  ref: {provider: up}
)") + ya;
  auto cfg = config::parseConfig(cfg_text, "planned.yaml", [](const std::string&) { return std::optional<std::string>(); });
  ASSERT_TRUE(cfg) << cfg.error().message << "\n" << ya;
  const auto& st = cfg->routes.at("auto").cascade.stages;
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0].extract, "choice");
  EXPECT_EQ(cfg->routes.at("auto").reference, "ref");
}

TEST(Planner, RefusesDataWithoutResponses) {
  auto r = planRoute(synthetic(false), options());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("no \"response\" texts"), std::string::npos) << r.error().message;
}

TEST(Planner, RefusesAnUnknownReferenceAndABadSpec) {
  PlanOptions o = options();
  o.reference = "gpt-9";
  EXPECT_FALSE(planRoute(synthetic(), o));
  o = options();
  o.extract = "choose";
  auto r = planRoute(synthetic(), o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("bad extract spec"), std::string::npos);
}

TEST(Planner, ALowerQualityTargetAllowsTheCheapestModel) {
  PlanOptions o = options();
  o.quality = 0.5;
  auto r = planRoute(synthetic(), o);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->candidates[r->chosen].name, "cheap1");
}

TEST(CascadeReplay, CountsEveryCallAndScoresTheSentAnswer) {
  const OutcomeSet s = synthetic();
  routing::CascadePlan::Stage agree;
  agree.kind = config::CascadeStage::Kind::kAgree;
  agree.models = {"cheap1", "cheap2"};
  agree.min_votes = 2;
  agree.extract = *routing::Extractor::parse("choice");
  routing::CascadePlan::Stage ref;
  ref.models = {"ref"};
  auto plan = *routing::CascadePlan::fromStages({agree, ref});
  auto checks = routing::AnswerChecks::make(config::CascadeConfig{}, "test", "r");
  ASSERT_TRUE(checks);
  auto table = ReplayTable::build(s, **checks, {&plan});
  ASSERT_TRUE(table) << table.error().message;
  const auto recs = replayCascade(*table, plan, {0, 1});
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].model, "ref");  // hard: disagreement, escalated
  EXPECT_EQ(recs[0].cost_usd, 103);
  EXPECT_EQ(recs[1].model, "cheap1");
  EXPECT_EQ(recs[1].cost_usd, 3);
  EXPECT_EQ(recs[1].score, 1);
}

}  // namespace
}  // namespace rightsize::evals
