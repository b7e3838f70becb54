// Usage as the providers report it, prompt caching and reasoning included (docs/costs.md).
#include <gtest/gtest.h>

#include "api/anthropic_egress.h"
#include "api/chat_response.h"

namespace rightsize::api {
namespace {

TEST(Usage, OpenAiDetailsAreRead) {
  auto u = responseUsage(
      R"({"usage":{"prompt_tokens":1000,"completion_tokens":120,"total_tokens":1120,)"
      R"("prompt_tokens_details":{"cached_tokens":800,"audio_tokens":0},)"
      R"("completion_tokens_details":{"reasoning_tokens":64,"accepted_prediction_tokens":0}}})");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->prompt_tokens, 1000);
  EXPECT_EQ(u->cached_tokens, 800);
  EXPECT_EQ(u->completion_tokens, 120);
  EXPECT_EQ(u->reasoning_tokens, 64);
  EXPECT_EQ(u->cache_write_tokens, 0);
}

TEST(Usage, DetailsNeverExceedTheirTotalsAndNullsAreIgnored) {
  auto u = responseUsage(R"({"usage":{"prompt_tokens":10,"completion_tokens":2,)"
                         R"("prompt_tokens_details":{"cached_tokens":50},"completion_tokens_details":null}})");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->cached_tokens, 10);
  EXPECT_EQ(u->reasoning_tokens, 0);
  auto neg = responseUsage(R"({"usage":{"prompt_tokens":10,"prompt_tokens_details":{"cached_tokens":-5}}})");
  ASSERT_TRUE(neg);
  EXPECT_EQ(neg->cached_tokens, 0);
}

TEST(Usage, StreamUsageChunkCarriesDetails) {
  ChunkInfo c = inspectChunk(R"({"id":"x","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,)"
                             R"("prompt_tokens_details":{"cached_tokens":4}}})");
  ASSERT_TRUE(c.usage);
  EXPECT_EQ(c.usage->cached_tokens, 4);
}

TEST(Usage, ChatJsonWritesDetailsOnlyWhenPresent) {
  std::string plain;
  appendUsageJson(plain, Usage{5, 2});
  EXPECT_EQ(plain, R"("usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7})");
  std::string full;
  appendUsageJson(full, Usage{1000, 120, 800, 50, 64});
  EXPECT_EQ(full, R"("usage":{"prompt_tokens":1000,"completion_tokens":120,"total_tokens":1120,)"
                  R"("prompt_tokens_details":{"cached_tokens":800},"completion_tokens_details":{"reasoning_tokens":64}})");
}

TEST(Usage, AnthropicJsonSplitsTheInputTokens) {
  std::string out;
  appendAnthropicUsageJson(out, Usage{1000, 20, 900, 50, 0});
  EXPECT_EQ(out, R"("usage":{"input_tokens":50,"cache_creation_input_tokens":50,"cache_read_input_tokens":900,)"
                 R"("output_tokens":20})");
  std::string none;
  appendAnthropicUsageJson(none, Usage{3, 4});
  EXPECT_EQ(none, R"("usage":{"input_tokens":3,"output_tokens":4})");
}

TEST(Usage, AnthropicAnswerSumsInputAndKeepsCacheCountsApart) {
  Usage u;
  auto out = anthropicResponseToChat(
      R"({"id":"m","type":"message","role":"assistant","model":"c","content":[{"type":"text","text":"hi"}],)"
      R"("stop_reason":"end_turn","usage":{"input_tokens":50,"cache_creation_input_tokens":50,)"
      R"("cache_read_input_tokens":900,"output_tokens":20}})",
      1, &u);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(u.prompt_tokens, 1000);
  EXPECT_EQ(u.cached_tokens, 900);
  EXPECT_EQ(u.cache_write_tokens, 50);
  EXPECT_EQ(u.completion_tokens, 20);
  EXPECT_NE(out->find(R"("prompt_tokens":1000)"), std::string::npos) << *out;
  EXPECT_NE(out->find(R"("prompt_tokens_details":{"cached_tokens":900})"), std::string::npos) << *out;
}

}  // namespace
}  // namespace rightsize::api
