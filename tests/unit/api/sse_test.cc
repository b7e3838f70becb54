#include "api/sse.h"

#include <gtest/gtest.h>

#include "api/chat_response.h"
#include "api/errors.h"

namespace rightsize::api {
namespace {

TEST(SseDecoder, ReassemblesEventsSplitAcrossReads) {
  SseDecoder d;
  d.feed("data: {\"a\":");
  EXPECT_FALSE(d.next());
  d.feed("1}\n");
  EXPECT_FALSE(d.next());
  d.feed("\ndata: [DONE]\n\n");
  EXPECT_EQ(d.next(), "{\"a\":1}");
  EXPECT_EQ(d.next(), "[DONE]");
  EXPECT_FALSE(d.next());
  EXPECT_EQ(d.pending(), 0u);
}

TEST(SseDecoder, HandlesCrlfCommentsAndMultiLineData) {
  SseDecoder d;
  d.feed(": keep-alive\r\n\r\nevent: x\r\ndata: one\r\ndata: two\r\n\r\ndata:three\n\n");
  EXPECT_EQ(d.next(), "one\ntwo");
  EXPECT_EQ(d.next(), "three");
  EXPECT_FALSE(d.next());
}

TEST(SseDecoder, ReportsTruncationAndOverflow) {
  SseDecoder d(16);
  d.feed("data: partial");
  EXPECT_FALSE(d.next());
  EXPECT_GT(d.pending(), 0u);
  d.feed(std::string(64, 'x'));
  EXPECT_FALSE(d.next());
  EXPECT_TRUE(d.overflow());
}

TEST(ChunkInspection, FindsUsageOnlyChunkAndErrors) {
  auto c = inspectChunk(R"({"id":"x","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}})");
  ASSERT_TRUE(c.usage);
  EXPECT_EQ(c.usage->prompt_tokens, 3);
  EXPECT_EQ(c.usage->completion_tokens, 5);
  EXPECT_TRUE(c.empty_choices);
  auto n = inspectChunk(R"({"id":"x","choices":[{"delta":{"content":"hi"}}],"usage":null})");
  EXPECT_FALSE(n.usage);
  EXPECT_FALSE(n.empty_choices);
  EXPECT_FALSE(inspectChunk(R"({"usage":{"prompt_tokens":)").usage);  // truncated: no usage, no crash
  auto spaced = inspectChunk(R"({"choices" : [], "usage" :
    {"prompt_tokens": 1, "completion_tokens": 2}})");
  ASSERT_TRUE(spaced.usage);
  EXPECT_EQ(spaced.usage->completion_tokens, 2);
  EXPECT_TRUE(spaced.empty_choices);
  // An escaped "usage" inside content text is not taken for the usage key.
  EXPECT_FALSE(inspectChunk(R"({"choices":[{"delta":{"content":"\"usage\": {"}}],"usage":null})").usage);
}

TEST(ResponseUsage, ReadsUsageFromCompletion) {
  auto u = responseUsage(R"({"id":"1","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":20}})");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->prompt_tokens, 10);
  EXPECT_EQ(u->completion_tokens, 20);
  EXPECT_FALSE(responseUsage("not json"));
}

TEST(ErrorMapping, EachCodeHasItsStatusAndUpstreamClientErrorsPassThrough) {
  EXPECT_EQ(httpStatus({ErrorCode::kMalformedJson, "", 0}), 400);
  EXPECT_EQ(httpStatus({ErrorCode::kNotFound, "", 0}), 404);
  EXPECT_EQ(httpStatus({ErrorCode::kPayloadTooLarge, "", 0}), 413);
  EXPECT_EQ(httpStatus({ErrorCode::kRateLimited, "", 0}), 429);
  EXPECT_EQ(httpStatus({ErrorCode::kUpstreamError, "", 503}), 502);
  EXPECT_EQ(httpStatus({ErrorCode::kUpstreamError, "", 429}), 502);
  EXPECT_EQ(httpStatus({ErrorCode::kUpstreamError, "", 401}), 401);
  EXPECT_EQ(httpStatus({ErrorCode::kUnavailable, "", 0}), 503);
  EXPECT_EQ(httpStatus({ErrorCode::kTimeout, "", 0}), 504);
  EXPECT_EQ(errorBody({ErrorCode::kNotFound, "no \"x\"", 0}),
            R"({"error":{"message":"no \"x\"","type":"not_found_error","code":"not_found","param":null}})");
}

}  // namespace
}  // namespace rightsize::api
