#include <gtest/gtest.h>

#include "routing/policy.h"
#include "routing/session_pins.h"

namespace rightsize::routing {
namespace {

struct Fixture {
  config::Config cfg;
  config::RouteConfig route;
  std::vector<CandidateState> states;

  Fixture() {
    for (const char* n : {"small", "big"}) {
      config::ModelConfig m;
      m.name = n;
      cfg.models[n] = m;
    }
    cfg.source = "t.yaml";
    route.name = "r";
    route.policy = "rules";
    route.candidates = {"small", "big"};
    for (const auto& n : route.candidates) {
      CandidateState s;
      s.model = &cfg.models.at(n);
      states.push_back(s);
    }
  }
  config::RouteRule& add(std::string model, std::string to_route = "") {
    config::RouteRule r;
    r.model = std::move(model);
    r.route = std::move(to_route);
    r.line = 10 + static_cast<int>(route.rules.size());
    route.rules.push_back(std::move(r));
    return route.rules.back();
  }
  std::unique_ptr<Policy> policy() {
    auto p = makePolicy(PolicyContext{cfg, route});
    EXPECT_TRUE(p) << (p ? "" : p.error().message);
    return p ? std::move(*p) : nullptr;
  }
};

TEST(RulesPolicy, FirstMatchingRuleWinsOnMetadataHeadersTokensAndAsk) {
  Fixture f;
  f.add("big").when.metadata = {{"tier", "premium"}};
  f.add("big").when.headers = {{"x-team", "*"}};
  f.add("big").when.ask = "(?i)prove|theorem";
  f.add("big").when.min_tokens = 1000;
  f.add("small");
  auto p = f.policy();
  ASSERT_TRUE(p);

  std::vector<std::pair<std::string, std::string>> meta = {{"tier", "premium"}};
  RequestFacts facts;
  facts.metadata = meta;
  auto d = p->decide(DecisionInput{"hello", f.states, std::nullopt, &facts});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->order.front(), 1u);

  RequestFacts plain;
  plain.prompt_tokens = 5;
  d = p->decide(DecisionInput{"hello", f.states, std::nullopt, &plain});
  EXPECT_EQ(d->order.front(), 0u) << d->reason;
  d = p->decide(DecisionInput{"Prove the theorem", f.states, std::nullopt, &plain});
  EXPECT_EQ(d->order.front(), 1u);

  RequestFacts team;
  team.header = [](std::string_view n) -> std::optional<std::string_view> {
    if (n == "x-team") return std::string_view("ml");
    return std::nullopt;
  };
  d = p->decide(DecisionInput{"hello", f.states, std::nullopt, &team});
  EXPECT_EQ(d->order.front(), 1u);

  RequestFacts longp;
  longp.prompt_tokens = 5000;
  d = p->decide(DecisionInput{"hello", f.states, std::nullopt, &longp});
  EXPECT_EQ(d->order.front(), 1u);
  EXPECT_EQ(d->order.size(), 2u);  // the other candidate stays as a fallback
}

TEST(RulesPolicy, HandsOffToARouteAndSkipsUnavailableModels) {
  Fixture f;
  f.add("", "other").when.user = "vip";
  f.add("big").when.sensitive = false;
  auto p = f.policy();
  ASSERT_TRUE(p);
  RequestFacts vip;
  vip.user = "vip";
  auto d = p->decide(DecisionInput{"x", f.states, std::nullopt, &vip});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->route, "other");

  f.states[1].available = false;  // big's circuit is open: no rule can use it
  RequestFacts anyone;
  d = p->decide(DecisionInput{"x", f.states, std::nullopt, &anyone});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->order, std::vector<size_t>{0});
}

TEST(RulesPolicy, BadPatternAndMissingRulesAreConfigErrors) {
  Fixture f;
  f.add("big").when.ask = "(unclosed";
  auto p = makePolicy(PolicyContext{f.cfg, f.route});
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("t.yaml:10: routes.r.rules[0].when.ask"), std::string::npos) << p.error().message;
  Fixture g;
  EXPECT_FALSE(makePolicy(PolicyContext{g.cfg, g.route}));
  g.route.policy = "cheapest";
  g.add("big");
  EXPECT_FALSE(makePolicy(PolicyContext{g.cfg, g.route}));  // rules on a non-rules route
}

TEST(CascadePolicy, OrdersAvailableCandidatesCheapestFirst) {
  Fixture f;
  f.route.policy = "cascade";
  f.states[0].est_cost = 50;
  f.states[1].est_cost = 5;
  auto p = f.policy();
  ASSERT_TRUE(p);
  auto d = p->decide(DecisionInput{"x", f.states, std::nullopt, nullptr});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->order, (std::vector<size_t>{1, 0}));
}

TEST(MemorySessionPins, PinsExpireAfterTheirTtlAndRefreshOnUse) {
  auto now = std::chrono::steady_clock::time_point{};
  MemorySessionPins pins(std::chrono::milliseconds(100), 10, [&] { return now; });
  pins.put("r", "s1", "big");
  EXPECT_EQ(pins.get("r", "s1"), "big");
  EXPECT_FALSE(pins.get("other-route", "s1"));
  now += std::chrono::milliseconds(90);
  EXPECT_EQ(pins.get("r", "s1"), "big");  // refreshed: lives until 190
  now += std::chrono::milliseconds(90);
  EXPECT_EQ(pins.get("r", "s1"), "big");
  now += std::chrono::milliseconds(101);
  EXPECT_FALSE(pins.get("r", "s1"));
  EXPECT_EQ(pins.size(), 0u);
}

TEST(MemorySessionPins, IsBoundedEvictingTheLeastRecentlyUsed) {
  auto now = std::chrono::steady_clock::time_point{};
  MemorySessionPins pins(std::chrono::hours(1), 2, [&] { return now; });
  pins.put("r", "a", "m1");
  pins.put("r", "b", "m2");
  EXPECT_TRUE(pins.get("r", "a"));  // a is now the most recent
  pins.put("r", "c", "m3");
  EXPECT_EQ(pins.size(), 2u);
  EXPECT_TRUE(pins.get("r", "a"));
  EXPECT_FALSE(pins.get("r", "b"));
  EXPECT_TRUE(pins.get("r", "c"));
  pins.erase("r", "a");
  EXPECT_FALSE(pins.get("r", "a"));
}

}  // namespace
}  // namespace rightsize::routing
