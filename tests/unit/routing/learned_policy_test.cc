// The `learned` policy over a router trained on synthetic data.
#include <gtest/gtest.h>

#include <memory>

#include "routing/cascade_policy.h"
#include "routing/learned_policy.h"
#include "routing/policy.h"
#include "routing/trainer.h"
#include "synthetic.h"

namespace rightsize::routing {
namespace {

const char* kHard = "This is a hard question about oceans number 4242?";
const char* kEasy = "Quick easy question about oceans number 4243.";

class LearnedPolicyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto r = train(testing::syntheticData(600), testing::fastOptions());
    ASSERT_TRUE(r) << r.error().message;
    router_ = new std::shared_ptr<const RouterModel>(std::make_shared<const RouterModel>(std::move(*r)));
  }
  static void TearDownTestSuite() {
    delete router_;
    router_ = nullptr;
  }

  void SetUp() override {
    addModel("tiny", "small");   // mapped by provider id
    addModel("medium", "medium-v2");
    addModel("big", "big-2025");
    route_.name = "auto";
    route_.candidates = {"tiny", "medium", "big"};
    route_.policy = "learned";
    route_.quality = 0.3;
    for (const auto& name : route_.candidates) {
      CandidateState c;
      c.model = &cfg_.models.at(name);
      cands_.push_back(c);
    }
  }

  void addModel(const std::string& name, const std::string& id) {
    config::ModelConfig m;
    m.name = name;
    m.provider = "p";
    m.id = id;
    cfg_.models[name] = m;
  }

  std::unique_ptr<Policy> policy() {
    auto p = makeLearnedPolicyFromRouter({cfg_, route_}, *router_);
    EXPECT_TRUE(p) << p.error().message;
    return p ? std::move(*p) : nullptr;
  }

  Result<Decision> decide(const Policy& p, const char* ask, std::optional<double> q = std::nullopt) {
    DecisionInput in;
    in.ask = ask;
    in.candidates = cands_;
    in.quality = q;
    return p.decide(in);
  }

  static std::shared_ptr<const RouterModel>* router_;
  config::Config cfg_;
  config::RouteConfig route_;
  std::vector<CandidateState> cands_;
};
std::shared_ptr<const RouterModel>* LearnedPolicyTest::router_ = nullptr;

TEST_F(LearnedPolicyTest, HonoursThePerRequestQualityOverTheRoutes) {
  auto p = policy();
  auto low = decide(*p, kHard);  // route quality 0.3: the cheapest model will do
  ASSERT_TRUE(low);
  EXPECT_EQ(low->order[0], 0u);
  auto high = decide(*p, kHard, 0.99);
  ASSERT_TRUE(high);
  EXPECT_EQ(high->order[0], 2u);
  EXPECT_GT(high->knob, low->knob);
}

TEST_F(LearnedPolicyTest, SendsEasyPromptsToTheSmallModelEvenAtHighQuality) {
  auto p = policy();
  auto d = decide(*p, kEasy, 0.95);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->order[0], 0u);
}

TEST_F(LearnedPolicyTest, SkipsUnavailableCandidates) {
  auto p = policy();
  cands_[2].available = false;
  auto d = decide(*p, kHard, 0.99);
  ASSERT_TRUE(d);
  EXPECT_NE(d->order[0], 2u);
  for (size_t i : d->order) EXPECT_NE(i, 2u);
  EXPECT_EQ(d->order.size(), 2u);
}

TEST_F(LearnedPolicyTest, FailsUnavailableWhenNoCandidateIs) {
  auto p = policy();
  for (auto& c : cands_) c.available = false;
  auto d = decide(*p, kHard);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, ErrorCode::kUnavailable);
}

TEST_F(LearnedPolicyTest, FillsOrderKnobPredictionsAndReason) {
  auto p = policy();
  auto d = decide(*p, kHard, 0.99);
  ASSERT_TRUE(d);
  ASSERT_EQ(d->order.size(), 3u);
  ASSERT_EQ(d->predicted_quality.size(), 3u);
  // Fallbacks: most likely to succeed first.
  EXPECT_GE(d->predicted_quality[d->order[1]], d->predicted_quality[d->order[2]]);
  EXPECT_GE(d->knob, 0.0);
  EXPECT_LE(d->knob, 1.0);
  EXPECT_NE(d->reason.find("big"), std::string::npos) << d->reason;
  EXPECT_EQ(p->name(), "learned");
}

TEST_F(LearnedPolicyTest, UsesConfigPricesWhenEveryCandidateHasOne) {
  auto p = policy();
  // Config says the big model is the cheapest: at a low target it is now the pick.
  cands_[0].est_cost = 500;
  cands_[1].est_cost = 400;
  cands_[2].est_cost = 10;
  auto d = decide(*p, kHard, 0.3);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->order[0], 2u);
  EXPECT_NE(d->reason.find("config prices"), std::string::npos);
}

TEST_F(LearnedPolicyTest, RejectsACandidateTheRouterDoesNotKnow) {
  addModel("stranger", "gpt-9");
  route_.candidates.push_back("stranger");
  auto p = makeLearnedPolicyFromRouter({cfg_, route_}, *router_);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(p.error().message.find("stranger"), std::string::npos);
}

TEST_F(LearnedPolicyTest, FactoryReportsAMissingRouterFileByPath) {
  route_.router = "/nonexistent/auto.rsr";
  auto p = makePolicy({cfg_, route_});
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("/nonexistent/auto.rsr"), std::string::npos) << p.error().message;
  EXPECT_NE(p.error().message.find("auto"), std::string::npos);
}

TEST_F(LearnedPolicyTest, FactoryLoadsTheRoutesRouterFile) {
  route_.router = ::testing::TempDir() + "/rs_learned_policy_test.rsr";
  ASSERT_TRUE((*router_)->save(route_.router));
  auto p = makePolicy({cfg_, route_});
  ASSERT_TRUE(p) << p.error().message;
  auto d = decide(**p, kHard, 0.99);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->order[0], 2u);
}

TEST_F(LearnedPolicyTest, FactoryNeedsARouterPath) {
  route_.router.clear();
  auto p = makePolicy({cfg_, route_});
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("router"), std::string::npos);
}


// cascade.pre_route: a staged cascade over tiny -> medium -> big with this fixture's router.
config::RouteConfig preRoutedCascade(const config::RouteConfig& base, const std::string& router_path, double direct_above,
                                     double escalate_below) {
  config::RouteConfig r = base;
  r.policy = "cascade";
  for (const std::string& m : r.candidates) {
    config::CascadeStage s;
    s.models = {m};
    r.cascade.stages.push_back(s);
  }
  r.cascade.pre_route = config::CascadePreRoute{router_path, direct_above, escalate_below, 1};
  return r;
}

TEST_F(LearnedPolicyTest, PreRoutedCascadeSendsTheEasyPromptDirectAndTheHardOneToTheLastStage) {
  const std::string path = ::testing::TempDir() + "/rs_pre_route_test.rsr";
  ASSERT_TRUE((*router_)->save(path));
  auto c = makeCascade({cfg_, preRoutedCascade(route_, path, 0.7, 0.6)});
  ASSERT_TRUE(c) << c.error().message;
  const CascadePreRouter* pr = (*c)->preRouter();
  ASSERT_NE(pr, nullptr);
  const CascadePlan& plan = *(*c)->plan();
  EXPECT_EQ(pr->decide(plan, kEasy).decision, PreRouteChoice::Decision::kDirect);
  EXPECT_EQ(pr->decide(plan, kHard).decision, PreRouteChoice::Decision::kEscalate);
  std::vector<double> p;
  pr->probabilities(kHard, p);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_LT(p[0], p[2]);  // tiny (router model "small", by provider id) is less likely than big
  // Without thresholds met, the normal cascade.
  auto normal = makeCascade({cfg_, preRoutedCascade(route_, path, 0.999, 0.001)});
  ASSERT_TRUE(normal);
  EXPECT_EQ((*normal)->preRouter()->decide(*(*normal)->plan(), kHard).decision, PreRouteChoice::Decision::kNormal);
}

TEST_F(LearnedPolicyTest, PreRouteRejectsAStageModelTheRouterDoesNotKnowAndAMissingFile) {
  const std::string path = ::testing::TempDir() + "/rs_pre_route_test2.rsr";
  ASSERT_TRUE((*router_)->save(path));
  addModel("stranger", "gpt-9");
  route_.candidates.push_back("stranger");
  auto c = makeCascade({cfg_, preRoutedCascade(route_, path, 0.9, 0.1)});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(c.error().message.find("'stranger'"), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find(path), std::string::npos) << c.error().message;
  auto missing = makeCascade({cfg_, preRoutedCascade(route_, "/nonexistent/pre.rsr", 0.9, 0.1)});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("/nonexistent/pre.rsr"), std::string::npos) << missing.error().message;
  EXPECT_NE(missing.error().message.find("pre_route"), std::string::npos) << missing.error().message;
}

}  // namespace
}  // namespace rightsize::routing
