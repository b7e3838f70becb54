#pragma once
// Server-Sent Events: an incremental decoder for upstream streams (events may arrive split
// across reads, or several in one read) and framing for the client side.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace rightsize::api {

class SseDecoder {
 public:
  // Bound on one event's size; a longer event is an error (the stream is not SSE, or hostile).
  explicit SseDecoder(size_t max_event_bytes = 4 * 1024 * 1024) : max_event_bytes_(max_event_bytes) {}

  // Appends bytes read from the upstream.
  void feed(std::string_view bytes) { buf_.append(bytes); }

  // Next complete event's data (multiple `data:` lines joined with "\n"); nullopt when no whole
  // event is buffered yet. Events with no data line (comments, keep-alives) are skipped.
  // Sets overflow() when the buffered partial event exceeds the bound.
  std::optional<std::string> next();

  bool overflow() const { return overflow_; }
  // Bytes of an incomplete event still buffered (non-empty at end of stream = truncated).
  size_t pending() const { return buf_.size() - pos_; }

 private:
  std::string buf_;
  size_t pos_ = 0;
  size_t max_event_bytes_;
  bool overflow_ = false;
};

// "data: <payload>\n\n"
std::string sseEvent(std::string_view payload);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

}  // namespace rightsize::api
