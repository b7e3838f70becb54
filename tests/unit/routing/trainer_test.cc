// train -> router -> decisions on data where the right answer is known; determinism;
// calibration monotonicity.
#include <gtest/gtest.h>

#include <vector>

#include "routing/router_model.h"
#include "routing/trainer.h"
#include "synthetic.h"

namespace rightsize::routing {
namespace {

using testing::fastOptions;
using testing::syntheticData;

class TrainedRouter : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The stacked learner: on these 600 prompts auto keeps the tf-idf finalist (the stacked
    // choice's held-out gap is within two bootstrap standard errors), tested below.
    TrainOptions opt = fastOptions();
    opt.learner = "blend";
    auto r = train(syntheticData(600), opt);
    ASSERT_TRUE(r) << r.error().message;
    router_ = new RouterModel(std::move(*r));
    ASSERT_TRUE(train(syntheticData(600), fastOptions(), &report_));
  }
  static void TearDownTestSuite() {
    delete router_;
    router_ = nullptr;
  }
  static int pick(const std::string& ask, double knob) {
    std::vector<double> p(router_->modelCount()), c(router_->modelCount());
    router_->predict(ask, p);
    for (size_t m = 0; m < c.size(); ++m) c[m] = router_->estimateCostUsd(m, ask.size());
    return router_->choose(p, c, {}, knob, router_->anchor_model);
  }
  static RouterModel* router_;
  static TrainReport report_;
};
RouterModel* TrainedRouter::router_ = nullptr;
TrainReport TrainedRouter::report_;

TEST_F(TrainedRouter, PredictsHardPromptsNeedTheBigModel) {
  std::vector<double> hard(3), easy(3);
  router_->predict("This is a hard question about oceans number 9001?", hard);
  router_->predict("Quick easy question about oceans number 9002.", easy);
  EXPECT_LT(hard[0], 0.3);   // small fails hard prompts
  EXPECT_GT(easy[0], 0.7);   // ... and passes easy ones
  EXPECT_GT(hard[2], 0.7);   // big passes both
}

TEST_F(TrainedRouter, KnobZeroIsCheapestAndKnobOneIsBestPredicted) {
  EXPECT_EQ(pick("This is a hard question about oceans number 1?", 0.0), 0);
  EXPECT_EQ(pick("This is a hard question about oceans number 1?", 1.0), 2);
}

TEST_F(TrainedRouter, QualityTargetSendsHardPromptsBigAndEasyPromptsSmall) {
  const double knob = router_->knobForQuality(0.95);
  EXPECT_GT(knob, 0.0);
  EXPECT_LT(knob, 1.0);
  EXPECT_EQ(pick("This is a hard question about oceans number 77?", knob), 2);
  EXPECT_EQ(pick("Quick easy question about oceans number 78.", knob), 0);
}

TEST_F(TrainedRouter, HigherQualityTargetsNeverPickCheaperModelsOnAverage) {
  auto data = syntheticData(200, 99);
  double prev_cost = -1, prev_knob = -1;
  for (double q : {0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0}) {
    const double knob = router_->knobForQuality(q);
    EXPECT_GE(knob, prev_knob) << "target " << q;
    double cost = 0;
    for (const auto& ask : data.asks) cost += router_->estimateCostUsd(static_cast<size_t>(pick(ask, knob)), ask.size());
    EXPECT_GE(cost, prev_cost) << "target " << q;
    prev_cost = cost;
    prev_knob = knob;
  }
}

TEST_F(TrainedRouter, SweepingTheKnobNeverLowersAPromptsChosenCost) {
  auto data = syntheticData(60, 5);
  for (const auto& ask : data.asks) {
    double prev = -1;
    for (int k = 0; k <= 20; ++k) {
      const int m = pick(ask, k / 20.0);
      const double c = router_->estimateCostUsd(static_cast<size_t>(m), ask.size());
      EXPECT_GE(c, prev) << ask << " knob " << k / 20.0;
      prev = c;
    }
  }
}

TEST_F(TrainedRouter, ReportsEveryLearnerItTried) {
  EXPECT_GE(report_.tried.size(), 4u);
  ASSERT_EQ(report_.finalists.size(), 4u);  // lr, mf, blend, and the tf-idf regression alone
  for (size_t f = 0; f < 3; ++f)
    EXPECT_EQ(report_.finalists[f].name.find("tfidf-lr("), std::string::npos) << "the tf-idf regression is not stacked";
  EXPECT_EQ(report_.finalists[3].name.rfind("tfidf-lr(", 0), 0u);
  size_t tfidf_tried = 0;
  for (const auto& t : report_.tried) tfidf_tried += t.name.rfind("tfidf-lr(", 0) == 0 ? 1 : 0;
  EXPECT_EQ(tfidf_tried, 5u) << "below kSmallDataPrompts prompts, the baseline's whole lambda grid";
  EXPECT_EQ(report_.chosen.rfind("tfidf-lr(", 0), 0u) << "small data: the stacked choice is not better by 2 standard errors";
  for (const auto& f : report_.finalists) EXPECT_FALSE(f.curve.empty());
}

TEST_F(TrainedRouter, LearnsCostsFromTheOutcomes) {
  EXPECT_NEAR(router_->mean_cost_usd[0], 0.0001, 1e-9);
  EXPECT_NEAR(router_->estimateCostUsd(2, 50), 0.01, 1e-6);
}

TEST(Train, SameDataAndSeedGiveTheSameBytesWhateverTheThreads) {
  auto opt = fastOptions();
  auto a = train(syntheticData(240), opt);
  opt.threads = 2;
  auto b = train(syntheticData(240), opt);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->serialize(), b->serialize());
}

TEST(Train, ADifferentSeedGivesADifferentRouter) {
  auto opt = fastOptions();
  auto a = train(syntheticData(240), opt);
  opt.seed = 4;
  auto b = train(syntheticData(240), opt);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->serialize(), b->serialize());
}

TEST(Train, RejectsAModelWithoutOutcomes) {
  auto d = syntheticData(60);
  for (size_t i = 0; i < d.size(); ++i) d.score[i * 3 + 1] = std::numeric_limits<float>::quiet_NaN();
  auto r = train(d, fastOptions());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("medium"), std::string::npos);
}

TEST(Train, HandlesModelsMissingFromSomeRecords) {
  auto d = syntheticData(240);
  for (size_t i = 0; i < d.size(); i += 3) d.score[i * 3 + 1] = std::numeric_limits<float>::quiet_NaN();
  auto r = train(d, fastOptions());
  ASSERT_TRUE(r) << r.error().message;
  std::vector<double> p(3);
  r->predict("Quick easy question about birds number 3.", p);
  for (double x : p) EXPECT_TRUE(x > 0 && x < 1);
}

TEST(Train, CanBeForcedToOneLearner) {
  auto opt = fastOptions();
  opt.learner = "lr";
  TrainReport rep;
  auto r = train(syntheticData(120), opt, &rep);
  ASSERT_TRUE(r);
  EXPECT_EQ(rep.finalists.size(), 1u);
  EXPECT_EQ(rep.chosen.rfind("lr", 0), 0u) << rep.chosen;
  opt.learner = "knn";
  EXPECT_FALSE(train(syntheticData(120), opt));
}

// With tasks named, train holds out groups of tasks, learns the out-of-distribution shrinkage
// and stores the novelty sketch; the file round-trips byte for byte.
TEST(Train, LearnsAnOutOfDistributionShrinkageWhenTasksAreNamed) {
  auto data = syntheticData(600);
  for (size_t i = 0; i < data.size(); ++i) data.tasks.push_back(testing::kTopics[(i / 2) % 8]);
  TrainOptions opt = fastOptions();
  opt.learner = "blend";  // the shrinkage is the stacked learner's (auto keeps tf-idf on these 600 prompts)
  TrainReport rep;
  auto r = train(data, opt, &rep);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_GT(r->sketch_bits, 0u);
  ASSERT_EQ(r->ood.size(), 2u);
  EXPECT_NE(rep.ood.find("held out 8 tasks"), std::string::npos) << rep.ood;
  PromptFeatures seen, novel;
  extractFeatures("This is a hard question about rivers number 77?", r->hash_bits, seen);
  extractFeatures("Zygomorphic xylophones quarrel beneath translucent glaciers overnight.", r->hash_bits, novel);
  EXPECT_GT(r->coverage(seen), 0.9);
  EXPECT_LT(r->coverage(novel), 0.1);
  auto again = RouterModel::parse(r->serialize(), "mem");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->serialize(), r->serialize());
  std::vector<double> a(3), b(3);
  r->predict("Quick easy question about chess number 5.", a);
  again->predict("Quick easy question about chess number 5.", b);
  EXPECT_EQ(a, b);
}

// The tf-idf baseline: raw per-model logistic regression (no stacking, anchor bonus or
// shrinkage, even with tasks named) that still separates hard from easy prompts and decides
// with the same rule and knob table as the learned router.
TEST(Train, TfidfBaselineIsAPlainLogisticRegressionThatStillRoutes) {
  auto data = syntheticData(600);
  for (size_t i = 0; i < data.size(); ++i) data.tasks.push_back(testing::kTopics[(i / 2) % 8]);
  auto opt = fastOptions();
  opt.learner = "tfidf-lr";
  TrainReport rep;
  auto r = train(data, opt, &rep);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(rep.chosen.rfind("tfidf-lr(lambda=", 0), 0u) << rep.chosen;
  EXPECT_EQ(rep.finalists.size(), 1u);
  EXPECT_EQ(r->anchor_bonus, 0);
  EXPECT_TRUE(r->ood.empty());
  EXPECT_TRUE(r->tasks.empty());
  for (const auto& t : rep.tried) EXPECT_EQ(t.name.rfind("tfidf-lr", 0), 0u) << t.name;
  std::vector<double> hard(3), easy(3);
  r->predict("This is a hard question about oceans number 9001?", hard);
  r->predict("Quick easy question about oceans number 9002.", easy);
  EXPECT_LT(hard[0], easy[0] - 0.3);
  EXPECT_GT(hard[2], 0.7);
  const double knob = r->knobForQuality(0.95);
  std::vector<double> c(3);
  for (size_t m = 0; m < 3; ++m) c[m] = r->estimateCostUsd(m, 40);
  EXPECT_EQ(r->choose(hard, c, {}, knob, r->anchor_model), 2);
  EXPECT_EQ(r->choose(easy, c, {}, knob, r->anchor_model), 0);
  auto again = RouterModel::parse(r->serialize(), "mem");
  ASSERT_TRUE(again) << again.error().message;
}

// A ramp (negative intercept) keeps the whole prediction on a prompt like the training data and
// falls back to the model means on a novel one; the grid offers such ramps since shrinking every
// prediction alike cost RouterBench in-distribution quality.
TEST(Train, ARampShrinkageTrustsCoveredPromptsAndNotNovelOnes) {
  auto data = syntheticData(600);
  for (size_t i = 0; i < data.size(); ++i) data.tasks.push_back(testing::kTopics[(i / 2) % 8]);
  TrainOptions opt = fastOptions();
  opt.learner = "blend";  // the shrinkage is the stacked learner's (auto keeps tf-idf on these 600 prompts)
  auto r = train(data, opt);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_GT(r->sketch_bits, 0u);
  RouterModel plain = *r, ramp = *r;
  plain.ood.clear();
  ramp.ood = {-2.0f, 4.0f};
  const std::string seen = "This is a hard question about rivers number 77?";
  const std::string novel = "Zygomorphic xylophones quarrel beneath translucent glaciers overnight.";
  std::vector<double> a(3), b(3);
  plain.predict(seen, a);
  ramp.predict(seen, b);
  for (size_t m = 0; m < 3; ++m) EXPECT_DOUBLE_EQ(a[m], b[m]);
  ramp.predict(novel, b);
  for (size_t m = 0; m < 3; ++m) EXPECT_DOUBLE_EQ(b[m], ramp.mean_score[m]);
  EXPECT_TRUE(RouterModel::parse(ramp.serialize(), "mem"));
}

// Without tasks there is nothing to hold out by group: no shrinkage, no sketch.
TEST(Train, NoShrinkageWithoutTasks) {
  auto r = train(syntheticData(300), fastOptions());
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->ood.empty());
  EXPECT_EQ(r->sketch_bits, 0u);
}

}  // namespace
}  // namespace rightsize::routing
