#include "api/responses.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <regex>
#include <vector>

#include "api/chat_request.h"

namespace rightsize::api {
namespace {

std::string toChat(const std::string& body) {
  auto r = responsesRequestToChat(body);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return r ? *r : std::string("{}");
}

std::string responsesError(const std::string& body) {
  auto r = responsesRequestToChat(body);
  if (r) return "<translated: " + *r + ">";
  return r.error().message;
}

TEST(ResponsesRequest, StringInputWithInstructionsAndSamplingFields) {
  std::string out = toChat(R"({"model":"auto","input":"hi","instructions":"Be brief.","max_output_tokens":50,
    "temperature":0.2,"top_p":0.9,"metadata":{"team":"a"},"user":"u-1","store":false,"include":[],"truncation":"disabled",
    "prompt_cache_retention":"24h"})");
  EXPECT_EQ(out,
            R"({"model":"auto","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}],)"
            R"("max_completion_tokens":50,"temperature":0.2,"top_p":0.9,"metadata":{"team":"a"},"user":"u-1",)"
            R"("prompt_cache_retention":"24h"})");
  auto parsed = parseChatRequest(out);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->max_tokens, 50);
  EXPECT_EQ(parsed->user, "u-1");
}

TEST(ResponsesRequest, ItemsBecomeMessagesWithPartsRolesAndImages) {
  std::string out = toChat(R"({"model":"m","input":[
    {"role":"developer","content":"Rules."},
    {"type":"message","role":"user","content":[{"type":"input_text","text":"look"},
      {"type":"input_image","image_url":"data:image/png;base64,AAAA","detail":"low"}]},
    {"type":"message","role":"assistant","content":[{"type":"output_text","text":"a cat","annotations":[]}]},
    {"role":"user","content":[{"type":"input_text","text":"thanks"}]}]})");
  EXPECT_EQ(out,
            R"({"model":"m","messages":[{"role":"system","content":"Rules."},)"
            R"({"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"low"}}]},)"
            R"({"role":"assistant","content":"a cat"},{"role":"user","content":"thanks"}]})");
  EXPECT_TRUE(parseChatRequest(out));
}

TEST(ResponsesRequest, FunctionCallRoundTripAndTools) {
  std::string out = toChat(R"({"model":"m","stream":true,"input":[
    {"role":"user","content":"weather?"},
    {"type":"reasoning","id":"rs_1","summary":[]},
    {"type":"function_call","id":"fc_1","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
    {"type":"function_call","call_id":"call_2","name":"get_time","arguments":"{}"},
    {"type":"function_call_output","call_id":"call_1","output":"sunny"},
    {"type":"function_call_output","call_id":"call_2","output":[{"type":"input_text","text":"noon"}]}],
    "tools":[{"type":"function","name":"get_weather","description":"d","parameters":{"type":"object"},"strict":true}],
    "tool_choice":{"type":"function","name":"get_weather"},"parallel_tool_calls":false,
    "text":{"format":{"type":"json_schema","name":"w","schema":{"type":"object"},"strict":true}},
    "reasoning":{"effort":"low"}})");
  EXPECT_EQ(out,
            R"({"model":"m","messages":[{"role":"user","content":"weather?"},)"
            R"({"role":"assistant","content":null,"tool_calls":[)"
            R"({"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},)"
            R"({"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]},)"
            R"({"role":"tool","tool_call_id":"call_1","content":"sunny"},{"role":"tool","tool_call_id":"call_2","content":"noon"}],)"
            R"("stream":true,"stream_options":{"include_usage":true},)"
            R"("tools":[{"type":"function","function":{"name":"get_weather","description":"d","parameters":{"type":"object"},"strict":true}}],)"
            R"("tool_choice":{"type":"function","function":{"name":"get_weather"}},"parallel_tool_calls":false,)"
            R"("response_format":{"type":"json_schema","json_schema":{"name":"w","schema":{"type":"object"},"strict":true}},)"
            R"("reasoning_effort":"low"})");
  auto parsed = parseChatRequest(out);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_TRUE(parsed->stream);
  EXPECT_EQ(parsed->response_schema, R"({"type":"object"})");
}

TEST(ResponsesRequest, AssistantTextThenCallsIsOneTurn) {
  std::string out = toChat(R"({"model":"m","input":[{"role":"user","content":"q"},
    {"role":"assistant","content":"checking"},
    {"type":"function_call","call_id":"c","name":"f","arguments":"{}"},
    {"type":"function_call_output","call_id":"c","output":"x"}]})");
  EXPECT_NE(out.find(R"({"role":"assistant","content":"checking","tool_calls":[{"id":"c")"), std::string::npos) << out;
}

TEST(ResponsesRequest, RefusesWhatTheGatewayCannotCarryNamingTheField) {
  EXPECT_EQ(responsesRequestToChat("{not json").error().code, ErrorCode::kMalformedJson);
  EXPECT_EQ(responsesError(R"([1])"), "request body must be a JSON object");
  EXPECT_EQ(responsesError(R"({"input":"x"})"), "model: required non-empty string");
  EXPECT_EQ(responsesError(R"({"model":"m"})"), "input: required (a string or an array of items)");
  EXPECT_EQ(responsesError(R"({"model":"m","input":42})"), "input: must be a string or an array of items");
  EXPECT_EQ(responsesError(R"({"model":"m","input":[]})"), "input: must not be empty");
  EXPECT_EQ(responsesError(R"({"model":"m","input":"x","tools":[{"type":"web_search"}]})").rfind("tools[0].type: 'web_search' is a built-in tool", 0), 0u);
  EXPECT_EQ(responsesError(R"({"model":"m","input":"x","tools":[{"type":"file_search","vector_store_ids":[]}]})").rfind("tools[0].type:", 0), 0u);
  EXPECT_EQ(responsesError(R"({"model":"m","input":[{"type":"computer_call_output","call_id":"c"}]})").rfind("input[0].type: 'computer_call_output' is not supported", 0), 0u);
  EXPECT_EQ(responsesError(R"({"model":"m","input":[{"type":"item_reference","id":"msg_1"}]})").rfind("input[0].type: item_reference", 0), 0u);
  EXPECT_EQ(responsesError(R"({"model":"m","input":[{"role":"tool","content":"x"}]})"), "input[0].role: must be user, assistant, system or developer");
  EXPECT_EQ(responsesError(R"({"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_id":"f"}]}]})").rfind("input[0].content[0].type: 'input_file'", 0), 0u);
  EXPECT_EQ(responsesError(R"({"model":"m","input":[{"role":"user","content":[{"type":"input_image","file_id":"f"}]}]})").rfind("input[0].content[0].file_id:", 0), 0u);
  EXPECT_EQ(responsesError(R"({"model":"m","input":"x","previous_response_id":"resp_1"})").rfind("previous_response_id:", 0), 0u);
  EXPECT_EQ(responsesError(R"({"model":"m","input":"x","store":true})").rfind("store:", 0), 0u);
  EXPECT_EQ(responsesError(R"({"model":"m","input":"x","background":true})").rfind("background:", 0), 0u);
  EXPECT_EQ(responsesError(R"({"model":"m","input":"x","include":["file_search_call.results"]})").rfind("include:", 0), 0u);
  EXPECT_EQ(responsesError(R"({"model":"m","input":"x","truncation":"auto"})").rfind("truncation:", 0), 0u);
  EXPECT_EQ(responsesError(R"({"model":"m","input":"x","frobnicate":1})"), "frobnicate: unknown or unsupported parameter");
  EXPECT_EQ(responsesError(R"({"model":"m","input":"x","max_output_tokens":0})"), "max_output_tokens: must be a positive integer");
  EXPECT_EQ(responsesError(R"({"model":"m","input":"x","text":{"format":{"type":"json_schema"}}})"), "text.format.name: required string for json_schema");
  EXPECT_EQ(responsesError(R"({"model":"m","input":"x","tools":[{"type":"function","name":"f"}],"tool_choice":{"type":"file_search"}})").rfind("tool_choice.type:", 0), 0u);
}

TEST(ResponsesErrors, ParamNamesTheField) {
  Error e{ErrorCode::kInvalidArgument, "tools[0].type: 'web_search' is a built-in tool", 0};
  EXPECT_EQ(responsesErrorBody(e),
            R"({"error":{"message":"tools[0].type: 'web_search' is a built-in tool","type":"invalid_request_error",)"
            R"("code":"invalid_argument","param":"tools[0].type"}})");
  Error u{ErrorCode::kUpstreamError, "upstream failed: boom", 0};
  EXPECT_NE(responsesErrorBody(u).find(R"("param":null)"), std::string::npos);
}

simdjson::dom::element parseJson(simdjson::dom::parser& p, const std::string& s) {
  simdjson::dom::element el;
  EXPECT_EQ(p.parse(s).get(el), simdjson::SUCCESS) << s;
  return el;
}

TEST(ResponsesResponse, TextAndToolCallsBecomeOutputItemsWithUsageDetails) {
  auto out = chatResponseToResponses(
      R"({"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"mock-small","choices":[{"index":0,
          "message":{"role":"assistant","content":"Hello","tool_calls":[{"id":"call_9","type":"function",
          "function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}],
          "usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}})",
      Usage{10, 5, 4, 0, 2});
  ASSERT_TRUE(out) << out.error().message;
  simdjson::dom::parser p;
  auto r = parseJson(p, *out);
  // 128 random bits, never the upstream's id (a stored response is looked up by it).
  EXPECT_TRUE(std::regex_match(std::string(std::string_view(r["id"])), std::regex("resp_[0-9a-f]{32}")));
  EXPECT_EQ(std::string_view(r["object"]), "response");
  EXPECT_EQ(int64_t(r["created_at"]), 1700000000);
  EXPECT_EQ(std::string_view(r["status"]), "completed");
  EXPECT_EQ(std::string_view(r["model"]), "mock-small");
  EXPECT_EQ(std::string_view(r["output"].at(0)["type"]), "message");
  EXPECT_EQ(std::string_view(r["output"].at(0)["content"].at(0)["type"]), "output_text");
  EXPECT_EQ(std::string_view(r["output"].at(0)["content"].at(0)["text"]), "Hello");
  EXPECT_EQ(std::string_view(r["output"].at(1)["type"]), "function_call");
  EXPECT_EQ(std::string_view(r["output"].at(1)["call_id"]), "call_9");
  EXPECT_EQ(std::string_view(r["output"].at(1)["name"]), "f");
  EXPECT_EQ(std::string_view(r["output"].at(1)["arguments"]), R"({"a":1})");
  EXPECT_EQ(int64_t(r["usage"]["input_tokens"]), 10);
  EXPECT_EQ(int64_t(r["usage"]["input_tokens_details"]["cached_tokens"]), 4);
  EXPECT_EQ(int64_t(r["usage"]["output_tokens"]), 5);
  EXPECT_EQ(int64_t(r["usage"]["output_tokens_details"]["reasoning_tokens"]), 2);
  EXPECT_EQ(int64_t(r["usage"]["total_tokens"]), 15);
}

TEST(ResponsesResponse, LengthIsIncomplete) {
  auto out = chatResponseToResponses(
      R"({"id":"x","model":"m","choices":[{"message":{"content":"cut"},"finish_reason":"length"}]})", std::nullopt);
  ASSERT_TRUE(out);
  simdjson::dom::parser p;
  auto r = parseJson(p, *out);
  EXPECT_EQ(std::string_view(r["status"]), "incomplete");
  EXPECT_EQ(std::string_view(r["incomplete_details"]["reason"]), "max_output_tokens");
}

TEST(ResponsesResponse, RejectsWhatIsNotACompletion) {
  EXPECT_FALSE(chatResponseToResponses("nope", std::nullopt));
  EXPECT_FALSE(chatResponseToResponses(R"({"choices":[]})", std::nullopt));
  EXPECT_FALSE(chatResponseToResponses(R"({"choices":[{"delta":{}}]})", std::nullopt));
}

struct Event {
  std::string name;
  std::string data;
};

std::vector<Event> responseEvents(const std::string& sse) {
  std::vector<Event> out;
  size_t pos = 0;
  while (pos < sse.size()) {
    size_t end = sse.find("\n\n", pos);
    if (end == std::string::npos) break;
    std::string block = sse.substr(pos, end - pos);
    pos = end + 2;
    size_t nl = block.find('\n');
    EXPECT_EQ(block.rfind("event: ", 0), 0u) << block;
    EXPECT_EQ(block.substr(nl + 1, 6), "data: ") << block;
    out.push_back(Event{block.substr(7, nl - 7), block.substr(nl + 7)});
  }
  return out;
}

std::vector<std::string> names(const std::vector<Event>& evs) {
  std::vector<std::string> n;
  for (const auto& e : evs) n.push_back(e.name);
  return n;
}

TEST(ResponsesStream, TextStreamBecomesResponsesEvents) {
  ChatToResponsesStream s;
  std::string out;
  ASSERT_TRUE(s.onChunk(R"({"id":"c1","created":5,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})", out));
  ASSERT_TRUE(s.onChunk(R"({"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"Hel"}}]})", out));
  ASSERT_TRUE(s.onChunk(R"({"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"lo"}}]})", out));
  ASSERT_TRUE(s.onChunk(R"({"id":"c1","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})", out));
  ASSERT_TRUE(s.onChunk(R"({"id":"c1","model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}})", out));
  s.finish(Usage{3, 2, 1, 0, 0}, out);
  auto evs = responseEvents(out);
  EXPECT_EQ(names(evs), (std::vector<std::string>{
                            "response.created", "response.in_progress", "response.output_item.added",
                            "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
                            "response.output_text.done", "response.content_part.done", "response.output_item.done",
                            "response.completed"}));
  simdjson::dom::parser p;
  for (size_t i = 0; i < evs.size(); ++i) {
    auto d = parseJson(p, evs[i].data);
    EXPECT_EQ(std::string_view(d["type"]), evs[i].name);
    EXPECT_EQ(int64_t(d["sequence_number"]), static_cast<int64_t>(i));
  }
  auto created = parseJson(p, evs[0].data);
  const std::string response_id{std::string_view(created["response"]["id"])};
  EXPECT_TRUE(std::regex_match(response_id, std::regex("resp_[0-9a-f]{32}")));
  EXPECT_EQ(std::string_view(created["response"]["status"]), "in_progress");
  auto delta = parseJson(p, evs[4].data);
  EXPECT_EQ(std::string_view(delta["delta"]), "Hel");
  auto added = parseJson(p, evs[2].data);
  const std::string item_id{std::string_view(added["item"]["id"])};
  EXPECT_EQ(item_id.rfind("msg_", 0), 0u);
  EXPECT_EQ(item_id.size(), 4u + 32u);  // random, not derived from the upstream's id
  delta = parseJson(p, evs[4].data);
  EXPECT_EQ(std::string_view(delta["item_id"]), item_id);
  auto done = parseJson(p, evs[6].data);
  EXPECT_EQ(std::string_view(done["text"]), "Hello");
  auto completed = parseJson(p, evs[9].data);
  EXPECT_EQ(std::string_view(completed["response"]["status"]), "completed");
  EXPECT_EQ(std::string_view(completed["response"]["id"]), response_id);  // one id for the whole stream
  EXPECT_EQ(std::string_view(completed["response"]["output"].at(0)["content"].at(0)["text"]), "Hello");
  EXPECT_EQ(int64_t(completed["response"]["usage"]["input_tokens"]), 3);
  EXPECT_EQ(int64_t(completed["response"]["usage"]["input_tokens_details"]["cached_tokens"]), 1);
  EXPECT_EQ(int64_t(completed["response"]["usage"]["total_tokens"]), 5);
}

TEST(ResponsesStream, ToolCallsBecomeFunctionCallItemsWithArgumentDeltas) {
  ChatToResponsesStream s;
  std::string out;
  ASSERT_TRUE(s.onChunk(R"({"id":"c2","model":"m","choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":""}}]}}]})", out));
  ASSERT_TRUE(s.onChunk(R"({"id":"c2","model":"m","choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"x\":"}}]}}]})", out));
  ASSERT_TRUE(s.onChunk(R"({"id":"c2","model":"m","choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]}}]})", out));
  ASSERT_TRUE(s.onChunk(R"({"id":"c2","model":"m","choices":[{"delta":{"tool_calls":[{"index":1,"id":"call_b","function":{"name":"g","arguments":"{}"}}]}}]})", out));
  ASSERT_TRUE(s.onChunk(R"({"id":"c2","model":"m","choices":[{"delta":{},"finish_reason":"tool_calls"}]})", out));
  s.finish(Usage{1, 1, 0, 0, 0}, out);
  auto evs = responseEvents(out);
  EXPECT_EQ(names(evs), (std::vector<std::string>{
                            "response.created", "response.in_progress", "response.output_item.added",
                            "response.function_call_arguments.delta", "response.function_call_arguments.delta",
                            "response.function_call_arguments.done", "response.output_item.done",
                            "response.output_item.added", "response.function_call_arguments.delta",
                            "response.function_call_arguments.done", "response.output_item.done", "response.completed"}));
  simdjson::dom::parser p;
  auto added = parseJson(p, evs[2].data);
  EXPECT_EQ(std::string_view(added["item"]["type"]), "function_call");
  EXPECT_EQ(std::string_view(added["item"]["call_id"]), "call_a");
  EXPECT_EQ(std::string_view(added["item"]["name"]), "f");
  auto args_done = parseJson(p, evs[5].data);
  EXPECT_EQ(std::string_view(args_done["arguments"]), R"({"x":1})");
  auto second = parseJson(p, evs[7].data);
  EXPECT_EQ(int64_t(second["output_index"]), 1);
  auto completed = parseJson(p, evs[11].data);
  EXPECT_EQ(std::string_view(completed["response"]["output"].at(1)["name"]), "g");
}

TEST(ResponsesStream, EmptyStreamStillCompletesAndErrorsAreEvents) {
  ChatToResponsesStream s;
  std::string out;
  s.finish(Usage{}, out);
  auto evs = responseEvents(out);
  EXPECT_EQ(names(evs), (std::vector<std::string>{"response.created", "response.in_progress", "response.completed"}));

  ChatToResponsesStream bad;
  std::string o;
  EXPECT_FALSE(bad.onChunk("not json", o));
  EXPECT_FALSE(bad.onChunk(R"({"error":{"message":"boom"}})", o));
  ASSERT_TRUE(bad.onChunk(R"({"id":"c","choices":[{"delta":{"tool_calls":[{"index":1,"id":"a","function":{"name":"f"}}]}}]})", o));
  ASSERT_TRUE(bad.onChunk(R"({"id":"c","choices":[{"delta":{"content":"x"}}]})", o));
  EXPECT_FALSE(bad.onChunk(R"({"id":"c","choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1"}}]}}]})", o));
  auto err = responseEvents(bad.errorEvent(Error{ErrorCode::kUpstreamError, "upstream stream failed", 0}));
  ASSERT_EQ(err.size(), 1u);
  EXPECT_EQ(err[0].name, "error");
  simdjson::dom::parser p;
  auto d = parseJson(p, err[0].data);
  EXPECT_EQ(std::string_view(d["type"]), "error");
  EXPECT_EQ(std::string_view(d["message"]), "upstream stream failed");
}

}  // namespace
}  // namespace rightsize::api

namespace rightsize::api {
namespace {

TEST(ResponseItemStore, ItemReferencesResolveToTheStoredOutputItems) {
  ResponseItemStore store;
  auto answer = chatResponseToResponses(
      R"({"id":"c7","model":"m","choices":[{"message":{"content":"Let me look","tool_calls":[{"id":"call_1",
          "type":"function","function":{"name":"lookup","arguments":"{\"q\":\"x\"}"}}]},"finish_reason":"tool_calls"}]})",
      std::nullopt);
  ASSERT_TRUE(answer);
  store.putOutput(*answer);
  simdjson::dom::parser p;
  auto r = parseJson(p, *answer);
  const std::string msg_id{std::string_view(r["output"].at(0)["id"])};
  const std::string fc_id{std::string_view(r["output"].at(1)["id"])};
  EXPECT_EQ(fc_id.rfind("fc_", 0), 0u);
  auto out = responsesRequestToChat(R"({"model":"m","store":true,"input":[{"role":"user","content":"q"},
      {"type":"item_reference","id":")" + msg_id + R"("},{"type":"item_reference","id":")" + fc_id + R"("},
      {"type":"function_call_output","call_id":"call_1","output":"found"}]})",
                                    &store);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(*out,
            R"({"model":"m","messages":[{"role":"user","content":"q"},{"role":"assistant","content":"Let me look",)"
            R"("tool_calls":[{"id":"call_1","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"x\"}"}}]},)"
            R"({"role":"tool","tool_call_id":"call_1","content":"found"}]})");
  auto missing = responsesRequestToChat(R"({"model":"m","input":[{"type":"item_reference","id":"msg_gone"}]})", &store);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message.rfind("input[0].id: item 'msg_gone' is not (or no longer) kept", 0), 0u);
}

TEST(ResponseItemStore, EvictsTheOldestBeyondItsBounds) {
  ResponseItemStore store(2, 1 << 20);
  store.putOutput(R"({"output":[{"id":"a","type":"message"},{"id":"b","type":"message"}]})");
  store.putOutput(R"({"output":[{"id":"c","type":"message"}]})");
  EXPECT_FALSE(store.get("a"));
  EXPECT_TRUE(store.get("b"));
  EXPECT_TRUE(store.get("c"));
  store.putOutput("not json");  // ignored
  ResponseItemStore small(100, 40);
  small.putOutput(R"({"output":[{"id":"x","type":"message","text":"0123456789012345678901234567890"}]})");
  EXPECT_FALSE(small.get("x"));  // one item over the byte bound is not kept
}

TEST(ResponseItemStore, StreamFinalResponseCanBeStored) {
  ChatToResponsesStream s;
  std::string out;
  ASSERT_TRUE(s.onChunk(R"({"id":"s1","choices":[{"delta":{"content":"hi"},"finish_reason":"stop"}]})", out));
  s.finish(Usage{1, 1, 0, 0, 0}, out);
  ResponseItemStore store;
  store.putOutput(s.finalResponse());
  simdjson::dom::parser p;
  auto r = parseJson(p, s.finalResponse());
  auto item = store.get(std::string_view(r["output"].at(0)["id"]));
  ASSERT_TRUE(item);
  EXPECT_NE(item->find(R"("text":"hi")"), std::string::npos);
}

}  // namespace
}  // namespace rightsize::api

namespace rightsize::api {
namespace {

TEST(ResponsesTurn, PreviousConversationComesAfterTheNewInstructionsAndBeforeTheInput) {
  // What the store kept after turn 1: its input and its output (a tool call).
  const std::string previous =
      R"([{"type":"message","role":"user","content":"weather in Paris?"},)"
      R"({"id":"fc_1","type":"function_call","call_id":"call_1","name":"weather","arguments":"{\"city\":\"Paris\"}"}])";
  auto turn = translateResponsesRequest(
      R"({"model":"m","previous_response_id":"resp_1","instructions":"Be brief.",
          "input":[{"type":"function_call_output","call_id":"call_1","output":"18C"}]})",
      nullptr, previous);
  ASSERT_TRUE(turn) << turn.error().message;
  EXPECT_EQ(turn->chat,
            R"({"model":"m","messages":[{"role":"system","content":"Be brief."},)"
            R"({"role":"user","content":"weather in Paris?"},)"
            R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":)"
            R"({"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},)"
            R"({"role":"tool","tool_call_id":"call_1","content":"18C"}]})");
  // The conversation the answer continues: the previous items, then this input (never the instructions).
  EXPECT_EQ(turn->input_items,
            previous.substr(0, previous.size() - 1) +
                R"(,{"type":"function_call_output","call_id":"call_1","output":"18C"}])");
  EXPECT_TRUE(turn->store);
}

TEST(ResponsesTurn, StringInputIsRecordedAsAUserMessageAndStoreFalseIsKept) {
  auto turn = translateResponsesRequest(R"({"model":"m","input":"hi \"you\"","store":false})", nullptr, "");
  ASSERT_TRUE(turn) << turn.error().message;
  EXPECT_EQ(turn->input_items, R"([{"type":"message","role":"user","content":"hi \"you\""}])");
  EXPECT_FALSE(turn->store);
}

TEST(ResponsesTurn, PreviousResponseIdWithoutAStoreIsAClear400) {
  auto turn = translateResponsesRequest(R"({"model":"m","input":"hi","previous_response_id":"resp_1"})", nullptr,
                                        std::nullopt);
  ASSERT_FALSE(turn);
  EXPECT_EQ(turn.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(turn.error().message.rfind("previous_response_id: this gateway keeps no responses", 0), 0u);
  auto bad = translateResponsesRequest(R"({"model":"m","input":"hi","previous_response_id":7})", nullptr, "[]");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "previous_response_id: must be a string");
  auto corrupt = translateResponsesRequest(R"({"model":"m","input":"hi","previous_response_id":"r"})", nullptr,
                                           "{not an array");
  ASSERT_FALSE(corrupt);
  EXPECT_EQ(corrupt.error().code, ErrorCode::kCorruptData);
}

TEST(ResponsesTurn, PreviousResponseIdIsReadFromTheBody) {
  EXPECT_EQ(previousResponseId(R"({"model":"m","previous_response_id":"resp_9"})"), "resp_9");
  EXPECT_EQ(previousResponseId(R"({"model":"m"})"), "");
  EXPECT_EQ(previousResponseId("not json"), "");
  EXPECT_EQ(previousResponseId(R"({"previous_response_id":null})"), "");
}

TEST(ResponsesTurn, ConversationAfterAppendsTheOutputItemsAndGivesTheId) {
  std::string id;
  EXPECT_EQ(conversationAfter(R"([{"a":1}])", R"({"id":"resp_2","output":[{"b":2},{"c":[3]}]})", &id),
            R"([{"a":1},{"b":2},{"c":[3]}])");
  EXPECT_EQ(id, "resp_2");
  EXPECT_EQ(conversationAfter("", R"({"id":"r","output":[{"b":2}]})"), R"([{"b":2}])");
  std::string none;
  EXPECT_EQ(conversationAfter(R"([{"a":1}])", "garbage", &none), R"([{"a":1}])");
  EXPECT_EQ(none, "");
}

}  // namespace
}  // namespace rightsize::api

namespace rightsize::api {
namespace {

TEST(ResponsesAnswer, EveryResponseGetsItsOwnIdEvenForTheSameUpstreamId) {
  const std::string chat = R"({"id":"chatcmpl-fixed","model":"m","choices":[{"message":{"content":"hi"},"finish_reason":"stop"}]})";
  std::string a, b;
  conversationAfter("[]", chatResponseToResponses(chat, std::nullopt).value(), &a);
  conversationAfter("[]", chatResponseToResponses(chat, std::nullopt).value(), &b);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.rfind("resp_", 0), 0u);
}

}  // namespace
}  // namespace rightsize::api
