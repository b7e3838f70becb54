#include <gtest/gtest.h>

#include "routing/checks.h"

namespace rightsize::routing {
namespace {

// An answer with just this text (no refusal field, no tool calls, no logprobs).
AnswerView answer(std::string text) {
  AnswerView a;
  a.text = std::move(text);
  return a;
}

std::string completion(std::string_view content_json, std::string_view extra = "") {
  return std::string(R"({"choices":[{"index":0,"message":{"role":"assistant","content":)") + std::string(content_json) +
         R"(},"finish_reason":"stop")" + std::string(extra) + "}]}";
}

config::CascadeCheck check(config::CascadeCheck::Kind k) {
  config::CascadeCheck c;
  c.kind = k;
  c.line = 7;
  return c;
}

TEST(ParseAnswer, ReadsContentRefusalAndMeanLogprob) {
  auto a = parseAnswer(completion(R"("hi")", R"(,"logprobs":{"content":[{"token":"h","logprob":-0.5},{"token":"i","logprob":-1.5}]})"));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->text, "hi");
  ASSERT_TRUE(a->mean_logprob);
  EXPECT_DOUBLE_EQ(*a->mean_logprob, -1.0);
  EXPECT_FALSE(parseAnswer("not json"));
  EXPECT_FALSE(parseAnswer(R"({"choices":[]})"));
  auto r = parseAnswer(R"({"choices":[{"message":{"content":null,"refusal":"no"}}]})");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->refusal_field);
}

TEST(Refusal, RecognisesOpeningsNotDiscussions) {
  EXPECT_TRUE(looksLikeRefusal("I can't help with that."));
  EXPECT_TRUE(looksLikeRefusal("I'm sorry, but I cannot assist with this request."));
  EXPECT_TRUE(looksLikeRefusal("As an AI language model, I do not have opinions."));
  EXPECT_TRUE(looksLikeRefusal("  Unfortunately, I'm unable to provide that."));
  EXPECT_FALSE(looksLikeRefusal("Paris is the capital of France."));
  EXPECT_FALSE(looksLikeRefusal("Here is why a model might say \"I can't help with that\": ..."));
}

TEST(JudgeScore, AcceptsIntegersZeroToTenOnly) {
  EXPECT_DOUBLE_EQ(*parseJudgeScore("8"), 0.8);
  EXPECT_DOUBLE_EQ(*parseJudgeScore(" 10/10\n"), 1.0);
  EXPECT_DOUBLE_EQ(*parseJudgeScore("0."), 0.0);
  EXPECT_FALSE(parseJudgeScore("banana"));
  EXPECT_FALSE(parseJudgeScore("11"));
  EXPECT_FALSE(parseJudgeScore("8 because it is good"));
  EXPECT_FALSE(parseJudgeScore(""));
  EXPECT_NE(judgePrompt("the ask", "the answer").find("<ANSWER>\nthe answer\n</ANSWER>"), std::string::npos);
}

TEST(AnswerChecks, RegexPassesAndFails) {
  config::CascadeConfig cfg;
  auto c = check(config::CascadeCheck::Kind::kRegex);
  c.pattern = R"(^\d+$)";
  cfg.checks.push_back(c);
  auto checks = AnswerChecks::make(cfg, "t.yaml", "r");
  ASSERT_TRUE(checks);
  EXPECT_TRUE((*checks)->runLocal(answer("42"), "").pass);
  auto v = (*checks)->runLocal(answer("forty-two"), "");
  EXPECT_FALSE(v.pass);
  EXPECT_EQ(v.failed, "regex");
}

TEST(AnswerChecks, BadPatternIsAConfigErrorWithLine) {
  config::CascadeConfig cfg;
  auto c = check(config::CascadeCheck::Kind::kRegex);
  c.pattern = "(unclosed";
  cfg.checks.push_back(c);
  auto checks = AnswerChecks::make(cfg, "t.yaml", "r");
  ASSERT_FALSE(checks);
  EXPECT_NE(checks.error().message.find("t.yaml:7: routes.r.cascade.checks[0]"), std::string::npos) << checks.error().message;
}

TEST(AnswerChecks, JsonSchemaFromConfigFromRequestOrJustJson) {
  config::CascadeConfig cfg;
  auto c = check(config::CascadeCheck::Kind::kJsonSchema);
  c.schema = R"({"type":"object","required":["city"],"properties":{"city":{"type":"string"}}})";
  cfg.checks.push_back(c);
  auto checks = AnswerChecks::make(cfg, "t.yaml", "r");
  ASSERT_TRUE(checks) << checks.error().message;
  EXPECT_TRUE((*checks)->runLocal(answer(R"({"city":"Paris"})"), "").pass);
  EXPECT_TRUE((*checks)->runLocal(answer("```json\n{\"city\":\"Paris\"}\n```"), "").pass);
  auto v = (*checks)->runLocal(answer(R"({"city":3})"), "");
  EXPECT_FALSE(v.pass);
  EXPECT_EQ(v.failed, "json_schema");
  EXPECT_FALSE((*checks)->runLocal(answer("Paris"), "").pass);

  config::CascadeConfig bare;
  bare.checks.push_back(check(config::CascadeCheck::Kind::kJsonSchema));
  auto b = AnswerChecks::make(bare, "t.yaml", "r");
  ASSERT_TRUE(b);
  const std::string req_schema = R"({"type":"array","items":{"type":"integer"}})";
  EXPECT_TRUE((*b)->runLocal(answer("[1,2]"), req_schema).pass);
  EXPECT_FALSE((*b)->runLocal(answer(R"(["x"])"), req_schema).pass);
  EXPECT_TRUE((*b)->runLocal(answer(R"(["x"])"), "").pass);  // no schema anywhere: any JSON
  EXPECT_FALSE((*b)->runLocal(answer("not json"), "").pass);
}

TEST(AnswerChecks, InvalidSchemaIsAConfigError) {
  config::CascadeConfig cfg;
  auto c = check(config::CascadeCheck::Kind::kJsonSchema);
  c.schema = R"({"type": 12})";
  cfg.checks.push_back(c);
  EXPECT_FALSE(AnswerChecks::make(cfg, "t.yaml", "r"));
  c.schema = "{not json";
  cfg.checks = {c};
  EXPECT_FALSE(AnswerChecks::make(cfg, "t.yaml", "r"));
}

TEST(AnswerChecks, LogprobAppliesOnlyWhenPresent) {
  config::CascadeConfig cfg;
  auto c = check(config::CascadeCheck::Kind::kLogprob);
  c.min_mean_logprob = -0.5;
  cfg.checks.push_back(c);
  auto checks = AnswerChecks::make(cfg, "t.yaml", "r");
  ASSERT_TRUE(checks);
  EXPECT_TRUE((*checks)->wantsLogprobs());
  AnswerView sure = answer("x");
  sure.mean_logprob = -0.1;
  AnswerView unsure = answer("x");
  unsure.mean_logprob = -2.0;
  EXPECT_TRUE((*checks)->runLocal(sure, "").pass);
  EXPECT_EQ((*checks)->runLocal(unsure, "").failed, "logprob");
  EXPECT_TRUE((*checks)->runLocal(answer("x"), "").pass);
}

TEST(AnswerChecks, NotRefusalAndJudgeIsLeftToTheGateway) {
  config::CascadeConfig cfg;
  cfg.checks.push_back(check(config::CascadeCheck::Kind::kNotRefusal));
  auto j = check(config::CascadeCheck::Kind::kJudge);
  j.judge_model = "judge";
  cfg.checks.push_back(j);
  auto checks = AnswerChecks::make(cfg, "t.yaml", "r");
  ASSERT_TRUE(checks);
  ASSERT_NE((*checks)->judge(), nullptr);
  EXPECT_EQ((*checks)->judge()->judge_model, "judge");
  EXPECT_TRUE((*checks)->runLocal(answer("Sure: 4."), "").pass);
  EXPECT_EQ((*checks)->runLocal(answer("I cannot help with that."), "").failed, "not_refusal");
  EXPECT_EQ((*checks)->runLocal(answer(""), "").failed, "not_refusal");
  AnswerView refused = answer("ok");
  refused.refusal_field = true;
  EXPECT_FALSE((*checks)->runLocal(refused, "").pass);
}

}  // namespace
}  // namespace rightsize::routing
