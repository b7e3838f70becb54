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

}  // namespace
}  // namespace rightsize::routing
