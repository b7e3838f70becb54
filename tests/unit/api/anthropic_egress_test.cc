#include "api/anthropic_egress.h"

#include <gtest/gtest.h>

#include "api/chat_response.h"
#include "api/sse.h"

namespace rightsize::api {
namespace {

std::string egress(const std::string& body) {
  auto r = chatRequestToAnthropic(body, "claude-x");
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return r ? *r : std::string("{}");
}

std::string egressError(const std::string& body) {
  auto r = chatRequestToAnthropic(body, "claude-x");
  if (r) return "<translated: " + *r + ">";
  return r.error().message;
}

TEST(AnthropicEgressRequest, SystemIsHoistedAndTurnsAlternate) {
  std::string out = egress(R"({"model":"gpt","messages":[
      {"role":"system","content":"Be brief."},
      {"role":"user","content":"one"},
      {"role":"user","content":[{"type":"text","text":"two"}]},
      {"role":"developer","content":[{"type":"text","text":"Use French."}]},
      {"role":"assistant","content":"un deux"},
      {"role":"user","content":"three"}],
    "max_completion_tokens":64,"temperature":0.5,"top_p":0.8,"stop":"END","user":"u1",
    "stream_options":{"include_usage":true},"frequency_penalty":1,"seed":3})");
  EXPECT_EQ(out, R"({"model":"claude-x","max_tokens":64,"system":"Be brief.\n\nUse French.","messages":[)"
                 R"({"role":"user","content":[{"type":"text","text":"one"},{"type":"text","text":"two"}]},)"
                 R"({"role":"assistant","content":[{"type":"text","text":"un deux"}]},)"
                 R"({"role":"user","content":[{"type":"text","text":"three"}]}],)"
                 R"("temperature":0.5,"top_p":0.8,"stop_sequences":["END"],"metadata":{"user_id":"u1"}})");
}

TEST(AnthropicEgressRequest, MaxTokensDefaultsAndTemperatureIsClamped) {
  std::string out = egress(R"({"messages":[{"role":"user","content":"x"}],"temperature":1.7,"stream":true})");
  EXPECT_NE(out.find(R"("max_tokens":4096)"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("temperature":1)"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("stream":true)"), std::string::npos) << out;
  EXPECT_NE(egress(R"({"messages":[{"role":"user","content":"x"}],"max_tokens":7})").find(R"("max_tokens":7)"),
            std::string::npos);
}

TEST(AnthropicEgressRequest, ImagesBecomeBase64OrUrlSources) {
  std::string out = egress(R"({"messages":[{"role":"user","content":[
      {"type":"text","text":"look"},
      {"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4AAQ","detail":"high"}},
      {"type":"image_url","image_url":{"url":"https://example.test/a.png"}}]}]})");
  EXPECT_NE(out.find(R"({"role":"user","content":[{"type":"text","text":"look"},)"
                     R"({"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/4AAQ"}},)"
                     R"({"type":"image","source":{"type":"url","url":"https://example.test/a.png"}}]})"),
            std::string::npos)
      << out;
}

TEST(AnthropicEgressRequest, ToolCallsAndResultsBecomeBlocksAndConsecutiveResultsMerge) {
  std::string out = egress(R"({"messages":[
      {"role":"user","content":"weather in Paris and Rome"},
      {"role":"assistant","content":"","tool_calls":[
        {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
        {"id":"call_2","type":"function","function":{"name":"get_weather","arguments":""}}]},
      {"role":"tool","tool_call_id":"call_1","content":"18C"},
      {"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"20C"}]},
      {"role":"user","content":"thanks"}],
    "tools":[{"type":"function","function":{"name":"get_weather","description":"d","parameters":{"type":"object","properties":{"city":{"type":"string"}}},"strict":true}},
             {"type":"function","function":{"name":"noargs"}}],
    "tool_choice":{"type":"function","function":{"name":"get_weather"}},"parallel_tool_calls":false})");
  EXPECT_NE(
      out.find(R"({"role":"assistant","content":[)"
               R"({"type":"tool_use","id":"call_1","name":"get_weather","input":{"city":"Paris"}},)"
               R"({"type":"tool_use","id":"call_2","name":"get_weather","input":{}}]},)"
               R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"call_1","content":"18C"},)"
               R"({"type":"tool_result","tool_use_id":"call_2","content":"20C"},{"type":"text","text":"thanks"}]}])"),
      std::string::npos)
      << out;
  EXPECT_NE(
      out.find(
          R"("tools":[{"name":"get_weather","description":"d","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}},)"
          R"({"name":"noargs","input_schema":{"type":"object","properties":{}}}])"),
      std::string::npos)
      << out;
  EXPECT_NE(out.find(R"("tool_choice":{"type":"tool","name":"get_weather","disable_parallel_tool_use":true})"),
            std::string::npos)
      << out;
}

TEST(AnthropicEgressRequest, ToolChoiceStrings) {
  auto with = [](const std::string& choice) {
    return egress(
        R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":)" +
        choice + "}");
  };
  EXPECT_NE(with(R"("auto")").find(R"("tool_choice":{"type":"auto"})"), std::string::npos);
  EXPECT_NE(with(R"("required")").find(R"("tool_choice":{"type":"any"})"), std::string::npos);
  EXPECT_NE(with(R"("none")").find(R"("tool_choice":{"type":"none"})"), std::string::npos);
  // No tools: no tool_choice either (Anthropic rejects a choice without tools).
  EXPECT_EQ(egress(R"({"messages":[{"role":"user","content":"x"}],"tool_choice":"auto"})").find("tool_choice"),
            std::string::npos);
}

TEST(AnthropicEgressRequest, EmptyTextIsDroppedAndTheTurnsStillAlternate) {
  std::string out = egress(R"({"messages":[{"role":"user","content":"a"},{"role":"assistant","content":""},
      {"role":"user","content":"b"},{"role":"assistant","content":null},{"role":"user","content":[]}]})");
  EXPECT_EQ(out, R"({"model":"claude-x","max_tokens":4096,"messages":[{"role":"user","content":[)"
                 R"({"type":"text","text":"a"},{"type":"text","text":"b"}]}]})");
}

TEST(AnthropicEgressRequest, RejectsWhatCannotBeCarried) {
  EXPECT_EQ(egressError(R"({"messages":[{"role":"system","content":"only a system prompt"}]})"),
            "messages: no user or assistant message with content to send");
  EXPECT_EQ(
      egressError(R"({"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]})"),
      "messages[0].content[0]: part type 'input_audio' cannot be sent to an Anthropic model (text and image_url only)");
  EXPECT_EQ(egressError(R"({"messages":[{"role":"function","name":"f","content":"x"}]})"),
            "messages[0].role: 'function' cannot be sent to an Anthropic model");
  EXPECT_EQ(
      egressError(
          R"({"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1]"}}]}]})"),
      "messages[0].tool_calls[0].function.arguments: must be a JSON object (Anthropic tool input)");
  EXPECT_EQ(egressError(R"({"messages":[{"role":"tool","content":"x"}]})"), "messages[0].tool_call_id: required string");
  EXPECT_EQ(egressError(R"({"messages":[{"role":"user","content":"x"}],"n":2})"),
            "n: an Anthropic model returns one choice (n must be 1)");
  EXPECT_EQ(
      egressError(
          R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]})"),
      "messages[0].content[0].image_url.url: a data: URL must be base64 (data:<media type>;base64,<data>)");
  EXPECT_EQ(egressError(R"({"messages":7})"), "'messages' must be an array");
  EXPECT_EQ(egressError("nope").rfind("request body is not valid JSON", 0), 0u);
}

// ---------------------------------------------------------------------------------------------
TEST(AnthropicEgressResponse, MessageBecomesAChatCompletion) {
  Usage u;
  auto out = anthropicResponseToChat(
      R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[)"
      R"({"type":"thinking","thinking":"...","signature":"s"},{"type":"text","text":"Hello"},{"type":"text","text":" world"}],)"
      R"("stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":3}})",
      1700000000, &u);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(
      *out,
      R"({"id":"msg_1","object":"chat.completion","created":1700000000,"model":"claude-x","choices":[{"index":0,)"
      R"("message":{"role":"assistant","content":"Hello world","refusal":null},"logprobs":null,"finish_reason":"stop"}],)"
      R"("usage":{"prompt_tokens":15,"completion_tokens":3,"total_tokens":18,"prompt_tokens_details":{"cached_tokens":5}}})");
  EXPECT_EQ(u.prompt_tokens, 15);
  EXPECT_EQ(u.completion_tokens, 3);
  EXPECT_EQ(responseUsage(*out)->completion_tokens, 3);
}

TEST(AnthropicEgressResponse, ToolUseBecomesToolCalls) {
  auto out = anthropicResponseToChat(
      R"({"id":"msg_2","type":"message","model":"c","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{"a":{"b":[1,"x"]}}}],)"
      R"("stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":2}})",
      1, nullptr);
  ASSERT_TRUE(out);
  EXPECT_NE(out->find(R"("message":{"role":"assistant","content":null,"tool_calls":[{"id":"toolu_1","type":"function",)"
                      R"("function":{"name":"f","arguments":"{\"a\":{\"b\":[1,\"x\"]}}"}}],"refusal":null})"),
            std::string::npos)
      << *out;
  EXPECT_NE(out->find(R"("finish_reason":"tool_calls")"), std::string::npos);
}

TEST(AnthropicEgressResponse, StopReasonsMap) {
  for (auto [stop, finish] : {std::pair{"max_tokens", "length"},
                              {"stop_sequence", "stop"},
                              {"refusal", "content_filter"},
                              {"pause_turn", "stop"},
                              {"end_turn", "stop"}}) {
    auto out =
        anthropicResponseToChat(std::string(R"({"type":"message","content":[],"stop_reason":")") + stop + "\"}", 1);
    ASSERT_TRUE(out);
    EXPECT_NE(out->find(std::string(R"("finish_reason":")") + finish + "\""), std::string::npos) << *out;
  }
}

TEST(AnthropicEgressResponse, RejectsWhatIsNotAMessage) {
  EXPECT_FALSE(anthropicResponseToChat("", 1));
  EXPECT_FALSE(anthropicResponseToChat(R"({"type":"error","error":{"type":"api_error","message":"x"}})", 1));
  EXPECT_FALSE(anthropicResponseToChat(R"({"type":"message","content":"text?"})", 1));
}

// ---------------------------------------------------------------------------------------------
std::deque<std::string> run(AnthropicToChatStream& s, const std::vector<std::string>& events) {
  std::deque<std::string> out;
  for (const auto& e : events) {
    auto r = s.onEvent(e, out);
    EXPECT_TRUE(r) << e << ": " << (r ? "" : r.error().message);
  }
  return out;
}

TEST(AnthropicEgressStream, TextEventsBecomeChunksWithFinishAndUsage) {
  AnthropicToChatStream s(1700000000);
  auto out = run(
      s,
      {
          R"({"type":"message_start","message":{"id":"msg_9","type":"message","role":"assistant","model":"claude-x","content":[],"usage":{"input_tokens":25,"output_tokens":1}}})",
          R"({"type":"ping"})",
          R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})",
          R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}})",
          R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there"}})",
          R"({"type":"content_block_stop","index":0})",
          R"({"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":2}})",
          R"({"type":"message_stop"})",
      });
  EXPECT_TRUE(s.done());
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(
      out[0],
      R"({"id":"msg_9","object":"chat.completion.chunk","created":1700000000,"model":"claude-x","choices":[{"index":0,)"
      R"("delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]})");
  EXPECT_NE(out[1].find(R"("delta":{"content":"Hi"})"), std::string::npos);
  EXPECT_NE(out[2].find(R"("delta":{"content":" there"})"), std::string::npos);
  EXPECT_NE(out[3].find(R"("delta":{},"logprobs":null,"finish_reason":"length")"), std::string::npos) << out[3];
  auto info = inspectChunk(out[4]);
  ASSERT_TRUE(info.usage);
  EXPECT_TRUE(info.empty_choices);
  EXPECT_EQ(info.usage->prompt_tokens, 25);
  EXPECT_EQ(info.usage->completion_tokens, 2);
  // Nothing after message_stop.
  std::deque<std::string> more;
  EXPECT_TRUE(
      s.onEvent(R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"late"}})", more));
  EXPECT_TRUE(more.empty());
}

TEST(AnthropicEgressStream, ToolUseBecomesToolCallDeltas) {
  AnthropicToChatStream s(1);
  auto out = run(
      s,
      {
          R"({"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":3}}})",
          R"({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}})",
          R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}})",
          R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_a","name":"f","input":{}}})",
          R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"q\":"}})",
          R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"x\"}"}})",
          R"({"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_b","name":"g","input":{}}})",
          R"({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}})",
          R"({"type":"some_future_event","x":1})",
          R"({"type":"message_stop"})",
      });
  ASSERT_EQ(out.size(), 7u);
  EXPECT_NE(
      out[1].find(
          R"("delta":{"tool_calls":[{"index":0,"id":"toolu_a","type":"function","function":{"name":"f","arguments":""}}]})"),
      std::string::npos)
      << out[1];
  EXPECT_NE(out[2].find(R"("delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"q\":"}}]})"),
            std::string::npos)
      << out[2];
  EXPECT_NE(out[3].find(R"("arguments":"\"x\"}")"), std::string::npos) << out[3];
  EXPECT_NE(out[4].find(R"("index":1,"id":"toolu_b")"), std::string::npos) << out[4];
  EXPECT_NE(out[5].find(R"("finish_reason":"tool_calls")"), std::string::npos);
  EXPECT_EQ(inspectChunk(out[6]).usage->completion_tokens, 9);
}

TEST(AnthropicEgressStream, MalformedEventsAreCleanErrors) {
  std::deque<std::string> out;
  {
    AnthropicToChatStream s(1);
    EXPECT_EQ(s.onEvent("{oops", out).error().message, "upstream sent a stream event that is not JSON");
    EXPECT_EQ(s.onEvent(R"({"no":"type"})", out).error().message, "upstream sent a stream event without a type");
    EXPECT_EQ(s.onEvent(R"({"type":"message_start"})", out).error().message, "upstream message_start has no message");
    EXPECT_EQ(s.onEvent(R"({"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":"x"}})", out)
                  .error()
                  .message,
              "upstream sent a content_block_delta for block 3 that was never started");
    EXPECT_EQ(
        s.onEvent(R"({"type":"content_block_start","index":-1,"content_block":{"type":"text"}})", out).error().message,
        "upstream content_block_start lacks index or content_block");
    auto e = s.onEvent(R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})", out);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code, ErrorCode::kUpstreamError);
    EXPECT_EQ(e.error().message, "upstream stream error (overloaded_error): Overloaded");
  }
  EXPECT_TRUE(out.empty());
}

TEST(AnthropicEgressStream, WorksThroughTheSseDecoderWithEventLines) {
  SseDecoder d;
  d.feed(
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\"}}\n\nevent: "
      "ping\n");
  d.feed("data: {\"type\":\"ping\"}\n\nevent: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n");
  AnthropicToChatStream s(1);
  std::deque<std::string> out;
  while (auto ev = d.next()) ASSERT_TRUE(s.onEvent(*ev, out));
  EXPECT_TRUE(s.done());
  EXPECT_EQ(out.size(), 3u);  // role, finish, usage
}

}  // namespace
}  // namespace rightsize::api
