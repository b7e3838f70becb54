// routes.<name>.shadow and server.shadow_queue (docs/shadow.md): values read, defaults, and
// mistakes reported with the field and line.
#include <gtest/gtest.h>

#include "config_test_util.h"

namespace rightsize::config {
namespace {

using testing::errorOf;
using testing::kMinimalModels;
using testing::parse;
using testing::withRoutes;


TEST(ConfigShadow, ReadsAgreeAndJudgeShadowsAndTheQueueSize) {
  auto cfg = parse(std::string("server: {shadow_queue: 32}\n") + withRoutes(R"(  a:
    candidates: [small, big]
    shadow:
      sample: 0.05
      model: big
      grade: {kind: agree, extract: "json:answer"}
      usd_per_day: 5
  j:
    candidates: [small]
    shadow: {sample: 1, model: big, grade: {kind: judge, model: small}, usd_per_day: 0.25}
)"));
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->server.shadow_queue, 32u);
  const ShadowConfig& a = *cfg->routes.at("a").shadow;
  EXPECT_DOUBLE_EQ(a.sample, 0.05);
  EXPECT_EQ(a.model, "big");
  EXPECT_EQ(a.grade.kind, ShadowGradeConfig::Kind::kAgree);
  EXPECT_EQ(a.grade.extract, "json:answer");
  EXPECT_EQ(a.usd_per_day, 5'000'000'000);
  const ShadowConfig& j = *cfg->routes.at("j").shadow;
  EXPECT_EQ(j.grade.kind, ShadowGradeConfig::Kind::kJudge);
  EXPECT_EQ(j.grade.judge_model, "small");
  EXPECT_EQ(j.usd_per_day, 250'000'000);
}

TEST(ConfigShadow, DefaultsToTheReferenceModelTextExtractorAndQueueOf256) {
  auto cfg = parse(withRoutes(R"(  a:
    candidates: [small, big]
    shadow: {sample: 0.5, grade: {kind: agree}, usd_per_day: 1}
  plain: {candidates: [small]}
)"));
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->server.shadow_queue, 256u);
  EXPECT_EQ(cfg->routes.at("a").shadow->model, "big");  // the route's reference: its last candidate
  EXPECT_EQ(cfg->routes.at("a").shadow->grade.extract, "text");
  EXPECT_FALSE(cfg->routes.at("plain").shadow);
}

TEST(ConfigShadow, RejectsMistakesNamingTheFieldAndLine) {
  auto err = [](const std::string& shadow) {
    return errorOf(withRoutes("  a:\n    candidates: [small]\n    shadow: " + shadow + "\n"));
  };
  EXPECT_EQ(err("{sample: 0.1, model: gpt-9, grade: {kind: agree}, usd_per_day: 1}"),
            "config.yaml:9: routes.a.shadow.model: unknown model 'gpt-9'");
  EXPECT_EQ(err("{sample: 1.5, grade: {kind: agree}, usd_per_day: 1}"),
            "config.yaml:9: routes.a.shadow.sample: must be in [0, 1], got 1.5");
  EXPECT_EQ(err("{sample: -0.1, grade: {kind: agree}, usd_per_day: 1}"),
            "config.yaml:9: routes.a.shadow.sample: must be in [0, 1], got -0.1");
  EXPECT_EQ(err("{sample: 0.1, grade: {kind: agree}, usd_per_day: -1}"),
            "config.yaml:9: routes.a.shadow.usd_per_day: must be in [0, 1000000], got -1");
  EXPECT_EQ(err("{grade: {kind: agree}, usd_per_day: 1}"),
            "config.yaml:9: routes.a.shadow: missing required key 'sample' (0..1)");
  EXPECT_EQ(err("{sample: 0.1, grade: {kind: agree}}"),
            "config.yaml:9: routes.a.shadow: missing required key 'usd_per_day' (the daily shadow spend cap)");
  EXPECT_EQ(err("{sample: 0.1, grade: {kind: judge}, usd_per_day: 1}"),
            "config.yaml:9: routes.a.shadow.grade: missing required key 'model' for kind judge");
  EXPECT_EQ(err("{sample: 0.1, grade: {kind: judge, model: nope}, usd_per_day: 1}"),
            "config.yaml:9: routes.a.shadow.grade.model: unknown model 'nope'");
  EXPECT_EQ(err("{sample: 0.1, grade: {kind: vote}, usd_per_day: 1}").find("routes.a.shadow.grade.kind"),
            std::string("config.yaml:9: ").size());
  EXPECT_NE(err("{sample: 0.1, grade: {kind: agree, model: big}, usd_per_day: 1}").find("routes.a.shadow.grade"),
            std::string::npos);
  EXPECT_NE(err("{sample: 0.1, grade: {kind: agree}, usd_per_day: 1, smaple: 2}").find("unknown key 'smaple'"),
            std::string::npos);
  EXPECT_NE(errorOf(std::string("server: {shadow_queue: 0}\n") + kMinimalModels).find("server.shadow_queue"),
            std::string::npos);
}

}  // namespace
}  // namespace rightsize::config
