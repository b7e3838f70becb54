#include "api/chat_request.h"

#include <gtest/gtest.h>

namespace rightsize::api {
namespace {

TEST(ChatRequestParse, ReadsModelMessagesStreamAndOptions) {
  std::string body = R"({"model":"auto","stream":true,"stream_options":{"include_usage":true},"max_tokens":50,
    "messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Hi"},{"type":"image_url","image_url":{"url":"x"}}]}],
    "rightsize":{"quality":0.9,"max_cost_usd":0.01,"sensitive":true,"session":"abc"}})";
  auto r = parseChatRequest(body);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->model, "auto");
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  EXPECT_EQ(r->max_tokens, 50);
  ASSERT_EQ(r->messages.size(), 2u);
  EXPECT_EQ(r->messages[1].text, "Hi");
  EXPECT_DOUBLE_EQ(*r->rightsize.quality, 0.9);
  EXPECT_DOUBLE_EQ(*r->rightsize.max_cost_usd, 0.01);
  EXPECT_TRUE(r->rightsize.sensitive);
  EXPECT_EQ(r->rightsize.session, "abc");
  EXPECT_EQ(r->content_chars, std::string("Be brief.Hi").size());
}

TEST(ChatRequestParse, RejectsMalformedJsonAsMalformed) {
  std::string body = R"({"model":"x","messages":[)";
  auto r = parseChatRequest(body);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kMalformedJson);
}

TEST(ChatRequestParse, RejectsSchemaProblemsNamingTheField) {
  struct Case { const char* body; const char* needle; };
  const Case cases[] = {
      {R"({"messages":[{"role":"user","content":"x"}]})", "'model' is required"},
      {R"({"model":"","messages":[{"role":"user","content":"x"}]})", "'model' must be a non-empty string"},
      {R"({"model":3,"messages":[{"role":"user","content":"x"}]})", "'model'"},
      {R"({"model":"m"})", "'messages' is required"},
      {R"({"model":"m","messages":[]})", "must not be empty"},
      {R"({"model":"m","messages":"hi"})", "'messages' must be an array"},
      {R"({"model":"m","messages":[42]})", "messages[0] must be an object"},
      {R"({"model":"m","messages":[{"content":"x"}]})", "messages[0].role"},
      {R"({"model":"m","messages":[{"role":"user","content":5}]})", "messages[0].content"},
      {R"({"model":"m","messages":[{"role":"user"}]})", "messages[0].content is required"},
      {R"({"model":"m","stream":"yes","messages":[{"role":"user","content":"x"}]})", "'stream'"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"rightsize":{"quality":2}})", "rightsize.quality"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"rightsize":{"qualty":0.5}})", "unknown option 'qualty'"},
      {R"([1,2])", "must be a JSON object"},
  };
  for (const auto& c : cases) {
    std::string body = c.body;
    auto r = parseChatRequest(body);
    ASSERT_FALSE(r) << c.body;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << c.body;
    EXPECT_NE(r.error().message.find(c.needle), std::string::npos) << c.body << " -> " << r.error().message;
  }
}

TEST(ChatRequestParse, AcceptsAssistantToolCallWithNullContent) {
  std::string body = R"({"model":"m","messages":[{"role":"user","content":"x"},
    {"role":"assistant","content":null,"tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{}"}}]},
    {"role":"tool","tool_call_id":"1","content":"result"}]})";
  auto r = parseChatRequest(body);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->messages.size(), 3u);
}

TEST(ChatRequestRewrite, ReplacesModelDropsRightsizeAndKeepsOtherFieldsByteForByte) {
  std::string body = R"({ "model" : "auto", "temperature": 0.70, "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],)"
                     R"("messages":[{"role":"user","content":"héllo \"q\""}], "rightsize": {"quality": 0.5}, "seed": 12345678901234, "logprobs": true})";
  ASSERT_TRUE(parseChatRequest(body));
  auto out = rewriteChatRequest(body, Rewrite{"qwen-7b", false, std::nullopt});
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(*out, R"({"model":"qwen-7b","temperature":0.70,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],)"
                  R"("messages":[{"role":"user","content":"héllo \"q\""}],"seed":12345678901234,"logprobs":true})");
}

TEST(ChatRequestRewrite, AddsIncludeUsageWhenForced) {
  std::string body = R"({"model":"a","stream":true,"messages":[{"role":"user","content":"x"}]})";
  auto out = rewriteChatRequest(body, Rewrite{"b", true, std::nullopt});
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, R"({"model":"b","stream":true,"messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}})");
  std::string body2 = R"({"model":"a","stream":true,"stream_options":{"include_usage":false},"messages":[]})";
  auto out2 = rewriteChatRequest(body2, Rewrite{"b", true, std::nullopt});
  ASSERT_TRUE(out2);
  EXPECT_EQ(*out2, R"({"model":"b","stream":true,"stream_options":{"include_usage":true},"messages":[]})");
}

TEST(ChatRequestRewrite, CapsMaxTokensOnlyDownward) {
  std::string body = R"({"model":"a","max_tokens":5000,"messages":[]})";
  auto out = rewriteChatRequest(body, Rewrite{"b", false, 100});
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, R"({"model":"b","max_tokens":100,"messages":[]})");
  std::string body2 = R"({"model":"a","max_tokens":7,"messages":[]})";
  auto out2 = rewriteChatRequest(body2, Rewrite{"b", false, 100});
  EXPECT_EQ(*out2, R"({"model":"b","max_tokens":7,"messages":[]})");
  std::string body3 = R"({"model":"a","messages":[]})";
  auto out3 = rewriteChatRequest(body3, Rewrite{"b", false, 100});
  EXPECT_EQ(*out3, R"({"model":"b","messages":[],"max_completion_tokens":100})");
}

TEST(HumanAsk, UsesSystemPromptAndLastUserTurnOnly) {
  std::vector<ChatMessage> msgs = {{"system", "You classify."},
                                   {"user", "first question"},
                                   {"assistant", "answer"},
                                   {"tool", "huge tool output"},
                                   {"user", "second question"}};
  EXPECT_EQ(humanAsk(msgs), "You classify.\nsecond question");
}

}  // namespace
}  // namespace rightsize::api

namespace rightsize::api {
namespace {

TEST(ChatRequestParse, ReadsMetadataUserAndResponseSchemaForRouting) {
  std::string body =
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],"metadata":{"tier":"premium","n":3},"user":"u1",)"
      R"("response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}}})";
  auto r = parseChatRequest(body);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->metadata.size(), 1u);  // string values only
  EXPECT_EQ(r->metadata[0].first, "tier");
  EXPECT_EQ(r->metadata[0].second, "premium");
  EXPECT_EQ(r->user, "u1");
  EXPECT_EQ(r->response_schema, R"({"type":"object"})");
}

TEST(ChatRequestRewrite, CapsReasoningEffortAndForcesNonStreamingWithLogprobs) {
  std::string body =
      R"({"model":"m","stream":true,"stream_options":{"include_usage":true},"reasoning_effort":"high","logprobs":false,)"
      R"("max_tokens":900,"messages":[{"role":"user","content":"hi"}]})";
  ASSERT_TRUE(parseChatRequest(body));
  Rewrite rw;
  rw.model_id = "up";
  rw.max_tokens_cap = 64;
  rw.force_non_stream = true;
  rw.request_logprobs = true;
  rw.reasoning_effort_cap = "low";
  auto out = rewriteChatRequest(body, rw);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out,
            R"({"model":"up","stream":false,"reasoning_effort":"low","logprobs":true,"max_tokens":64,)"
            R"("messages":[{"role":"user","content":"hi"}]})");

  std::string low = R"({"model":"m","reasoning_effort":"minimal","messages":[{"role":"user","content":"hi"}]})";
  ASSERT_TRUE(parseChatRequest(low));
  Rewrite keep;
  keep.model_id = "up";
  keep.reasoning_effort_cap = "medium";
  EXPECT_EQ(*rewriteChatRequest(low, keep),
            R"({"model":"up","reasoning_effort":"minimal","messages":[{"role":"user","content":"hi"}]})");

  std::string none = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
  ASSERT_TRUE(parseChatRequest(none));
  EXPECT_EQ(*rewriteChatRequest(none, keep),
            R"({"model":"up","messages":[{"role":"user","content":"hi"}],"reasoning_effort":"medium"})");
  EXPECT_LT(reasoningEffortRank("low"), reasoningEffortRank("high"));
  EXPECT_EQ(reasoningEffortRank("turbo"), -1);
}

}  // namespace
}  // namespace rightsize::api
