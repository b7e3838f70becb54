#include <gtest/gtest.h>

#include <fstream>

#include "evals/outcomes.h"
#include "evals/simulate.h"
#include "routing/trainer.h"
#include "unit/routing/synthetic.h"

namespace rightsize::evals {
namespace {

TEST(SweepKnobs, SpacesValuesEvenlyFromZeroToOne) {
  EXPECT_EQ(sweepKnobs(5), (std::vector<double>{0, 0.25, 0.5, 0.75, 1}));
  EXPECT_EQ(sweepKnobs(1), (std::vector<double>{1}));
}

TEST(Decide, IgnoresOutcomesInThePromptsFile) {
  auto router = routing::train(routing::testing::syntheticData(150), routing::testing::fastOptions());
  ASSERT_TRUE(router);
  const std::string with = ::testing::TempDir() + "/rs_decide_with.jsonl";
  const std::string without = ::testing::TempDir() + "/rs_decide_without.jsonl";
  {
    std::ofstream a(with), b(without);
    a << R"({"id": "1", "prompt": "This is a hard question about kites number 1?", "outcomes": {"small": {"score": 1, "cost_usd": 99}}})" << "\n";
    a << R"({"id": "2", "prompt": "Quick easy question about kites number 2.", "outcomes": "garbage"})" << "\n";
    b << R"({"id": "1", "prompt": "This is a hard question about kites number 1?"})" << "\n";
    b << R"({"id": "2", "prompt": "Quick easy question about kites number 2."})" << "\n";
  }
  auto pa = readPrompts(with), pb = readPrompts(without);
  ASSERT_TRUE(pa && pb);
  auto da = decideAll(*router, *pa, sweepKnobs(11));
  auto db = decideAll(*router, *pb, sweepKnobs(11));
  ASSERT_EQ(da.size(), 22u);
  for (size_t i = 0; i < da.size(); ++i) {
    EXPECT_EQ(da[i].id, db[i].id);
    EXPECT_EQ(da[i].model, db[i].model);
    EXPECT_EQ(da[i].knob, db[i].knob);
  }
}

TEST(Simulate, RouterBeatsTheZeroRouterOnSyntheticHeldOutData) {
  auto router = routing::train(routing::testing::syntheticData(400), routing::testing::fastOptions());
  ASSERT_TRUE(router);
  // Held-out prompts in outcomes form.
  auto held = routing::testing::syntheticData(200, 1234);
  OutcomeSet set;
  set.models = held.models;
  for (size_t i = 0; i < held.size(); ++i) {
    set.ids.push_back("h" + std::to_string(i));
    set.tasks.push_back("");
    set.asks.push_back(held.asks[i]);
    set.where.push_back("");
    set.index[set.ids.back()] = i;
  }
  set.score = held.score;
  set.cost_usd.assign(held.cost_usd.begin(), held.cost_usd.end());
  auto rep = scoreDecisions(set, decideAll(*router, promptsOf(set), sweepKnobs(21)));
  ASSERT_TRUE(rep) << rep.error().message;
  EXPECT_GT(rep->router.aiq, rep->zero.aiq + 0.05);
  ASSERT_TRUE(rep->router.savings_95.has_value());
  EXPECT_GT(*rep->router.savings_95, 0.5);
}

}  // namespace
}  // namespace rightsize::evals
