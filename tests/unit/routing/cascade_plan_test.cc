#include "routing/cascade_plan.h"

#include <gtest/gtest.h>

namespace rightsize::routing {
namespace {

using Kind = config::CascadeStage::Kind;
using Verdict = CascadeRun::Step::Verdict;

StageAnswer vote(std::string v) { return StageAnswer{true, true, std::move(v)}; }
StageAnswer abstain() { return StageAnswer{true, true, std::nullopt}; }
StageAnswer down() { return StageAnswer{}; }

CascadePlan twoStages(uint32_t min_votes = 2) {
  CascadePlan::Stage agree;
  agree.kind = Kind::kAgree;
  agree.models = {"a", "b", "c"};
  agree.min_votes = min_votes;
  agree.extract = *Extractor::parse("choice");
  CascadePlan::Stage big;
  big.models = {"big"};
  return *CascadePlan::fromStages({agree, big});
}

TEST(Consensus, PicksTheCheapestAnswerOfTheLargestGroup) {
  std::vector<StageAnswer> a = {vote("x"), vote("y"), vote("y")};
  EXPECT_EQ(decideConsensus(a, 2), 1u);
}

TEST(Consensus, TieBetweenGroupsGoesToTheGroupWithTheCheapestAnswer) {
  std::vector<StageAnswer> a = {vote("y"), vote("x"), vote("x"), vote("y")};
  EXPECT_EQ(decideConsensus(a, 2), 0u);
  std::vector<StageAnswer> b = {abstain(), vote("x"), vote("y"), vote("y"), vote("x")};
  EXPECT_EQ(decideConsensus(b, 2), 1u);
}

TEST(Consensus, TooFewVotesAbstentionsAndFailuresAreNoConsensus) {
  std::vector<StageAnswer> a = {vote("x"), vote("y"), vote("z")};
  EXPECT_EQ(decideConsensus(a, 2), std::nullopt);
  std::vector<StageAnswer> b = {abstain(), abstain(), abstain()};
  EXPECT_EQ(decideConsensus(b, 2), std::nullopt);
  std::vector<StageAnswer> c = {down(), vote("x"), StageAnswer{true, false, "x"}};  // failed checks: no vote
  EXPECT_EQ(decideConsensus(c, 2), std::nullopt);
  std::vector<StageAnswer> d = {down(), vote("x"), vote("x")};  // one model down, the others agree
  EXPECT_EQ(decideConsensus(d, 2), 1u);
}

TEST(CascadeRun, AcceptsAtTheFirstStageThatAgrees) {
  CascadePlan plan = twoStages();
  CascadeRun run(plan);
  std::vector<StageAnswer> a = {vote("b"), vote("b"), vote("c")};
  auto step = run.feed(a);
  EXPECT_EQ(step.verdict, Verdict::kAccept);
  EXPECT_EQ(step.answer, (CascadeRun::AnswerRef{0, 0}));
  EXPECT_TRUE(run.finished());
}

TEST(CascadeRun, EscalatesThenAcceptsTheLastStage) {
  CascadePlan plan = twoStages();
  CascadeRun run(plan);
  std::vector<StageAnswer> a = {vote("a"), vote("b"), abstain()};
  EXPECT_EQ(run.feed(a).verdict, Verdict::kEscalate);
  EXPECT_EQ(run.stage(), 1u);
  std::vector<StageAnswer> big = {StageAnswer{true, true, std::nullopt}};
  auto step = run.feed(big);
  EXPECT_EQ(step.verdict, Verdict::kAccept);
  EXPECT_EQ(step.answer, (CascadeRun::AnswerRef{1, 0}));
}

TEST(CascadeRun, ExhaustedSendsTheLatestAnswerOrNothing) {
  CascadePlan plan = twoStages();
  {
    CascadeRun run(plan);
    std::vector<StageAnswer> a = {vote("a"), vote("b"), down()};
    run.feed(a);
    std::vector<StageAnswer> big = {StageAnswer{true, false, std::nullopt}};  // fails its checks
    auto step = run.feed(big);
    EXPECT_EQ(step.verdict, Verdict::kExhausted);
    EXPECT_EQ(step.answer, (CascadeRun::AnswerRef{1, 0}));
  }
  {
    CascadeRun run(plan);
    std::vector<StageAnswer> a = {vote("a"), vote("b"), down()};
    run.feed(a);
    std::vector<StageAnswer> big = {down()};
    auto step = run.feed(big);
    EXPECT_EQ(step.verdict, Verdict::kExhausted);
    EXPECT_EQ(step.answer, (CascadeRun::AnswerRef{0, 1}));  // big is down: the latest earlier answer
  }
  {
    CascadeRun run(plan);
    std::vector<StageAnswer> a = {down(), down(), down()};
    run.feed(a);
    std::vector<StageAnswer> big = {down()};
    EXPECT_EQ(run.feed(big).answer, std::nullopt);
  }
}

TEST(CascadePlan, RejectsBadStages) {
  CascadePlan::Stage agree;
  agree.kind = Kind::kAgree;
  agree.models = {"a", "b"};
  agree.min_votes = 3;
  agree.extract = *Extractor::parse("number");
  EXPECT_FALSE(CascadePlan::fromStages({agree}));
  EXPECT_FALSE(CascadePlan::fromStages({}));
  config::CascadeConfig cfg;
  config::CascadeStage s;
  s.kind = Kind::kAgree;
  s.models = {"a", "b"};
  s.extract = "jsn:answer";
  s.line = 7;
  cfg.stages = {s};
  auto p = CascadePlan::make(cfg, "gw.yaml", "auto");
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("gw.yaml:7"), std::string::npos) << p.error().message;
  EXPECT_NE(p.error().message.find("jsn:answer"), std::string::npos);
}


// Three stages: agree {a, b, c}, model {mid}, model {big}. plan.models() = a, b, c, mid, big.
CascadePlan threeStages() {
  CascadePlan::Stage agree;
  agree.kind = Kind::kAgree;
  agree.models = {"a", "b", "c"};
  agree.min_votes = 2;
  agree.extract = *Extractor::parse("choice");
  CascadePlan::Stage mid;
  mid.models = {"mid"};
  CascadePlan::Stage big;
  big.models = {"big"};
  return *CascadePlan::fromStages({agree, mid, big});
}

using PreDecision = PreRouteChoice::Decision;

TEST(PreRoute, DirectWhenTheCheapestModelIsLikelyEnough) {
  const CascadePlan plan = threeStages();
  const std::vector<double> p = {0.9, 0.1, 0.1, 0.1, 0.9};
  const PreRouteChoice c = decidePreRoute(plan, PreRouteThresholds{0.85, 0.15}, p);
  EXPECT_EQ(c.decision, PreDecision::kDirect);
  EXPECT_DOUBLE_EQ(c.p, 0.9);
}

TEST(PreRoute, BoundaryValuesDirectAtTheThresholdAndEscalateOnlyBelowIt) {
  const CascadePlan plan = threeStages();
  const std::vector<double> at_direct = {0.85, 0.5, 0.5, 0.5, 0.5};
  EXPECT_EQ(decidePreRoute(plan, PreRouteThresholds{0.85, std::nullopt}, at_direct).decision, PreDecision::kDirect);
  const std::vector<double> just_below = {0.8499, 0.5, 0.5, 0.5, 0.5};
  EXPECT_EQ(decidePreRoute(plan, PreRouteThresholds{0.85, std::nullopt}, just_below).decision, PreDecision::kNormal);
  // The highest non-final p equals escalate_below: not below it, the normal cascade.
  const std::vector<double> at_escalate = {0.1, 0.05, 0.15, 0.1, 0.9};
  EXPECT_EQ(decidePreRoute(plan, PreRouteThresholds{std::nullopt, 0.15}, at_escalate).decision, PreDecision::kNormal);
  const std::vector<double> below = {0.1, 0.05, 0.1499, 0.1, 0.9};
  const PreRouteChoice c = decidePreRoute(plan, PreRouteThresholds{std::nullopt, 0.15}, below);
  EXPECT_EQ(c.decision, PreDecision::kEscalate);
  EXPECT_DOUBLE_EQ(c.p, 0.1499);
}

TEST(PreRoute, EscalatesOnlyWhenEveryNonFinalModelIsUnlikely) {
  const CascadePlan plan = threeStages();
  // mid (a non-final stage) is likely: no escalation. big's p does not count.
  const std::vector<double> mid_likely = {0.1, 0.1, 0.1, 0.6, 0.01};
  EXPECT_EQ(decidePreRoute(plan, PreRouteThresholds{0.85, 0.15}, mid_likely).decision, PreDecision::kNormal);
  const std::vector<double> all_unlikely = {0.1, 0.1, 0.1, 0.1, 0.01};
  EXPECT_EQ(decidePreRoute(plan, PreRouteThresholds{0.85, 0.15}, all_unlikely).decision, PreDecision::kEscalate);
}

TEST(PreRoute, ThresholdsOffAndOneStagePlansAreTheNormalCascade) {
  const CascadePlan plan = threeStages();
  const std::vector<double> sure = {1.0, 1.0, 1.0, 1.0, 1.0};
  const std::vector<double> hopeless = {0.0, 0.0, 0.0, 0.0, 0.0};
  EXPECT_EQ(decidePreRoute(plan, PreRouteThresholds{}, sure).decision, PreDecision::kNormal);
  EXPECT_EQ(decidePreRoute(plan, PreRouteThresholds{}, hopeless).decision, PreDecision::kNormal);
  EXPECT_EQ(decidePreRoute(plan, PreRouteThresholds{std::nullopt, 0.5}, sure).decision, PreDecision::kNormal);
  EXPECT_EQ(decidePreRoute(plan, PreRouteThresholds{0.5, std::nullopt}, hopeless).decision, PreDecision::kNormal);
  CascadePlan::Stage only;
  only.models = {"x"};
  const CascadePlan one = *CascadePlan::fromStages({only});
  const std::vector<double> p = {1.0};
  EXPECT_EQ(decidePreRoute(one, PreRouteThresholds{0.5, 0.1}, p).decision, PreDecision::kNormal);
  CascadeRun run(one, PreDecision::kEscalate);  // nothing to skip: the one stage runs as usual
  EXPECT_EQ(run.stage(), 0u);
  EXPECT_EQ(run.models().size(), 1u);
}

TEST(CascadeRun, DirectAsksOnlyTheCheapestModelAndAcceptsItsPassingAnswer) {
  const CascadePlan plan = threeStages();
  CascadeRun run(plan, PreDecision::kDirect);
  ASSERT_EQ(run.models().size(), 1u);
  EXPECT_EQ(run.models()[0], "a");
  EXPECT_EQ(run.kind(), Kind::kModel);
  EXPECT_EQ(run.extract(), nullptr);
  std::vector<StageAnswer> a = {StageAnswer{true, true, std::nullopt}};  // passed the checks; no vote needed
  auto step = run.feed(a);
  EXPECT_EQ(step.verdict, Verdict::kAccept);
  EXPECT_EQ(step.answer, (CascadeRun::AnswerRef{0, 0}));
  EXPECT_TRUE(run.finished());
}

TEST(CascadeRun, ADirectAnswerThatFailsGoesStraightToTheLastStage) {
  const CascadePlan plan = threeStages();
  CascadeRun run(plan, PreDecision::kDirect);
  std::vector<StageAnswer> failed = {StageAnswer{true, false, std::nullopt}};
  auto step = run.feed(failed);
  EXPECT_EQ(step.verdict, Verdict::kEscalate);
  EXPECT_EQ(run.stage(), 2u);  // mid is skipped
  ASSERT_EQ(run.models().size(), 1u);
  EXPECT_EQ(run.models()[0], "big");
  std::vector<StageAnswer> big_failed = {StageAnswer{true, false, std::nullopt}};
  step = run.feed(big_failed);
  EXPECT_EQ(step.verdict, Verdict::kExhausted);
  EXPECT_EQ(step.answer, (CascadeRun::AnswerRef{2, 0}));
  // Down at the last stage: the direct answer is sent.
  CascadeRun run2(plan, PreDecision::kDirect);
  run2.feed(failed);
  std::vector<StageAnswer> none = {down()};
  step = run2.feed(none);
  EXPECT_EQ(step.verdict, Verdict::kExhausted);
  EXPECT_EQ(step.answer, (CascadeRun::AnswerRef{0, 0}));
}

TEST(CascadeRun, EscalateStartsAtTheLastStageAndNormalAtTheFirst) {
  const CascadePlan plan = threeStages();
  CascadeRun esc(plan, PreDecision::kEscalate);
  EXPECT_EQ(esc.stage(), 2u);
  EXPECT_EQ(esc.models()[0], "big");
  std::vector<StageAnswer> ok = {StageAnswer{true, true, std::nullopt}};
  auto step = esc.feed(ok);
  EXPECT_EQ(step.verdict, Verdict::kAccept);
  EXPECT_EQ(step.answer, (CascadeRun::AnswerRef{2, 0}));
  CascadeRun normal(plan, PreDecision::kNormal);
  EXPECT_EQ(normal.stage(), 0u);
  EXPECT_EQ(normal.models().size(), 3u);
  EXPECT_EQ(normal.kind(), Kind::kAgree);
  ASSERT_NE(normal.extract(), nullptr);
  std::vector<StageAnswer> split = {vote("A"), vote("B"), vote("C")};
  step = normal.feed(split);
  EXPECT_EQ(step.verdict, Verdict::kEscalate);
  EXPECT_EQ(normal.stage(), 1u);  // the normal run does not skip mid
}

}  // namespace
}  // namespace rightsize::routing
