#include "api/anthropic_ingress.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "api/anthropic_common.h"
#include "api/chat_request.h"
#include "api/sse.h"

namespace rightsize::api {
namespace {

std::string ingress(const std::string& body) {
  auto r = anthropicRequestToChat(body);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return r ? *r : std::string("{}");
}

std::string ingressError(const std::string& body) {
  auto r = anthropicRequestToChat(body);
  if (r) return "<translated: " + *r + ">";
  return r.error().message;
}

TEST(AnthropicIngressRequest, TranslatesSystemTurnsAndSamplingFields) {
  std::string out = ingress(R"({"model":"auto","max_tokens":100,"system":"Be brief.",
    "messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"},
                {"role":"user","content":[{"type":"text","text":"again"}]}],
    "temperature":0.2,"top_p":0.9,"top_k":5,"stop_sequences":["END"],"metadata":{"user_id":"u-1"}})");
  EXPECT_EQ(out,
            R"({"model":"auto","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"},)"
            R"({"role":"assistant","content":"hello"},{"role":"user","content":"again"}],"max_tokens":100,)"
            R"("temperature":0.2,"top_p":0.9,"stop":["END"],"user":"u-1"})");
  // And the gateway's own parser accepts it.
  auto parsed = parseChatRequest(out);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->max_tokens, 100);
  EXPECT_EQ(humanAsk(parsed->messages), "Be brief.\nagain");
}

TEST(AnthropicIngressRequest, SystemAsTextBlocksIsJoined) {
  std::string out = ingress(R"({"model":"m","max_tokens":5,"system":[{"type":"text","text":"A"},
    {"type":"text","text":"B","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"x"}]})");
  EXPECT_NE(out.find(R"({"role":"system","content":"A\n\nB"})"), std::string::npos) << out;
}

TEST(AnthropicIngressRequest, StreamAsksForTheUsageChunk) {
  std::string out =
      ingress(R"({"model":"m","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"x"}]})");
  EXPECT_NE(out.find(R"("stream":true,"stream_options":{"include_usage":true})"), std::string::npos) << out;
  auto parsed = parseChatRequest(out);
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->stream);
  EXPECT_TRUE(parsed->include_usage);
  EXPECT_EQ(ingress(R"({"model":"m","max_tokens":5,"stream":false,"messages":[{"role":"user","content":"x"}]})")
                .find("stream"),
            std::string::npos);
}

TEST(AnthropicIngressRequest, ImagesBecomeImageUrlParts) {
  std::string out = ingress(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[
    {"type":"text","text":"what is this"},
    {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
    {"type":"image","source":{"type":"url","url":"https://example.test/cat.jpg"}}]}]})");
  EXPECT_NE(out.find(R"({"role":"user","content":[{"type":"text","text":"what is this"},)"
                     R"({"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},)"
                     R"({"type":"image_url","image_url":{"url":"https://example.test/cat.jpg"}}]})"),
            std::string::npos)
      << out;
}

TEST(AnthropicIngressRequest, ToolUseAndToolResultRoundTrip) {
  std::string out = ingress(R"({"model":"m","max_tokens":50,
    "tools":[{"name":"get_weather","description":"Weather now","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}],
    "tool_choice":{"type":"any","disable_parallel_tool_use":true},
    "messages":[
      {"role":"user","content":"Weather in Paris and Rome?"},
      {"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"s"},{"type":"text","text":"Checking."},
        {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}},
        {"type":"tool_use","id":"toolu_2","name":"get_weather","input":{"city":"Rome"}}]},
      {"role":"user","content":[
        {"type":"tool_result","tool_use_id":"toolu_1","content":"18C"},
        {"type":"tool_result","tool_use_id":"toolu_2","content":[{"type":"text","text":"no data"}],"is_error":true},
        {"type":"text","text":"Summarize."}]}]})");
  EXPECT_NE(
      out.find(
          R"({"role":"assistant","content":"Checking.","tool_calls":[)"
          R"({"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},)"
          R"({"id":"toolu_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]})"),
      std::string::npos)
      << out;
  // Tool results first (they answer the assistant turn), then the rest of the user turn.
  EXPECT_NE(out.find(R"({"role":"tool","tool_call_id":"toolu_1","content":"18C"},)"
                     R"({"role":"tool","tool_call_id":"toolu_2","content":"Error: no data"},)"
                     R"({"role":"user","content":"Summarize."}])"),
            std::string::npos)
      << out;
  EXPECT_NE(
      out.find(R"("tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now",)"
               R"("parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}])"),
      std::string::npos)
      << out;
  EXPECT_NE(out.find(R"("tool_choice":"required","parallel_tool_calls":false)"), std::string::npos) << out;
  ASSERT_TRUE(parseChatRequest(out));
}

TEST(AnthropicIngressRequest, ToolChoiceVariants) {
  auto with = [](const std::string& choice) {
    return ingress(
        R"({"model":"m","max_tokens":5,"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":)" +
        choice + R"(,"messages":[{"role":"user","content":"x"}]})");
  };
  EXPECT_NE(with(R"({"type":"auto"})").find(R"("tool_choice":"auto")"), std::string::npos);
  EXPECT_NE(with(R"({"type":"none"})").find(R"("tool_choice":"none")"), std::string::npos);
  EXPECT_NE(with(R"({"type":"tool","name":"f"})").find(R"("tool_choice":{"type":"function","function":{"name":"f"}})"),
            std::string::npos);
}

TEST(AnthropicIngressRequest, ToolResultOnlyTurnHasNoEmptyUserMessage) {
  std::string out = ingress(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"q"},
    {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{}}]},
    {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1"}]}]})");
  EXPECT_NE(
      out.find(
          R"({"role":"assistant","content":null,"tool_calls":[{"id":"t1","type":"function","function":{"name":"f","arguments":"{}"}}]},)"
          R"({"role":"tool","tool_call_id":"t1","content":""}])"),
      std::string::npos)
      << out;
}

TEST(AnthropicIngressRequest, EmptyContentIsKept) {
  EXPECT_NE(ingress(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":""}]})")
                .find(R"({"role":"user","content":""})"),
            std::string::npos);
  EXPECT_NE(ingress(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[]}]})")
                .find(R"({"role":"user","content":""})"),
            std::string::npos);
}

TEST(AnthropicIngressRequest, RightsizeOptionsAreCarried) {
  std::string out = ingress(
      R"({"model":"m","max_tokens":5,"rightsize":{"quality":0.5},"messages":[{"role":"user","content":"x"}]})");
  auto parsed = parseChatRequest(out);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->rightsize.quality, 0.5);
}

TEST(AnthropicIngressRequest, CountTokensBodyNeedsNoMaxTokens) {
  auto r = anthropicCountTokensToChat(
      R"({"model":"m","system":"Be brief.","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, R"({"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}]})");
  auto parsed = parseChatRequest(*r);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->content_chars, 11u);
  EXPECT_FALSE(anthropicCountTokensToChat(R"({"model":"m","messages":[{"role":"system","content":"x"}]})"));
  EXPECT_FALSE(anthropicCountTokensToChat(R"({"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]})"));
}

TEST(AnthropicIngressRequest, CountTokensBodyForAnUpstreamHasItsModelId) {
  auto r = anthropicCountTokensBody(
      R"({"model":"haiku","system":"s","messages":[{"role":"user","content":"hi"}],"rightsize":{"quality":0.5}})",
      "claude-3-haiku");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, R"({"model":"claude-3-haiku","system":"s","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(anthropicCountTokensBody("{", "m").error().code, ErrorCode::kMalformedJson);
  EXPECT_FALSE(anthropicCountTokensBody("[1]", "m"));
}

TEST(AnthropicIngressRequest, RejectsWhatTheMessagesApiRejects) {
  EXPECT_EQ(ingressError("{").rfind("request body is not valid JSON: ", 0), 0u) << ingressError("{");
  EXPECT_EQ(ingressError("[]"), "request body must be a JSON object");
  EXPECT_EQ(ingressError(R"({"max_tokens":5,"messages":[{"role":"user","content":"x"}]})"),
            "model: required non-empty string");
  EXPECT_EQ(ingressError(R"({"model":"m","messages":[{"role":"user","content":"x"}]})"), "max_tokens: required");
  EXPECT_EQ(ingressError(R"({"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]})"),
            "max_tokens: must be a positive integer");
  EXPECT_EQ(ingressError(R"({"model":"m","max_tokens":"9","messages":[{"role":"user","content":"x"}]})"),
            "max_tokens: must be a positive integer");
  EXPECT_EQ(ingressError(R"({"model":"m","max_tokens":5,"messages":[]})"), "messages: must not be empty");
  EXPECT_EQ(ingressError(R"({"model":"m","max_tokens":5,"messages":[{"role":"system","content":"x"}]})"),
            "messages[0].role: must be 'user' or 'assistant' (put system prompts in the top-level 'system')");
  EXPECT_EQ(ingressError(R"({"model":"m","max_tokens":5,"messages":[{"role":"user"}]})"), "messages[0].content: required");
  EXPECT_EQ(ingressError(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":7}]})"),
            "messages[0].content: must be a string or an array of blocks");
  EXPECT_EQ(
      ingressError(
          R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{}}]}]})"),
      "messages[0].content[0]: block type 'document' is not supported (text, image, tool_use, tool_result)");
  EXPECT_EQ(ingressError(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"text":"no type"}]}]})"),
            "messages[0].content[0]: block type '' is not supported (text, image, tool_use, tool_result)");
  EXPECT_EQ(
      ingressError(
          R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_use","id":"a","name":"f","input":{}}]}]})"),
      "messages[0].content[0]: tool_use blocks belong in assistant turns");
  EXPECT_EQ(
      ingressError(
          R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}]})"),
      "messages[0].content[0].source.type: 'file' is not supported (base64 or url)");
  EXPECT_EQ(ingressError(R"({"model":"m","max_tokens":5,"system":7,"messages":[{"role":"user","content":"x"}]})"),
            "system: must be a string or an array of text blocks");
  EXPECT_EQ(
      ingressError(
          R"({"model":"m","max_tokens":5,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":"x"}]})"),
      "tools[0]: tool type 'web_search_20250305' (a server tool) is not supported by the gateway");
  EXPECT_EQ(ingressError(R"({"model":"m","max_tokens":5,"stream":"yes","messages":[{"role":"user","content":"x"}]})"),
            "stream: must be a boolean");
  EXPECT_EQ(
      ingressError(
          R"({"model":"m","max_tokens":5,"tools":[{"name":"f"}],"tool_choice":{"type":"maybe"},"messages":[{"role":"user","content":"x"}]})"),
      "tool_choice.type: must be auto, any, tool or none");
}

// ---------------------------------------------------------------------------------------------
TEST(AnthropicIngressResponse, TextCompletionBecomesAMessage) {
  auto out = chatResponseToAnthropic(
      R"({"id":"chatcmpl-9","object":"chat.completion","model":"mock-small","choices":[{"index":0,)"
      R"("message":{"role":"assistant","content":"Hi there","refusal":null},"finish_reason":"stop"}],)"
      R"("usage":{"prompt_tokens":12,"completion_tokens":2,"total_tokens":14}})",
      std::nullopt);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(*out, R"({"id":"msg_chatcmpl-9","type":"message","role":"assistant","model":"mock-small",)"
                  R"("content":[{"type":"text","text":"Hi there"}],"stop_reason":"end_turn","stop_sequence":null,)"
                  R"("usage":{"input_tokens":12,"output_tokens":2}})");
}

TEST(AnthropicIngressResponse, ToolCallsBecomeToolUseBlocks) {
  auto out = chatResponseToAnthropic(
      R"({"id":"c","model":"m","choices":[{"message":{"role":"assistant","content":null,"tool_calls":[)"
      R"({"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\": [1, 2]}"}},)"
      R"({"id":"call_2","type":"function","function":{"name":"g","arguments":""}},)"
      R"({"id":"call_3","type":"function","function":{"name":"h","arguments":"{not json"}}]},"finish_reason":"tool_calls"}]})",
      Usage{3, 4});
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(*out, R"({"id":"msg_c","type":"message","role":"assistant","model":"m","content":[)"
                  R"({"type":"tool_use","id":"call_1","name":"f","input":{"a":[1,2]}},)"
                  R"({"type":"tool_use","id":"call_2","name":"g","input":{}},)"
                  R"({"type":"tool_use","id":"call_3","name":"h","input":{"_raw_arguments":"{not json"}}],)"
                  R"("stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":4}})");
}

TEST(AnthropicIngressResponse, StopReasonsMap) {
  for (auto [finish, stop] : {std::pair{"length", "max_tokens"},
                              {"content_filter", "refusal"},
                              {"stop", "end_turn"},
                              {"function_call", "tool_use"},
                              {"whatever", "end_turn"}}) {
    auto out = chatResponseToAnthropic(
        std::string(R"({"choices":[{"message":{"content":"x"},"finish_reason":")") + finish + R"("}]})", std::nullopt);
    ASSERT_TRUE(out);
    EXPECT_NE(out->find(std::string(R"("stop_reason":")") + stop + "\""), std::string::npos) << *out;
  }
}

TEST(AnthropicIngressResponse, RejectsWhatIsNotACompletion) {
  EXPECT_FALSE(chatResponseToAnthropic("not json", std::nullopt));
  EXPECT_FALSE(chatResponseToAnthropic("[]", std::nullopt));
  EXPECT_FALSE(chatResponseToAnthropic(R"({"choices":[]})", std::nullopt));
  auto e = chatResponseToAnthropic(R"({"choices":[{"index":0}]})", std::nullopt);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, ErrorCode::kUpstreamError);
}

// ---------------------------------------------------------------------------------------------
// Splits "event: x\ndata: {...}\n\n..." into (type, data) pairs, checking that the SSE event name
// matches the data's "type".
std::vector<std::pair<std::string, std::string>> sseEvents(const std::string& sse) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t pos = 0;
  while (pos < sse.size()) {
    size_t end = sse.find("\n\n", pos);
    EXPECT_NE(end, std::string::npos);
    if (end == std::string::npos) break;
    std::string ev = sse.substr(pos, end - pos);
    pos = end + 2;
    EXPECT_EQ(ev.rfind("event: ", 0), 0u) << ev;
    size_t nl = ev.find('\n');
    std::string type = ev.substr(7, nl - 7);
    EXPECT_EQ(ev.substr(nl + 1, 6), "data: ");
    std::string data = ev.substr(nl + 7);
    EXPECT_NE(data.find("\"type\":\"" + type + "\""), std::string::npos) << ev;
    out.emplace_back(type, data);
  }
  return out;
}

std::string chunk(const std::string& delta, const std::string& finish = "null") {
  return R"({"id":"chatcmpl-1","object":"chat.completion.chunk","model":"mock","choices":[{"index":0,"delta":)" +
         delta + R"(,"finish_reason":)" + finish + "}]}";
}

TEST(AnthropicIngressStream, TextStreamBecomesAnthropicEvents) {
  ChatToAnthropicStream s;
  std::string out;
  ASSERT_TRUE(s.onChunk(chunk(R"({"role":"assistant","content":""})"), out));
  ASSERT_TRUE(s.onChunk(chunk(R"({"content":"Hel"})"), out));
  ASSERT_TRUE(s.onChunk(chunk(R"({"content":"lo"})"), out));
  ASSERT_TRUE(s.onChunk(chunk("{}", R"("length")"), out));
  ASSERT_TRUE(s.onChunk(R"({"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2}})", out));
  s.finish(Usage{9, 2}, out);
  auto ev = sseEvents(out);
  ASSERT_EQ(ev.size(), 7u) << out;
  EXPECT_EQ(ev[0].first, "message_start");
  EXPECT_NE(ev[0].second.find(R"("id":"msg_chatcmpl-1")"), std::string::npos);
  EXPECT_NE(ev[0].second.find(R"("model":"mock")"), std::string::npos);
  EXPECT_EQ(ev[1].second, R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})");
  EXPECT_EQ(ev[2].second, R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}})");
  EXPECT_EQ(ev[3].second, R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}})");
  EXPECT_EQ(ev[4].second, R"({"type":"content_block_stop","index":0})");
  EXPECT_EQ(
      ev[5].second,
      R"({"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"input_tokens":9,"output_tokens":2}})");
  EXPECT_EQ(ev[6].second, R"({"type":"message_stop"})");
}

TEST(AnthropicIngressStream, ToolCallsBecomeToolUseBlocksWithJsonDeltas) {
  ChatToAnthropicStream s;
  std::string out;
  ASSERT_TRUE(s.onChunk(chunk(R"({"role":"assistant","content":"Let me check."})"), out));
  ASSERT_TRUE(s.onChunk(
      chunk(R"({"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":""}}]})"),
      out));
  ASSERT_TRUE(s.onChunk(chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"x\":"}}]})"), out));
  ASSERT_TRUE(s.onChunk(chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]})"), out));
  ASSERT_TRUE(
      s.onChunk(chunk(R"({"tool_calls":[{"index":1,"id":"call_b","function":{"name":"g","arguments":"{}"}}]})"), out));
  ASSERT_TRUE(s.onChunk(chunk("{}", R"("tool_calls")"), out));
  s.finish(Usage{1, 2}, out);
  auto ev = sseEvents(out);
  std::vector<std::string> types;
  for (auto& e : ev) types.push_back(e.first);
  EXPECT_EQ(types,
            (std::vector<std::string>{"message_start", "content_block_start", "content_block_delta",
                                      "content_block_stop", "content_block_start", "content_block_delta",
                                      "content_block_delta", "content_block_stop", "content_block_start",
                                      "content_block_delta", "content_block_stop", "message_delta", "message_stop"}));
  EXPECT_EQ(
      ev[4].second,
      R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"call_a","name":"f","input":{}}})");
  EXPECT_EQ(ev[5].second,
            R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"x\":"}})");
  EXPECT_EQ(
      ev[8].second,
      R"({"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"call_b","name":"g","input":{}}})");
  EXPECT_NE(ev[11].second.find(R"("stop_reason":"tool_use")"), std::string::npos);
}

TEST(AnthropicIngressStream, EmptyStreamStillHasAWellFormedMessage) {
  ChatToAnthropicStream s;
  std::string out;
  s.finish(Usage{0, 0}, out);
  auto ev = sseEvents(out);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].first, "message_start");
  EXPECT_EQ(ev[1].first, "message_delta");
  EXPECT_EQ(ev[2].first, "message_stop");
}

TEST(AnthropicIngressStream, MalformedChunksAreCleanErrors) {
  ChatToAnthropicStream s;
  std::string out;
  EXPECT_FALSE(s.onChunk("not json", out));
  auto e = s.onChunk(R"({"error":{"message":"overloaded"}})", out);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message, "upstream stream error: overloaded");
  EXPECT_EQ(out, "");
  // A tool call that resumes after another started cannot be shown as Anthropic blocks.
  ASSERT_TRUE(
      s.onChunk(chunk(R"({"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{"}}]})"), out));
  ASSERT_TRUE(
      s.onChunk(chunk(R"({"tool_calls":[{"index":1,"id":"b","function":{"name":"g","arguments":"{}"}}]})"), out));
  EXPECT_FALSE(s.onChunk(chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"}"}}]})"), out));
}

TEST(AnthropicErrors, BodyAndEventUseAnthropicTypes) {
  EXPECT_EQ(anthropicErrorBody(Error{ErrorCode::kNotFound, "no model 'x'", 0}),
            R"({"type":"error","error":{"type":"not_found_error","message":"no model 'x'"}})");
  EXPECT_EQ(anthropicErrorBody(Error{ErrorCode::kInvalidArgument, "bad", 0}),
            R"({"type":"error","error":{"type":"invalid_request_error","message":"bad"}})");
  EXPECT_EQ(anthropicErrorBody(Error{ErrorCode::kUnavailable, "all open", 0}),
            R"({"type":"error","error":{"type":"overloaded_error","message":"all open"}})");
  EXPECT_EQ(anthropicErrorBody(Error{ErrorCode::kUpstreamError, "key", 401}),
            R"({"type":"error","error":{"type":"authentication_error","message":"key"}})");
  EXPECT_EQ(anthropicErrorEvent(Error{ErrorCode::kUpstreamError, "boom", 0}),
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"boom\"}}\n\n");
}

}  // namespace
}  // namespace rightsize::api
