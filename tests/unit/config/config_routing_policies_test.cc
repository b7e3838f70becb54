// Route sub-sections (cascade, rules, budget, model_budgets, pii_detection, pin_sessions) and the
// privacy and sessions sections: values read, and mistakes reported with their line.
#include <gtest/gtest.h>

#include "config_test_util.h"

namespace rightsize::config {
namespace {

using testing::errorOf;
using testing::kMinimalModels;
using testing::parse;
using testing::withRoutes;


TEST(ConfigRoutingPolicies, ReadsCascadeRulesBudgetsPrivacyAndSessions) {
  auto cfg = parse(withRoutes(R"(  c:
    policy: cascade
    candidates: [small, big]
    cascade:
      max_attempts: 2
      checks:
        - {kind: not_refusal}
        - {kind: regex, pattern: '^\d+$'}
        - {kind: json_schema, schema: '{"type": "object"}'}
        - {kind: logprob, min_mean_logprob: -0.7}
        - {kind: judge, model: big, min_score: 0.6}
    budget: {max_completion_tokens: 512, reasoning_effort: medium}
    model_budgets: {big: {reasoning_effort: low}}
    pii_detection: false
    pin_sessions: false
  r:
    policy: rules
    candidates: [small, big]
    rules:
      - when: {metadata: {tier: premium}, headers: {X-Team: ml}, user: "*", sensitive: false, min_tokens: 10, max_tokens: 99, ask: "(?i)prove"}
        model: big
      - {route: c}
privacy: {pii_detection: true, kinds: [email, secret]}
sessions: {ttl_ms: 5000, use_openai_user: true, max_entries: 10}
)"));
  ASSERT_TRUE(cfg) << cfg.error().message;
  const RouteConfig& c = cfg->routes.at("c");
  ASSERT_EQ(c.cascade.checks.size(), 5u);
  EXPECT_EQ(c.cascade.max_attempts, 2u);
  EXPECT_EQ(c.cascade.checks[1].kind, CascadeCheck::Kind::kRegex);
  EXPECT_EQ(c.cascade.checks[1].pattern, "^\\d+$");
  EXPECT_EQ(c.cascade.checks[2].schema, R"({"type": "object"})");
  EXPECT_DOUBLE_EQ(c.cascade.checks[3].min_mean_logprob, -0.7);
  EXPECT_EQ(c.cascade.checks[4].judge_model, "big");
  EXPECT_DOUBLE_EQ(c.cascade.checks[4].min_score, 0.6);
  EXPECT_EQ(c.cascade.checks[4].line, 17);
  EXPECT_EQ(c.budget.max_completion_tokens, 512);
  EXPECT_EQ(c.budget.reasoning_effort, "medium");
  EXPECT_EQ(c.model_budgets.at("big").reasoning_effort, "low");
  EXPECT_EQ(c.pii_detection, false);
  EXPECT_FALSE(c.pin_sessions);
  const RouteConfig& r = cfg->routes.at("r");
  ASSERT_EQ(r.rules.size(), 2u);
  EXPECT_EQ(r.rules[0].model, "big");
  EXPECT_EQ(r.rules[0].when.metadata.at("tier"), "premium");
  EXPECT_EQ(r.rules[0].when.headers.at("x-team"), "ml");  // names folded to lower case
  EXPECT_EQ(r.rules[0].when.user, "*");
  EXPECT_EQ(r.rules[0].when.sensitive, false);
  EXPECT_EQ(r.rules[0].when.min_tokens, 10);
  EXPECT_EQ(r.rules[0].when.max_tokens, 99);
  EXPECT_EQ(r.rules[1].route, "c");
  EXPECT_EQ(cfg->privacy.kinds, (std::vector<std::string>{"email", "secret"}));
  EXPECT_EQ(cfg->sessions.ttl, Millis(5000));
  EXPECT_TRUE(cfg->sessions.use_openai_user);
  EXPECT_EQ(cfg->sessions.max_entries, 10u);
}

TEST(ConfigRoutingPolicies, DefaultsArePiiOnAndPinningOn) {
  auto cfg = parse(withRoutes("  a: {candidates: [small]}\n"));
  ASSERT_TRUE(cfg);
  EXPECT_TRUE(cfg->privacy.pii_detection);
  EXPECT_TRUE(cfg->routes.at("a").pin_sessions);
  EXPECT_FALSE(cfg->routes.at("a").pii_detection);
  EXPECT_EQ(cfg->sessions.ttl, Millis(30 * 60 * 1000));
}

TEST(ConfigRoutingPolicies, MistakesNameTheirLine) {
  // kMinimalModels is 5 lines; "routes:" is line 6; the route starts on 7.
  EXPECT_EQ(errorOf(withRoutes("  a:\n    candidates: [small]\n    cascade: {checks: [{kind: regexp}]}\n")),
            "config.yaml:9: routes.a.cascade.checks[0].kind: must be one of json_schema, regex, not_refusal, logprob, "
            "judge; got 'regexp'");
  EXPECT_EQ(errorOf(withRoutes("  a:\n    candidates: [small]\n    cascade:\n      checks:\n        - {kind: regex}\n")),
            "config.yaml:11: routes.a.cascade.checks[0]: missing required key 'pattern' for kind regex");
  EXPECT_EQ(errorOf(withRoutes("  a:\n    candidates: [small]\n    cascade: {checks: [{kind: judge, model: nope}]}\n")),
            "config.yaml:9: routes.a.cascade.checks[0].model: unknown model 'nope'");
  EXPECT_EQ(errorOf(withRoutes("  a:\n    candidates: [small]\n    cascade: {checks: [{kind: not_refusal, pattern: x}]}\n")),
            "config.yaml:9: routes.a.cascade.checks[0]: 'pattern' is not valid for kind not_refusal (valid: kind)");
  EXPECT_EQ(errorOf(withRoutes("  a:\n    candidates: [small]\n    policy: rules\n    rules:\n      - {model: big}\n")),
            "config.yaml:11: routes.a.rules[0].model: 'big' is not one of this route's candidates");
  EXPECT_EQ(errorOf(withRoutes("  a:\n    candidates: [small]\n    policy: rules\n    rules:\n      - {model: small, route: b}\n")),
            "config.yaml:11: routes.a.rules[0]: a rule names exactly one target: 'model' or 'route'");
  EXPECT_EQ(errorOf(withRoutes("  a:\n    candidates: [small]\n    policy: rules\n    rules:\n      - {route: nowhere}\n")),
            "config.yaml:11: routes.a.rules[0].route: unknown route 'nowhere'");
  EXPECT_EQ(errorOf(withRoutes("  a:\n    candidates: [small]\n    policy: rules\n    rules:\n      - {route: a}\n")),
            "config.yaml:11: routes.a.rules[0].route: route 'a' is itself a rules route (one hop only)");
  EXPECT_EQ(errorOf(withRoutes("  a:\n    candidates: [small]\n    policy: rules\n    rules:\n      - when: {min_tokens: 9, max_tokens: 2}\n        model: small\n")),
            "config.yaml:11: routes.a.rules[0].when: min_tokens must be <= max_tokens");
  EXPECT_EQ(errorOf(withRoutes("  a:\n    candidates: [small]\n    budget: {reasoning_effort: extreme}\n")),
            "config.yaml:9: routes.a.budget.reasoning_effort: must be one of minimal, low, medium, high; got 'extreme'");
  EXPECT_EQ(errorOf(withRoutes("  a:\n    candidates: [small]\n    pii_detection: maybe\n")),
            "config.yaml:9: routes.a.pii_detection: expected true or false, got 'maybe'");
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "privacy: {kinds: [email, dna]}\n"),
            "config.yaml:6: privacy.kinds[1]: must be one of email, phone, payment_card, iban, national_id, secret; got 'dna'");
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "sessions: {ttl: 5}\n"),
            "config.yaml:6: unknown key 'ttl' in sessions (known: ttl_ms, use_openai_user, max_entries)");
}

TEST(ConfigRoutingPolicies, ReadsCascadeStages) {
  auto cfg = parse(withRoutes(R"(  c:
    policy: cascade
    candidates: [small, big]
    cascade:
      stages:
        - {kind: agree, models: [small, big], min_votes: 2, extract: "json:answer"}
        - {kind: model, model: big}
)"));
  ASSERT_TRUE(cfg) << cfg.error().message;
  const auto& st = cfg->routes.at("c").cascade.stages;
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0].kind, CascadeStage::Kind::kAgree);
  EXPECT_EQ(st[0].models, (std::vector<std::string>{"small", "big"}));
  EXPECT_EQ(st[0].min_votes, 2u);
  EXPECT_EQ(st[0].extract, "json:answer");
  EXPECT_EQ(st[0].line, 12);
  EXPECT_EQ(st[1].kind, CascadeStage::Kind::kModel);
  EXPECT_EQ(st[1].models, std::vector<std::string>{"big"});
}

TEST(ConfigRoutingPolicies, RejectsBadCascadeStagesWithTheirLine) {
  const auto stage = [](const std::string& s) {
    return errorOf(withRoutes("  c:\n    policy: cascade\n    candidates: [small, big]\n    cascade:\n      stages:\n        - " + s + "\n"));
  };
  EXPECT_NE(stage("{kind: agree, models: [small, nope], extract: number}").find("unknown model 'nope'"), std::string::npos);
  EXPECT_NE(stage("{kind: agree, models: [small, big], min_votes: 3, extract: number}").find("min_votes 3 is more than"),
            std::string::npos);
  EXPECT_NE(stage("{kind: agree, models: [small], extract: number}").find("at least two"), std::string::npos);
  EXPECT_NE(stage("{kind: agree, models: [small, big]}").find("missing required key 'extract'"), std::string::npos);
  EXPECT_NE(stage("{kind: model}").find("missing required key 'model'"), std::string::npos);
  EXPECT_NE(stage("{kind: model, model: big, extract: number}").find("not valid for stage kind model"), std::string::npos);
  EXPECT_NE(stage("{kind: vote, model: big}").find("kind"), std::string::npos);
  const std::string not_candidate = errorOf(std::string(kMinimalModels) +
      "  third: {provider: up}\nroutes:\n  c:\n    policy: cascade\n    candidates: [small, big]\n    cascade:\n      stages:\n        - {kind: model, model: third}\n");
  EXPECT_NE(not_candidate.find("not a candidate of the route"), std::string::npos) << not_candidate;
  EXPECT_NE(not_candidate.find("config.yaml:"), std::string::npos);
}


TEST(ConfigRoutingPolicies, ReadsAndChecksCascadePreRoute) {
  const std::string head = "  c:\n    policy: cascade\n    candidates: [small, big]\n    cascade:\n"
                           "      stages:\n        - {kind: model, model: small}\n        - {kind: model, model: big}\n";
  auto cfg = parse(withRoutes(head + "      pre_route: {router: r.rsr, direct_above: 0.85, escalate_below: 0.15}\n"));
  ASSERT_TRUE(cfg) << cfg.error().message;
  const auto& pr = cfg->routes.at("c").cascade.pre_route;
  ASSERT_TRUE(pr);
  EXPECT_NE(pr->router.find("r.rsr"), std::string::npos);
  EXPECT_EQ(pr->direct_above, 0.85);
  EXPECT_EQ(pr->escalate_below, 0.15);
  auto only_direct = parse(withRoutes(head + "      pre_route: {router: r.rsr, direct_above: 0.9}\n"));
  ASSERT_TRUE(only_direct) << only_direct.error().message;
  EXPECT_FALSE(only_direct->routes.at("c").cascade.pre_route->escalate_below);
  const auto err = [&](const std::string& pre) { return errorOf(withRoutes(head + "      pre_route: " + pre + "\n")); };
  EXPECT_NE(err("{router: r.rsr, direct_above: 1.5}").find("must be a probability in [0, 1], got 1.5"), std::string::npos);
  EXPECT_NE(err("{router: r.rsr, escalate_below: -0.1}").find("escalate_below"), std::string::npos);
  EXPECT_NE(err("{router: r.rsr, direct_above: 0.2, escalate_below: 0.2}").find("must be greater than escalate_below"),
            std::string::npos);
  EXPECT_NE(err("{direct_above: 0.9}").find("missing required key 'router'"), std::string::npos);
  EXPECT_NE(err("{router: r.rsr, above: 0.9}").find("unknown key 'above'"), std::string::npos);
  const std::string no_stages = errorOf(withRoutes(
      "  c:\n    policy: cascade\n    candidates: [small, big]\n    cascade:\n      pre_route: {router: r.rsr}\n"));
  EXPECT_NE(no_stages.find("pre_route needs 'stages'"), std::string::npos) << no_stages;
}

}  // namespace
}  // namespace rightsize::config
