// Fuzzes the stream relay's reading side: SseDecoder fed the input in pieces (split points taken
// from the input's first bytes) and api::inspectChunk on every event it yields. Checks: the same
// bytes fed whole or in pieces give the same events (the decoder is chunking-independent), and
// re-framing an event with sseEvent() and decoding it gives it back when it has no newline.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "api/chat_response.h"
#include "api/sse.h"

using rightsize::api::inspectChunk;
using rightsize::api::SseDecoder;

namespace {
std::vector<std::string> drain(SseDecoder& d) {
  std::vector<std::string> out;
  while (auto ev = d.next()) out.push_back(std::move(*ev));
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t step = 1 + data[0] % 64;      // piece size
  const size_t limit = 64 + data[1] * 64;    // max event bytes (small, to reach the overflow path)
  std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);

  SseDecoder whole(limit);
  whole.feed(in);
  std::vector<std::string> a = drain(whole);

  SseDecoder pieces(limit);
  std::vector<std::string> b;
  for (size_t i = 0; i < in.size(); i += step) {
    pieces.feed(in.substr(i, step));
    for (auto& ev : drain(pieces)) b.push_back(std::move(ev));
  }
  if (!whole.overflow() && !pieces.overflow()) {
    if (a != b) std::abort();
    if (whole.pending() != pieces.pending()) std::abort();
  }
  for (const auto& ev : a) {
    auto info = inspectChunk(ev);
    if (info.usage && (info.usage->prompt_tokens < 0 || info.usage->completion_tokens < 0)) {
      // negative counts are passed through as read; only check the call is total
    }
    if (ev.find('\n') == std::string::npos && ev.find('\r') == std::string::npos) {
      SseDecoder round;
      round.feed(rightsize::api::sseEvent(ev));
      auto back = round.next();
      if (!back || *back != ev) std::abort();
    }
  }
  return 0;
}
