#include "evals/planner.h"

#include <gtest/gtest.h>

#include <cmath>

#include "config/config.h"
#include "evals/cascade_replay.h"
#include "routing/trainer.h"

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

// Two models: "cand" ($1) and "ref" ($100), both right on every prompt except: per fold 1-3 of
// a 4-fold split (seed 1), cand is right where ref is wrong on 6 prompts and wrong where ref is
// right on 4; on fold 0, cand is wrong where ref is right on 12. Trained on folds 1-3, cand's
// mean difference is +6/~300 with a lower bound above 0 at confidence 0.8 and below at 0.9; on
// any other training split it loses.
// `want_wins[f]` prompts of fold f where only cand is right, then `want_losses[f]` where only ref is.
OutcomeSet foldTrap(std::vector<int> want_wins = {0, 6, 6, 6}, std::vector<int> want_losses = {12, 4, 4, 4}) {
  OutcomeSet s;
  s.models = {"cand", "ref"};
  std::vector<int> wins(4, 0), losses(4, 0);
  for (size_t i = 0; i < 400; ++i) {
    const std::string id = "t" + std::to_string(i);
    const uint32_t f = routing::foldOf(id, 1, 4);
    float cand = 1, ref = 1;
    if (wins[f] < want_wins[f]) {
      ++wins[f];
      ref = 0;
    } else if (losses[f] < want_losses[f]) {
      ++losses[f];
      cand = 0;
    }
    s.index[id] = s.ids.size();
    s.ids.push_back(id);
    s.tasks.push_back("t");
    s.asks.push_back("question " + id);
    s.where.push_back("trap:" + std::to_string(i + 1));
    for (const auto& [score, cost] : {std::pair<float, double>{cand, 1}, {ref, 100}}) {
      s.score.push_back(score);
      s.cost_usd.push_back(cost);
      s.response.push_back("A");
      s.has_response.push_back(true);
      ++s.responses_present;
    }
  }
  return s;
}

TEST(Planner, TheConfidenceLevelSetsHowSureTheBoundMustBe) {
  // cand: right on 10 prompts where ref is wrong, wrong on 10 where ref is right: the same mean.
  std::vector<PlanCandidate> c(2);
  for (auto& k : c) k.score.assign(100, 1.0), k.cost.assign(100, 0.0);
  for (size_t i = 0; i < 100; ++i) c[0].cost[i] = 1, c[1].cost[i] = 100;
  for (size_t i = 0; i < 10; ++i) c[0].score[i] = 0, c[1].score[10 + i] = 0;
  std::vector<size_t> rows(100);
  for (size_t i = 0; i < 100; ++i) rows[i] = i;
  EXPECT_DOUBLE_EQ(lowerBoundZ(0.5), 0.0);
  EXPECT_NEAR(lowerBoundZ(0.95), 1.6449, 1e-4);
  std::vector<CandidateStats> st;
  EXPECT_EQ(pickCheapestQualifying(c, 1, rows, 1.0, lowerBoundZ(0.5), &st), 0u);  // the mean: as good, cheaper
  EXPECT_DOUBLE_EQ(st[0].diff_lower, 0.0);
  EXPECT_EQ(pickCheapestQualifying(c, 1, rows, 1.0, lowerBoundZ(0.8), &st), 1u);  // not sure enough: the reference
  EXPECT_LT(st[0].diff_lower, 0.0);
  EXPECT_EQ(pickCheapestQualifying(c, 1, rows, 0.9, lowerBoundZ(0.95)), 0u);     // a 10% looser target: cand
}

TEST(Planner, TheDefaultRaisesTheConfidenceWhenTheCrossValidatedChoiceLosesQuality) {
  const OutcomeSet s = foldTrap();
  PlanOptions o;
  o.reference = "ref";
  o.extract = "choice";
  o.folds = 4;
  o.seed = 1;
  o.confidence = 0.8;  // fixed: fold 0's pick is cand, which loses 12 prompts held out
  auto fixed = planRoute(s, o);
  ASSERT_TRUE(fixed) << fixed.error().message;
  EXPECT_DOUBLE_EQ(fixed->confidence, 0.8);
  EXPECT_EQ(fixed->cv_picks, (std::vector<std::string>{"cand", "ref", "ref", "ref"}));
  EXPECT_LT(fixed->cv_quality, fixed->cv_ref_quality);
  o.confidence = 0;  // the ladder: 0.8 loses held out, 0.9 keeps the quality
  auto ladder = planRoute(s, o);
  ASSERT_TRUE(ladder);
  EXPECT_DOUBLE_EQ(ladder->confidence, 0.9);
  EXPECT_EQ(ladder->cv_picks, (std::vector<std::string>{"ref", "ref", "ref", "ref"}));
  EXPECT_DOUBLE_EQ(ladder->cv_quality, ladder->cv_ref_quality);
  EXPECT_EQ(ladder->candidates[ladder->chosen].name, "ref");
  // The obvious cascade keeps the quality at the first level.
  auto easy = planRoute(synthetic(), options());
  ASSERT_TRUE(easy);
  EXPECT_DOUBLE_EQ(easy->confidence, 0.8);
}

TEST(Planner, TheLadderEndsAtItsLastLevelWhenNoLevelKeepsTheQuality) {
  // Folds 1-3: cand wins 10 each and never loses, so fold 0's training data is sure of cand at
  // every level, and fold 0 holds all 20 of its losses. Folds 1-3 train on those losses (20 won,
  // 20 lost: no gain) and keep ref, so every level's held-out quality is below the reference's.
  const OutcomeSet s = foldTrap({0, 10, 10, 10}, {20, 0, 0, 0});
  PlanOptions o;
  o.reference = "ref";
  o.extract = "choice";
  o.folds = 4;
  o.seed = 1;
  o.confidence = 0;
  auto res = planRoute(s, o);
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_DOUBLE_EQ(res->confidence, 0.95);  // no level held: the surest one
  EXPECT_EQ(res->cv_picks, (std::vector<std::string>{"cand", "ref", "ref", "ref"}));
  EXPECT_LT(res->cv_quality, res->cv_ref_quality);
  // Each level was tried: a fixed 0.95 gives the same result as the ladder's end.
  o.confidence = 0.95;
  auto fixed = planRoute(s, o);
  ASSERT_TRUE(fixed);
  EXPECT_EQ(fixed->cv_picks, res->cv_picks);
  EXPECT_EQ(fixed->chosen, res->chosen);
}

TEST(Planner, AutoExtractSearchesEachKindAndDropsCascadesDearerThanTheReference) {
  OutcomeSet s = synthetic();
  // Numeric answers: "18" in three formats when right, different numbers when wrong.
  for (size_t i = 0; i < s.size(); ++i) {
    const bool hard = i % 4 == 0;
    s.response[i * 3 + 0] = hard ? "I get 17." : "The total is $18.";
    s.response[i * 3 + 1] = hard ? "19" : "18.0";
    s.response[i * 3 + 2] = "18";
  }
  PlanOptions o = options();
  o.extract = "auto";
  auto r = planRoute(s, o);
  ASSERT_TRUE(r) << r.error().message;
  const PlanCandidate& c = r->candidates[r->chosen];
  ASSERT_EQ(c.plan.stages().size(), 2u) << c.name;
  EXPECT_EQ(c.plan.stages()[0].extract->spec(), "answer");  // no letter: the final number
  EXPECT_EQ(c.name, "agree2/2[answer](cheap1,cheap2) > ref");
  EXPECT_DOUBLE_EQ(r->chosen_stats.cost_usd, 3 + 100 * 0.25);
  // No JSON and texts that never agree: those cascades cost 103 > 100 and are not kept.
  for (const auto& k : r->candidates) {
    EXPECT_EQ(k.name.find("[json:answer]"), std::string::npos) << k.name;
    EXPECT_EQ(k.name.find("[text]"), std::string::npos) << k.name;
  }
  EXPECT_EQ(r->candidates[r->reference].name, "ref");
  // The YAML names the extractor of the stage.
  EXPECT_NE(routeYaml(c, "auto", "ref", "t").find("extract: \"answer\""), std::string::npos);
}

TEST(Planner, AModelMissingOnManyRecordsIsLeftOutNotTheRecords) {
  OutcomeSet s = synthetic();
  for (size_t i = 0; i < s.size(); i += 2) {  // cheap2 answered half the prompts
    s.score[i * 3 + 1] = std::nanf("");
    s.has_response[i * 3 + 1] = false;
  }
  auto r = planRoute(s, options());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->left_out, std::vector<std::string>{"cheap2"});
  EXPECT_EQ(r->models, (std::vector<std::string>{"cheap1", "ref"}));
  EXPECT_EQ(r->chosen_summary.records, s.size());  // every prompt searched
  for (const auto& c : r->candidates) EXPECT_EQ(c.name.find("cheap2"), std::string::npos) << c.name;
  // One missing answer in 40 (2.5%) keeps the model and drops that record.
  OutcomeSet one = synthetic();
  one.score[1 * 3 + 1] = std::nanf("");
  auto r1 = planRoute(one, options());
  ASSERT_TRUE(r1);
  EXPECT_TRUE(r1->left_out.empty());
  EXPECT_EQ(r1->chosen_summary.records, one.size() - 1);
}

TEST(Planner, RefusesAConfidenceOutsideItsRange) {
  PlanOptions o = options();
  for (double bad : {0.3, 1.0, 1.5}) {
    o.confidence = bad;
    auto r = planRoute(synthetic(), o);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("--confidence"), std::string::npos);
  }
}

// The cascade the replay tests run: cheap1 and cheap2 must agree on a choice, else ref answers.
routing::CascadePlan agreeThenRef() {
  routing::CascadePlan::Stage agree;
  agree.kind = config::CascadeStage::Kind::kAgree;
  agree.models = {"cheap1", "cheap2"};
  agree.min_votes = 2;
  agree.extract = *routing::Extractor::parse("choice");
  routing::CascadePlan::Stage ref;
  ref.models = {"ref"};
  return *routing::CascadePlan::fromStages({agree, ref});
}

TEST(CascadeReplay, CountsEveryCallAndScoresTheSentAnswer) {
  const OutcomeSet s = synthetic();
  const routing::CascadePlan plan = agreeThenRef();
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

TEST(CascadeReplay, PreRoutingWithGivenProbabilitiesSkipsStages) {
  // Records 0 (hard: the cheap models disagree, both wrong) and 1 (easy: they agree on A).
  const OutcomeSet s = synthetic();
  const routing::CascadePlan plan = agreeThenRef();
  auto checks = routing::AnswerChecks::make(config::CascadeConfig{}, "test", "r");
  ASSERT_TRUE(checks);
  auto table = ReplayTable::build(s, **checks, {&plan});
  ASSERT_TRUE(table) << table.error().message;
  // Columns cheap1, cheap2, ref. Record 0: every cheap p low (escalate); record 1: cheap1 sure (direct);
  // record 2 (easy): in between (normal); record 4 (hard): cheap1 "sure" but wrong -> direct, then ref.
  std::vector<double> probs(s.size() * 3, 0.5);
  const auto set_p = [&](size_t i, double c1, double c2) { probs[i * 3] = c1, probs[i * 3 + 1] = c2; };
  set_p(0, 0.05, 0.1);
  set_p(1, 0.95, 0.2);
  set_p(2, 0.5, 0.5);
  set_p(4, 0.99, 0.99);
  const ReplayPreRoute pre{routing::PreRouteThresholds{0.9, 0.15}, probs};
  const auto recs = replayCascade(*table, plan, {0, 1, 2, 4}, &pre);
  ASSERT_EQ(recs.size(), 4u);
  using D = routing::PreRouteChoice::Decision;
  EXPECT_EQ(recs[0].pre_route.decision, D::kEscalate);  // only ref is paid
  EXPECT_EQ(recs[0].model, "ref");
  EXPECT_EQ(recs[0].cost_usd, 100);
  EXPECT_EQ(recs[0].score, 1);
  EXPECT_EQ(recs[0].ended_stage, 1);
  EXPECT_EQ(recs[1].pre_route.decision, D::kDirect);  // cheap1 alone, its answer passes the checks
  EXPECT_EQ(recs[1].model, "cheap1");
  EXPECT_EQ(recs[1].cost_usd, 1);
  EXPECT_EQ(recs[1].score, 1);
  EXPECT_TRUE(recs[1].accepted);
  EXPECT_EQ(recs[2].pre_route.decision, D::kNormal);  // both cheap models agree
  EXPECT_EQ(recs[2].cost_usd, 3);
  EXPECT_EQ(recs[3].pre_route.decision, D::kDirect);  // "B" passes the default not-a-refusal check: accepted, wrong
  EXPECT_EQ(recs[3].model, "cheap1");
  EXPECT_EQ(recs[3].cost_usd, 1);
  EXPECT_EQ(recs[3].score, 0);
  // Without pre-routing the same rows replay as the plain cascade.
  const auto plain = replayCascade(*table, plan, {0, 1, 2, 4});
  EXPECT_EQ(plain[0].cost_usd, 103);
  EXPECT_EQ(plain[1].cost_usd, 3);
  EXPECT_EQ(plain[3].cost_usd, 103);
  EXPECT_EQ(plain[3].score, 1);
}

TEST(CascadeReplay, ADirectAnswerThatFailsTheChecksGoesToTheLastStage) {
  const OutcomeSet s = synthetic();
  const routing::CascadePlan plan = agreeThenRef();
  config::CascadeConfig cc;
  config::CascadeCheck only_a;
  only_a.kind = config::CascadeCheck::Kind::kRegex;
  only_a.pattern = "A";
  cc.checks.push_back(only_a);
  auto checks = routing::AnswerChecks::make(cc, "test", "r");
  ASSERT_TRUE(checks) << checks.error().message;
  auto table = ReplayTable::build(s, **checks, {&plan});
  ASSERT_TRUE(table) << table.error().message;
  std::vector<double> probs(s.size() * 3, 0.99);
  const ReplayPreRoute pre{routing::PreRouteThresholds{0.9, std::nullopt}, probs};
  const auto recs = replayCascade(*table, plan, {4, 5}, &pre);
  // Record 4 is hard: cheap1 says "B", which fails the regex check -> straight to ref (cheap2 never asked).
  EXPECT_EQ(recs[0].model, "ref");
  EXPECT_EQ(recs[0].cost_usd, 101);
  EXPECT_EQ(recs[0].score, 1);
  EXPECT_EQ(recs[1].model, "cheap1");
  EXPECT_EQ(recs[1].cost_usd, 1);
}


// The synthetic set with asks a router can learn: the hard prompts (the cheap models both wrong)
// say so in their words.
OutcomeSet learnable(size_t n) {
  OutcomeSet s = synthetic(true, n);
  static const char* kTopics[] = {"oceans", "rivers", "stars", "rocks", "trees", "birds", "clouds", "roads"};
  for (size_t i = 0; i < n; ++i) {
    const std::string topic = kTopics[i % 8];
    s.asks[i] = i % 4 == 0 ? "prove this hard theorem about " + topic + " number " + std::to_string(i)
                           : "quick easy question about " + topic + " number " + std::to_string(i);
  }
  return s;
}

const std::string kPlannedModels = R"(providers:
  up: {kind: openai, base_url: "https://example.test/v1"}
models:
  cheap1: {provider: up}
  cheap2: {provider: up}
  ref: {provider: up}
)";

TEST(Planner, LearnedCandidatesAreScoredWithHeldOutDecisionsAndWrittenWithTheirRouter) {
  const OutcomeSet s = learnable(400);
  PlanOptions o = options();
  o.learned = true;
  auto r = planRoute(s, o);
  ASSERT_TRUE(r) << r.error().message;
  size_t pre_routed = 0, learned = 0;
  for (const PlanCandidate& c : r->candidates) {
    pre_routed += c.pre_route.has_value();
    learned += c.learned_quality.has_value();
  }
  EXPECT_GT(pre_routed, 0u);
  EXPECT_EQ(learned, 6u);  // the plain learned route at 6 quality targets
  const PlanCandidate& chosen = r->candidates[r->chosen];
  // Easy prompts to cheap1 alone ($1 instead of $3), hard ones straight to ref ($100 instead of
  // $103): a learned route or a pre-routed cascade, both decided by routers that never saw the record.
  ASSERT_TRUE(chosen.pre_route || chosen.learned_quality) << chosen.name;
  EXPECT_LT(r->cv_cost_usd, 0.25 * 3 + 0.75 * 3 + 0.25 * 100);  // cheaper than the plain cascade held out
  EXPECT_GE(r->cv_quality, 0.97 * r->cv_ref_quality);
  ASSERT_TRUE(r->router);
  EXPECT_GT(r->chosen_summary.records, 0u);

  // The cheapest pre-routed cascade and the cheapest learned candidate, each as the config reads it.
  const auto cheapest = [&](auto pred) {
    size_t best = r->candidates.size();
    double best_cost = 1e300;
    for (size_t c = 0; c < r->candidates.size(); ++c) {
      if (!pred(r->candidates[c])) continue;
      double cost = 0;
      for (double x : r->candidates[c].cost) cost += x;
      if (cost < best_cost) best_cost = cost, best = c;
    }
    return best;
  };
  const size_t pre = cheapest([](const PlanCandidate& c) { return c.pre_route.has_value(); });
  ASSERT_LT(pre, r->candidates.size());
  const std::string yaml = routeYaml(r->candidates[pre], "auto", "ref", "test", "auto.pre_route.rsr");
  EXPECT_NE(yaml.find("pre_route: {router: \"auto.pre_route.rsr\""), std::string::npos) << yaml;
  auto cfg = config::parseConfig(kPlannedModels + yaml, "planned.yaml",
                                 [](const std::string&) { return std::optional<std::string>(); });
  ASSERT_TRUE(cfg) << cfg.error().message << "\n" << yaml;
  ASSERT_TRUE(cfg->routes.at("auto").cascade.pre_route);
  EXPECT_EQ(cfg->routes.at("auto").cascade.pre_route->direct_above, r->candidates[pre].pre_route->direct_above);

  const size_t lc = cheapest([](const PlanCandidate& c) { return c.learned_quality.has_value(); });
  ASSERT_LT(lc, r->candidates.size());
  const std::string lyaml = routeYaml(r->candidates[lc], "auto", "ref", "test", "auto.router.rsr", s.models);
  auto lcfg = config::parseConfig(kPlannedModels + lyaml, "planned.yaml",
                                  [](const std::string&) { return std::optional<std::string>(); });
  ASSERT_TRUE(lcfg) << lcfg.error().message << "\n" << lyaml;
  const config::RouteConfig& route = lcfg->routes.at("auto");
  EXPECT_EQ(route.policy, "learned");
  EXPECT_EQ(route.candidates, s.models);
  EXPECT_NE(route.router.find("auto.router.rsr"), std::string::npos);
  EXPECT_EQ(route.quality, r->candidates[lc].learned_quality);
  EXPECT_EQ(route.reference, "ref");
  // A learned candidate's records: the score and cost of one model of the data each.
  for (size_t i = 0; i < s.size(); ++i) {
    bool some = false;
    for (size_t m = 0; m < s.models.size(); ++m)
      some = some || (r->candidates[lc].score[i] == s.scoreAt(i, m) && r->candidates[lc].cost[i] == s.costAt(i, m));
    ASSERT_TRUE(some) << i;
  }

  // Deterministic, router training included.
  auto again = planRoute(s, o);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->candidates[again->chosen].name, chosen.name);
  EXPECT_EQ(again->cv_cost_usd, r->cv_cost_usd);
  EXPECT_EQ(again->router->serialize(), r->router->serialize());
}

TEST(Planner, NoLearnedTrainsNothingAndAddsNoPreRoutedCandidate) {
  PlanOptions o = options();
  o.learned = false;
  auto r = planRoute(learnable(400), o);
  ASSERT_TRUE(r);
  for (const PlanCandidate& c : r->candidates) {
    EXPECT_FALSE(c.pre_route) << c.name;
    EXPECT_FALSE(c.learned_quality) << c.name;
  }
  EXPECT_FALSE(r->router);
}

}  // namespace
}  // namespace rightsize::evals
