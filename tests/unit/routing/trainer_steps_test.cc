// train()'s steps alone (routing/trainer_steps.h): each on a small dataset whose right answer is
// known.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "routing/trainer_steps.h"
#include "synthetic.h"

namespace rightsize::routing::train_steps {
namespace {

using testing::fastOptions;
using testing::syntheticData;

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

// Prompts whose only content is one nonsense word of their own, and a coin flip per model for a
// score: nothing generalizes from one prompt to another, so a fit predicts a prompt's score only
// if it saw that prompt.
TrainingData memorizableData(size_t n) {
  TrainingData d;
  d.models = {"a", "b"};
  uint64_t s = 11;
  for (size_t i = 0; i < n; ++i) {
    d.ids.push_back("mem." + std::to_string(i));
    std::string word = "q";
    for (size_t v = i + 1; v > 0; v /= 26) word += static_cast<char>('a' + v % 26);
    d.asks.push_back(word + " " + word + " " + word);
    for (size_t m = 0; m < 2; ++m) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      d.score.push_back((s >> 33) % 2 == 0 ? 1.0f : 0.0f);
      d.cost_usd.push_back(m == 0 ? 0.001f : 0.01f);
    }
  }
  return d;
}

// Fraction of observed pairs where the logit's sign agrees with the score.
double signAgreement(const TrainingData& d, const std::vector<float>& logits, const std::vector<uint32_t>& rows) {
  const size_t m_count = d.models.size();
  double agree = 0, total = 0;
  for (uint32_t i : rows)
    for (size_t m = 0; m < m_count; ++m) {
      const float y = d.scoreAt(i, m);
      if (std::isnan(y)) continue;
      agree += (logits[i * m_count + m] > 0) == (y > 0.5f) ? 1 : 0;
      total += 1;
    }
  return agree / total;
}

TEST(TrainFeatures, StandardizesTheDenseCuesAndIndexesEveryPrompt) {
  const TrainingData d = syntheticData(60);
  const Features f = buildFeatures(d, 12, 2, TrainOptions{});
  ASSERT_EQ(f.x.rows(), 60u);
  ASSERT_EQ(f.x.offsets.size(), 61u);
  ASSERT_EQ(f.x.dense.size(), 60 * kDenseFeatures);
  EXPECT_EQ(f.x.offsets.back(), f.x.buckets.size());
  for (size_t i = 0; i < 60; ++i) {
    EXPECT_EQ(f.x.bytes[i], d.asks[i].size());
    EXPECT_GT(f.x.offsets[i + 1], f.x.offsets[i]) << "prompt " << i << " has no n-grams";
  }
  size_t varying = 0;
  for (size_t k = 0; k < kDenseFeatures; ++k) {
    double sum = 0, sq = 0;
    for (size_t i = 0; i < 60; ++i) sum += f.x.dense[i * kDenseFeatures + k], sq += std::pow(f.x.dense[i * kDenseFeatures + k], 2);
    EXPECT_NEAR(sum / 60, 0.0, 1e-4) << "cue " << k;
    const double sd = std::sqrt(sq / 60);
    if (f.dense_inv_std[k] == 0) continue;  // a constant cue is left at 0
    ++varying;
    EXPECT_NEAR(sd, kDenseScale, 1e-4) << "cue " << k;
  }
  EXPECT_GT(varying, 0u);
}

TEST(TrainCosts, RecoversAKnownLinearCostPerModel) {
  TrainingData d;
  d.models = {"cheap", "dear"};
  for (size_t i = 0; i < 40; ++i) {
    d.ids.push_back(std::to_string(i));
    d.asks.push_back(std::string(100 + 37 * i, 'x'));
    const double bytes = static_cast<double>(d.asks.back().size());
    d.score.push_back(i % 2 == 0 ? 1.0f : 0.0f);
    d.score.push_back(i % 4 == 0 ? kNan : 1.0f);  // "dear" has no outcome on every 4th prompt
    d.cost_usd.push_back(static_cast<float>(1e-4 + 2e-7 * bytes));
    d.cost_usd.push_back(static_cast<float>(3e-3 + 5e-6 * bytes));
  }
  auto fit = fitCosts(d);
  ASSERT_TRUE(fit) << fit.error().message;
  ASSERT_EQ(fit->costs.size(), 2u);
  EXPECT_NEAR(fit->costs[0].base_usd, 1e-4, 1e-8);
  EXPECT_NEAR(fit->costs[0].per_byte_usd, 2e-7, 1e-11);
  EXPECT_NEAR(fit->costs[1].base_usd, 3e-3, 1e-7);
  EXPECT_NEAR(fit->costs[1].per_byte_usd, 5e-6, 1e-10);
  EXPECT_EQ(fit->observed, 40u + 30u);
  EXPECT_DOUBLE_EQ(fit->mean_score[0], 0.5);
  EXPECT_DOUBLE_EQ(fit->mean_score[1], 1.0);

  Features f = buildFeatures(d, 10, 1, TrainOptions{});
  const auto est = estimatedCosts(fit->costs, f.x);
  ASSERT_EQ(est.size(), 80u);
  EXPECT_NEAR(est[5 * 2 + 1], 3e-3 + 5e-6 * (100 + 37 * 5), 1e-7);
}

TEST(TrainCosts, RejectsScoresOutsideTheUnitIntervalAndModelsWithoutOutcomes) {
  TrainingData d = syntheticData(10);
  d.score[4] = 1.5f;
  EXPECT_FALSE(fitCosts(d));
  d = syntheticData(10);
  for (size_t i = 0; i < 10; ++i) d.score[i * 3 + 1] = kNan;
  auto r = fitCosts(d);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("medium"), std::string::npos);
}

class TrainCrossValidation : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = memorizableData(240);
    features_ = buildFeatures(data_, 14, 1, options_);
    auto folds = splitFolds(data_, options_.seed, options_.folds);
    ASSERT_TRUE(folds);
    folds_ = std::move(*folds);
    options_.epochs = 30;
  }
  TrainOptions options_ = fastOptions();
  TrainingData data_;
  Features features_;
  Folds folds_;
  const std::vector<Setting> settings_ = {{Kind::kLr, 1e-6}};
};

TEST_F(TrainCrossValidation, EveryPromptIsHeldOutByExactlyOneFold) {
  std::vector<int> held(data_.size(), 0);
  for (uint32_t k = 0; k < options_.folds; ++k) {
    for (uint32_t i : folds_.test_rows[k]) {
      ++held[i];
      EXPECT_EQ(folds_.fold[i], k);
    }
    for (uint32_t i : folds_.train_rows[k]) EXPECT_NE(folds_.fold[i], k);
    EXPECT_EQ(folds_.test_rows[k].size() + folds_.train_rows[k].size(), data_.size());
  }
  for (int h : held) EXPECT_EQ(h, 1);
}

TEST_F(TrainCrossValidation, GivesEachPromptItsOwnFoldsFitsPrediction) {
  const auto oof = crossValidate(features_.x, data_, Tasks{}, folds_, settings_, options_, 2);
  ASSERT_EQ(oof.size(), 1u);
  ASSERT_EQ(oof[0].size(), data_.size() * 2);
  for (uint32_t k = 0; k < options_.folds; ++k) {
    std::vector<float> alone(data_.size() * 2, 0.0f);
    predictHeldOut(settings_[0], features_.x, data_, Tasks{}, folds_.train_rows[k], folds_.test_rows[k],
                   options_.epochs, options_.seed * 1000003ULL + k, nullptr, alone);
    for (uint32_t i : folds_.test_rows[k])
      for (size_t m = 0; m < 2; ++m) EXPECT_EQ(oof[0][i * 2 + m], alone[i * 2 + m]) << "prompt " << i;
  }
}

TEST_F(TrainCrossValidation, NeverPredictsAPromptFromAFitThatSawIt) {
  const auto oof = crossValidate(features_.x, data_, Tasks{}, folds_, settings_, options_, 1);
  std::vector<uint32_t> all(data_.size());
  std::iota(all.begin(), all.end(), 0u);
  // Control: a fit that saw the prompts memorizes their coin flips ...
  std::vector<float> seen(data_.size() * 2, 0.0f);
  predictHeldOut(settings_[0], features_.x, data_, Tasks{}, all, all, options_.epochs, 1, nullptr, seen);
  EXPECT_GT(signAgreement(data_, seen, all), 0.9);
  // ... out of fold there is nothing to memorize: chance.
  EXPECT_LT(signAgreement(data_, oof[0], all), 0.65);
}

TEST(TrainBestSettings, KeepsEachComponentsLowestLogLoss) {
  TrainingData d = syntheticData(40);
  const size_t n = d.size(), m_count = 3;
  // Logits: good = the score's sign, weak = half as far, useless = 0.
  std::vector<float> good(n * m_count), weak(n * m_count), useless(n * m_count, 0.0f);
  for (size_t k = 0; k < n * m_count; ++k) good[k] = d.score[k] > 0.5f ? 3.0f : -3.0f, weak[k] = good[k] / 6;
  const std::vector<Setting> settings = {{Kind::kLr, 1}, {Kind::kLr, 2}, {Kind::kMf, 1}, {Kind::kMf, 2}};
  const BestSettings best = pickBestSettings(d, settings, {weak, good, useless, weak}, false, 0);
  EXPECT_EQ(best.best[0], 1);
  EXPECT_EQ(best.best[1], 3);
  EXPECT_EQ(best.best[2], -1);
  EXPECT_EQ(best.best[3], -1);
  ASSERT_EQ(best.tried.size(), 4u);
  EXPECT_EQ(best.tried[0].name, "lr(lambda=1)");
  EXPECT_NEAR(best.tried[2].log_loss, std::log(2.0), 1e-6);  // uncalibrated logit 0 is p = 0.5
}

TEST(TrainSelection, PicksTheLowestOutOfFoldLogLoss) {
  TrainingData d = syntheticData(30);
  const size_t n = d.size(), m_count = 3;
  Finalist coin, sharp, wrong;
  coin.name = "coin", sharp.name = "sharp", wrong.name = "wrong";
  coin.parts = {Kind::kLr, Kind::kMf};
  sharp.parts = {Kind::kLr};
  wrong.parts = {Kind::kMf};
  for (size_t k = 0; k < n * m_count; ++k) {
    coin.p.push_back(0.5f);
    sharp.p.push_back(d.score[k] > 0.5f ? 0.8f : 0.2f);
    wrong.p.push_back(d.score[k] > 0.5f ? 0.2f : 0.8f);
  }
  RouterModel shape;
  shape.cost_scale_usd = 0.01;
  const std::vector<double> est(n * m_count, 0.001);
  const std::vector<Finalist> finalists = {wrong, coin, sharp};

  const Selection s = selectLearner(shape, d, finalists, est, false);
  EXPECT_EQ(s.chosen, 2);
  ASSERT_EQ(s.scores.size(), 3u);
  EXPECT_NEAR(s.scores[1].log_loss, std::log(2.0), 1e-6);
  EXPECT_NEAR(s.scores[2].log_loss, -std::log(0.8), 1e-6);
  EXPECT_NEAR(s.scores[0].log_loss, -std::log(0.2), 1e-6);
  ASSERT_EQ(s.sweeps.size(), 3u);
  EXPECT_EQ(s.scores[2].curve.size(), s.sweeps[2].size());

  // A forced learner: only the finalist stacking every component is eligible.
  EXPECT_EQ(selectLearner(shape, d, finalists, est, true).chosen, 1);
}

TEST(TrainSelection, StacksEveryCombinationOfTheBestSettings) {
  TrainingData d = syntheticData(30);
  const size_t n = d.size();
  std::vector<float> z(n * 3, 0.5f);
  const std::vector<Setting> settings = {{Kind::kLr, 0.1}, {Kind::kMf, 0.2}};
  BestSettings best;
  best.best = {0, 1, -1, -1};
  const auto finalists = stackFinalists(d, settings, {z, z}, best, false, 0);
  ASSERT_EQ(finalists.size(), 3u);
  EXPECT_EQ(finalists[0].name, "lr(lambda=0.1)");
  EXPECT_EQ(finalists[1].name, "mf(rank=8,lambda=0.2)");
  EXPECT_EQ(finalists[2].name, "blend: lr(lambda=0.1) + mf(rank=8,lambda=0.2)");
  ASSERT_EQ(finalists[2].p.size(), n * 3);
  EXPECT_NEAR(finalists[2].p[0], sigmoid(1.0), 1e-6);  // identity stacks: the logits summed
}

TEST(TrainSelection, NeverStacksTheTfidfRegressionAndKeepsItUncalibratedAsAFinalistOfItsOwn) {
  TrainingData d = syntheticData(30);
  const size_t n = d.size();
  std::vector<float> z(n * 3, 0.5f), zt(n * 3, -1.0f);
  const std::vector<Setting> settings = {{Kind::kLr, 0.1}, {Kind::kMf, 0.2}, {Kind::kTfidf, 0.3}};
  BestSettings best;
  best.best = {0, 1, -1, 2};
  const auto finalists = stackFinalists(d, settings, {z, z, zt}, best, true, 0);
  ASSERT_EQ(finalists.size(), 4u);  // lr, mf, lr + mf, tf-idf alone
  for (size_t f = 0; f < 3; ++f) EXPECT_FALSE(isPlainTfidf(finalists[f])) << finalists[f].name;
  ASSERT_TRUE(isPlainTfidf(finalists[3]));
  EXPECT_EQ(finalists[3].name, "tfidf-lr(lambda=0.3)");
  ASSERT_EQ(finalists[3].p.size(), n * 3);
  EXPECT_NEAR(finalists[3].p[0], sigmoid(-1.0), 1e-6);  // its own probabilities, not recalibrated
}

TEST(TrainBestSettings, ScoresTheTfidfRegressionUncalibratedAsTheBaselineDecides) {
  TrainingData d = syntheticData(40);
  const std::vector<float> zero(d.size() * 3, 0.0f);
  const std::vector<Setting> settings = {{Kind::kLr, 1}, {Kind::kTfidf, 1}};
  const BestSettings best = pickBestSettings(d, settings, {zero, zero}, true, 0);
  EXPECT_LT(best.tried[0].log_loss, std::log(2.0) - 0.01);    // Platt scaling moves p = 0.5 to the means
  EXPECT_NEAR(best.tried[1].log_loss, std::log(2.0), 1e-6);  // the tf-idf logits as they are
}

// Per model probabilities that rank the prompts perfectly but are overconfident (a poor log
// loss), and each model's mean score (a good log loss, no ranking at all).
void rankingAndMeans(const TrainingData& d, std::vector<float>& ranking, std::vector<float>& means) {
  const size_t n = d.size();
  std::vector<double> mean(3, 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t m = 0; m < 3; ++m) mean[m] += d.scoreAt(i, m) / double(n);
  for (size_t i = 0; i < n; ++i) {
    const bool hard = i % 2 == 0;
    for (float v : {hard ? 0.001f : 0.999f, hard ? 0.01f : 0.999f, 0.999f}) ranking.push_back(v);
    for (size_t m = 0; m < 3; ++m) means.push_back(static_cast<float>(mean[m]));
  }
}

// What selectLearner decides with: the first n synthetic prompts, a shape with their fitted costs
// and means, and their recorded costs as the estimates.
struct SelectionInputs {
  TrainingData d;
  RouterModel shape;
  std::vector<double> est;
};
SelectionInputs selectionInputs(size_t n) {
  SelectionInputs in{syntheticData(n), {}, {}};
  auto fit = fitCosts(in.d);
  EXPECT_TRUE(fit.has_value());
  in.shape.costs = fit->costs;
  in.shape.mean_score = fit->mean_score;
  in.shape.mean_cost_usd = fit->mean_cost_usd;
  in.shape.cost_scale_usd = 0.01;
  for (size_t i = 0; i < in.d.size(); ++i)
    for (size_t m = 0; m < 3; ++m) in.est.push_back(in.d.costAt(i, m));
  return in;
}

TEST(TrainSelection, KeepsTheTfidfFinalistOnlyWhenItsHeldOutDecisionsAreBetter) {
  const SelectionInputs in = selectionInputs(1600);  // not small data (kSmallDataPrompts): no burden of proof
  const TrainingData& d = in.d;
  const RouterModel& shape = in.shape;
  const std::vector<double>& est = in.est;
  std::vector<float> ranking, means;
  rankingAndMeans(d, ranking, means);
  Finalist lr, tfidf;
  lr.parts = {Kind::kLr}, lr.name = "lr";
  tfidf.parts = {Kind::kTfidf}, tfidf.name = "tfidf";

  // The stacked learner decides better, though the tf-idf finalist has the lower log loss.
  lr.p = ranking, tfidf.p = means;
  Selection s = selectLearner(shape, d, {lr, tfidf}, est, false);
  EXPECT_LT(s.scores[1].log_loss, s.scores[0].log_loss);
  EXPECT_EQ(s.chosen, 0);

  // The tf-idf finalist decides better: kept, though its log loss is the higher.
  lr.p = means, tfidf.p = ranking;
  s = selectLearner(shape, d, {lr, tfidf}, est, false);
  EXPECT_GT(s.scores[1].log_loss, s.scores[0].log_loss);
  EXPECT_EQ(s.chosen, 1);

  // Alone (the baseline), it is kept.
  EXPECT_EQ(selectLearner(shape, d, {tfidf}, est, false).chosen, 0);
}

// The selection between a stacked finalist that ranks the prompts and a tf-idf finalist that
// predicts the means, on the first n prompts of the synthetic data.
Selection rankingAgainstMeans(size_t n) {
  const SelectionInputs in = selectionInputs(n);
  Finalist lr, tfidf;
  lr.parts = {Kind::kLr}, lr.name = "lr";
  tfidf.parts = {Kind::kTfidf}, tfidf.name = "tfidf";
  rankingAndMeans(in.d, lr.p, tfidf.p);
  return selectLearner(in.shape, in.d, {lr, tfidf}, in.est, false);
}

TEST(TrainSelection, KeepsTheTfidfFinalistUnlessTheStackedOneDecidesBetterByMoreThanItsNoise) {
  // On a few dozen prompts the stacked finalist's held-out decisions are better, by less than
  // two bootstrap standard errors: the tf-idf finalist is kept.
  const Selection few = rankingAgainstMeans(24);
  EXPECT_GT(few.gap, 0);
  EXPECT_GT(few.gap_se, few.gap);
  EXPECT_EQ(few.chosen, 1);
  EXPECT_EQ(rankingAgainstMeans(24).gap_se, few.gap_se);  // a fixed seed

  // The same learners on more prompts, still small data: better by more than two standard
  // errors, the stacked one is kept.
  const Selection more = rankingAgainstMeans(996);
  ASSERT_LT(996u, kSmallDataPrompts);
  EXPECT_GT(more.gap_se, 0);
  EXPECT_GT(more.gap, 2 * more.gap_se);
  EXPECT_EQ(more.chosen, 0);

  // Not small data: no standard error, the higher value is kept.
  const Selection many = rankingAgainstMeans(1600);
  EXPECT_EQ(many.gap_se, 0);
  EXPECT_EQ(many.chosen, 0);
}

// A sweep as the calibration sees it: the decisions of a router that knows which prompts are hard.
std::vector<SweepPoint> knownSweep(RouterModel& shape, const TrainingData& d) {
  auto fit = fitCosts(d);
  shape.costs = fit->costs;
  shape.mean_score = fit->mean_score;
  shape.mean_cost_usd = fit->mean_cost_usd;
  shape.cost_scale_usd = 0.01;
  std::vector<float> p;
  std::vector<double> est;
  for (size_t i = 0; i < d.size(); ++i) {
    const bool hard = i % 2 == 0;
    for (float v : {hard ? 0.05f : 0.95f, hard ? 0.3f : 0.95f, 0.95f}) p.push_back(v);
    for (size_t m = 0; m < 3; ++m) est.push_back(d.costAt(i, m));
  }
  return sweep(shape, d, p, est);
}

TEST(TrainKnobCalibration, MoreKnobNeverMeansALargerCostWeightOrACheaperChoice) {
  const TrainingData d = syntheticData(200);
  RouterModel shape;
  const auto sw = knownSweep(shape, d);
  ASSERT_GT(sw.size(), 2u);
  EXPECT_NEAR(sw.front().pred_cost, 0.0001, 1e-8);  // weight 1e5: all to the small model
  EXPECT_NEAR(sw.back().pred_cost, (0.01 + 0.0001) / 2, 1e-8);   // weight 0: hard to big, easy to small (tie: cheaper)
  const auto knobs = calibrateKnob(sw, 0.9);
  ASSERT_EQ(knobs.size(), sw.size());
  EXPECT_EQ(knobs.front().knob, 0.0);
  EXPECT_EQ(knobs.back().knob, 1.0);
  EXPECT_EQ(knobs.back().weight, 0.0);
  for (size_t j = 1; j < knobs.size(); ++j) {
    EXPECT_GE(knobs[j].knob, knobs[j - 1].knob) << j;
    EXPECT_LE(knobs[j].weight, knobs[j - 1].weight) << j;
    EXPECT_GE(knobs[j].cost_usd, knobs[j - 1].cost_usd - 1e-12) << j;
  }
  EXPECT_NEAR(knobs.back().quality, sw.back().quality / 0.9, 1e-12);
}

TEST(TrainKnobCalibration, SpacesKnobsHalfLinearHalfLogarithmicInCostAndNeverGoesBack) {
  std::vector<SweepPoint> sw(4);
  const double pred[] = {1.0, 10.0, 5.0, 100.0};
  for (size_t j = 0; j < 4; ++j) sw[j] = {1000.0 - j * 300.0, pred[j], pred[j], 0.5};
  sw[3].weight = 0;
  const auto knobs = calibrateKnob(sw, 0.5);
  ASSERT_EQ(knobs.size(), 4u);
  EXPECT_DOUBLE_EQ(knobs[0].knob, 0.0);
  EXPECT_NEAR(knobs[1].knob, 0.5 * 9.0 / 99.0 + 0.5 * 0.5, 1e-12);
  EXPECT_DOUBLE_EQ(knobs[2].knob, knobs[1].knob);  // cost 5 after 10: held, not lowered
  EXPECT_DOUBLE_EQ(knobs[3].knob, 1.0);
  EXPECT_DOUBLE_EQ(knobs[1].quality, 1.0);
}

// The selected learner (lr alone) of a fast training on `d`, with what the shrinkage needs.
struct Selected {
  TrainOptions options = fastOptions();
  Features features;
  Folds folds;
  Tasks tasks;
  std::vector<Setting> settings = {{Kind::kLr, 1e-3}};
  std::vector<std::vector<float>> oof;
  BestSettings best;
  std::vector<Finalist> finalists;
  std::vector<double> est_cost;
  RouterModel shape;
  explicit Selected(const TrainingData& d) {
    features = buildFeatures(d, options.hash_bits, 1, options);
    folds = *splitFolds(d, options.seed, options.folds);
    tasks = indexTasks(d);
    oof = crossValidate(features.x, d, tasks, folds, settings, options, 1);
    best = pickBestSettings(d, settings, oof, true, tasks.count());
    finalists = stackFinalists(d, settings, oof, best, true, tasks.count());
    auto costs = fitCosts(d);
    shape.mean_score = costs->mean_score;
    shape.mean_cost_usd = costs->mean_cost_usd;
    shape.cost_scale_usd = 0.01;
    est_cost = estimatedCosts(costs->costs, features.x);
  }
  OodShrinkage shrink(const TrainingData& d, bool baseline) const {
    return shrinkOutOfDistribution(
        {features.x, d, tasks, folds, settings, best, oof, finalists[0], est_cost, shape, baseline}, options, 1);
  }
};

TEST(TrainOod, LeavesThePredictionsAloneWithoutTasksAndForTheBaseline) {
  const TrainingData d = syntheticData(120);
  const Selected sel(d);
  const OodShrinkage none = sel.shrink(d, false);
  EXPECT_FALSE(none.applied);
  EXPECT_TRUE(none.ood.empty());
  EXPECT_TRUE(none.sketch.empty());
  EXPECT_EQ(none.p, sel.finalists[0].p);
  EXPECT_EQ(none.report, "none (the data names fewer than two tasks to hold out)");

  TrainingData with_tasks = d;
  for (size_t i = 0; i < d.size(); ++i) with_tasks.tasks.push_back(testing::kTopics[(i / 2) % 8]);
  const Selected sel_tasks(with_tasks);
  EXPECT_FALSE(sel_tasks.shrink(with_tasks, true).applied);
}

TEST(TrainOod, ShrinksEachPredictionTowardsItsModelsMeanOnHeldOutTasks) {
  TrainingData d = syntheticData(160);
  for (size_t i = 0; i < d.size(); ++i) d.tasks.push_back(testing::kTopics[(i / 2) % 8]);
  const Selected sel(d);
  ASSERT_EQ(sel.tasks.count(), 8u);
  const OodShrinkage o = sel.shrink(d, false);
  ASSERT_TRUE(o.applied);
  ASSERT_EQ(o.ood.size(), 2u);
  EXPECT_EQ(o.sketch_bits, 20u);
  EXPECT_EQ(o.sketch.size(), 2 * (size_t{1} << 20) / 64);
  EXPECT_NE(o.report.find("held out 8 tasks in 8 groups"), std::string::npos) << o.report;
  const auto& p = sel.finalists[0].p;
  ASSERT_EQ(o.p.size(), p.size());
  for (size_t k = 0; k < p.size(); ++k) {  // p' = lam p + (1 - lam) mean, lam in [0, 1]
    const double mean = sel.shape.mean_score[k % 3];
    EXPECT_GE(o.p[k], std::min<double>(p[k], mean) - 1e-6) << k;
    EXPECT_LE(o.p[k], std::max<double>(p[k], mean) + 1e-6) << k;
  }
}

TEST(TrainAnchor, KeepsBonusZeroForTheBaselineAndTheBestSingleModelAsAnchor) {
  const TrainingData d = syntheticData(100);
  RouterModel shape;
  const auto sw = knownSweep(shape, d);
  std::vector<float> p(d.size() * 3, 0.5f);
  const std::vector<double> est(d.size() * 3, 0.001);
  const AnchorChoice a = chooseAnchorBonus(shape, d, p, est, sw, false);
  EXPECT_EQ(a.anchor_model, 2);  // "big" has the highest mean score
  EXPECT_EQ(a.bonus, 0.0);
  ASSERT_EQ(a.values.size(), 1u);
  EXPECT_EQ(a.values[0].first, 0.0);
  EXPECT_EQ(a.sweep.size(), sw.size());
}

TEST(TrainRefit, FoldsTheStackedLogisticRegressionIntoTheHead) {
  const TrainingData d = syntheticData(90);
  TrainOptions o = fastOptions();
  const Features f = buildFeatures(d, o.hash_bits, 1, o);
  const std::vector<Setting> settings = {{Kind::kLr, 1e-3}};
  BestSettings best;
  best.best = {0, -1, -1, -1};
  Finalist fin;
  fin.parts = {Kind::kLr};
  fin.stack.a = {{2.0, 0.5, 1.0}};
  fin.stack.c = {0.25, -1.0, 0.0};
  const FoldedHead folded = refitAndFold(f.x, d, Tasks{}, settings, best, fin, o, 2);
  ASSERT_EQ(folded.head.outputs, 3u);
  EXPECT_TRUE(folded.tasks.empty());

  std::vector<uint32_t> all(d.size());
  std::iota(all.begin(), all.end(), 0u);
  const LrFit lr = fitLr(f.x, d, all, 1e-3, o.epochs, o.seed * 1000003ULL + 999);
  for (uint32_t i : {0u, 1u, 47u}) {
    float z[3];
    lrLogits(lr, f.x, 3, i, z);
    for (size_t m = 0; m < 3; ++m) {
      double head = folded.head.bias[m];
      for (uint64_t j = f.x.offsets[i]; j < f.x.offsets[i + 1]; ++j)
        head += f.x.scale[i] * folded.head.row(f.x.buckets[j])[m];
      for (size_t k = 0; k < kDenseFeatures; ++k)
        head += f.x.dense[i * kDenseFeatures + k] * folded.head.dense_w[k * 3 + m];
      EXPECT_NEAR(head, fin.stack.a[0][m] * z[m] + fin.stack.c[m], 1e-4) << "prompt " << i << " model " << m;
    }
  }
}

}  // namespace
}  // namespace rightsize::routing::train_steps
