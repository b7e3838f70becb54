// Fuzzes the Responses API translation (api/responses.h). The first byte picks the side:
//   even: the input is a Responses request body, translated with item_reference resolved from the
//         items earlier answer-side inputs left in a store. A body that translates must give a
//         Chat Completions body the gateway's own parser accepts (parseChatRequest), except for
//         the gateway's `rightsize` options, carried as sent and validated by that parser.
//   odd:  the input is an upstream's answer: whole, as a chat.completion; then split at '\n' into
//         chunk payloads relayed through ChatToResponsesStream (ended by finish(), or by
//         errorEvent() at the first chunk it refuses). Every event written must be a named SSE
//         event whose data is one JSON object, and a translated completion must be JSON too.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/chat_request.h"
#include "api/responses.h"

namespace {

void checkEvents(simdjson::dom::parser& parser, std::string_view out) {
  while (!out.empty()) {
    size_t end = out.find("\n\n");
    if (end == std::string_view::npos) std::abort();
    std::string_view ev = out.substr(0, end);
    out.remove_prefix(end + 2);
    if (ev.substr(0, 7) != "event: ") std::abort();
    size_t nl = ev.find('\n');
    if (nl == std::string_view::npos || ev.substr(nl + 1, 6) != "data: ") std::abort();
    std::string_view data = ev.substr(nl + 7);
    if (data.find('\n') != std::string_view::npos) std::abort();
    simdjson::dom::element el;
    if (parser.parse(std::string(data)).get(el) != simdjson::SUCCESS || !el.is_object()) std::abort();
  }
}

}  // namespace

// Output items of earlier inputs (bounded), as the gateway keeps them for item_reference.
rightsize::api::ResponseItemStore& store() {
  static rightsize::api::ResponseItemStore items(256, 1 << 20);
  return items;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool answer_side = data[0] & 1;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  simdjson::dom::parser parser;
  if (!answer_side) {
    // A stored conversation continued: the input is the previous one's items as well as the request.
    static const std::string kPrevious =
        R"([{"type":"message","role":"user","content":"q"},{"id":"fc_1","type":"function_call","call_id":"c1",)"
        R"("name":"f","arguments":"{}"}])";
    const bool continued = data[0] & 2;
    auto turn = rightsize::api::translateResponsesRequest(
        in, &store(), continued ? std::optional<std::string_view>(kPrevious) : std::nullopt);
    if (turn) {
      auto parsed = rightsize::api::parseChatRequest(turn->chat);
      if (!parsed && parsed.error().message.rfind("rightsize", 0) != 0) std::abort();
      // The conversation to store is JSON, with the answer's items appended.
      simdjson::dom::element el;
      if (parser.parse(turn->input_items).get(el) != simdjson::SUCCESS || !el.is_array()) std::abort();
      std::string after = rightsize::api::conversationAfter(turn->input_items, in);
      if (parser.parse(after).get(el) != simdjson::SUCCESS || !el.is_array()) std::abort();
    }
    (void)rightsize::api::previousResponseId(in);
    return 0;
  }
  auto whole = rightsize::api::chatResponseToResponses(in, std::nullopt);
  if (whole) {
    simdjson::dom::element el;
    if (parser.parse(*whole).get(el) != simdjson::SUCCESS) std::abort();
    store().putOutput(*whole);
  }
  rightsize::api::ChatToResponsesStream stream;
  std::string out;
  bool failed = false;
  while (!in.empty()) {
    size_t nl = in.find('\n');
    std::string_view chunk = in.substr(0, nl);
    in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
    if (!stream.onChunk(chunk, out)) {
      out += stream.errorEvent(rightsize::Error{rightsize::ErrorCode::kUpstreamError, "bad chunk", 0});
      failed = true;
      break;
    }
  }
  if (!failed) {
    stream.finish(rightsize::api::Usage{1, 2, 0, 0, 0}, out);
    store().putOutput(stream.finalResponse());
  }
  checkEvents(parser, out);
  return 0;
}
