#include <gtest/gtest.h>

#include "routing/policy.h"

namespace rightsize::routing {
namespace {

class SimplePolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto [name, cost] : {std::pair<const char*, Nanos>{"big", 900}, {"small", 10}, {"mid", 100}}) {
      config::ModelConfig m;
      m.name = name;
      models_.push_back(m);
      costs_.push_back(cost);
    }
    route_.name = "r";
    route_.candidates = {"big", "small", "mid"};
  }
  std::vector<CandidateState> states(std::vector<bool> available) {
    std::vector<CandidateState> out;
    for (size_t i = 0; i < models_.size(); ++i) out.push_back(CandidateState{&models_[i], available[i], false, costs_[i]});
    return out;
  }
  Result<Decision> decide(const std::string& policy, std::vector<bool> available) {
    route_.policy = policy;
    auto p = makePolicy(PolicyContext{cfg_, route_});
    EXPECT_TRUE(p) << (p ? "" : p.error().message);
    auto st = states(std::move(available));
    return (*p)->decide(DecisionInput{"ask", st, std::nullopt});
  }
  config::Config cfg_;
  config::RouteConfig route_;
  std::vector<config::ModelConfig> models_;
  std::vector<Nanos> costs_;
};

TEST_F(SimplePolicyTest, FixedPicksTheFirstCandidateAndKeepsConfiguredOrder) {
  auto d = decide("fixed", {true, true, true});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->order, (std::vector<size_t>{0, 1, 2}));
}

TEST_F(SimplePolicyTest, FixedSkipsACandidateWhoseCircuitIsOpen) {
  auto d = decide("fixed", {false, true, true});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->order, (std::vector<size_t>{1, 2}));
}

TEST_F(SimplePolicyTest, CheapestOrdersAvailableCandidatesByEstimatedCost) {
  auto d = decide("cheapest", {true, true, true});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->order, (std::vector<size_t>{1, 2, 0}));
  auto e = decide("cheapest", {true, false, true});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->order, (std::vector<size_t>{2, 0}));
}

TEST_F(SimplePolicyTest, NoAvailableCandidateIsUnavailable) {
  for (const char* p : {"fixed", "cheapest"}) {
    auto d = decide(p, {false, false, false});
    ASSERT_FALSE(d) << p;
    EXPECT_EQ(d.error().code, ErrorCode::kUnavailable);
  }
}

TEST(PolicyRegistry, UnknownPolicyNamesTheKnownOnes) {
  config::Config cfg;
  config::RouteConfig route;
  route.name = "r";
  route.policy = "magic";
  auto p = makePolicy(PolicyContext{cfg, route});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(p.error().message.find("unknown policy 'magic'"), std::string::npos);
  EXPECT_NE(p.error().message.find("cheapest"), std::string::npos);
}

}  // namespace
}  // namespace rightsize::routing
