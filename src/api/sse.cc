#include "api/sse.h"

namespace rightsize::api {

std::optional<std::string> SseDecoder::next() {
  while (true) {
    // An event ends at a blank line: "\n\n", "\r\n\r\n" (or mixed).
    std::string_view rest(buf_.data() + pos_, buf_.size() - pos_);
    size_t end = std::string_view::npos, sep_len = 0;
    for (size_t i = 0; i + 1 < rest.size(); ++i) {
      if (rest[i] != '\n') continue;
      if (rest[i + 1] == '\n') { end = i; sep_len = 2; break; }
      if (rest[i + 1] == '\r' && i + 2 < rest.size() && rest[i + 2] == '\n') { end = i; sep_len = 3; break; }
    }
    if (end == std::string_view::npos) {
      if (rest.size() > max_event_bytes_) overflow_ = true;
      // Compact so the buffer does not grow with the whole stream.
      if (pos_ > 0 && pos_ * 2 > buf_.size()) {
        buf_.erase(0, pos_);
        pos_ = 0;
      }
      return std::nullopt;
    }
    std::string_view event = rest.substr(0, end + 1);
    pos_ += end + sep_len;
    std::string data;
    bool has_data = false;
    while (!event.empty()) {
      size_t nl = event.find('\n');
      std::string_view line = event.substr(0, nl);
      event.remove_prefix(nl == std::string_view::npos ? event.size() : nl + 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.substr(0, 5) != "data:") continue;  // comments, event:, id:, retry:
      line.remove_prefix(5);
      if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      if (has_data) data.push_back('\n');
      data += line;
      has_data = true;
    }
    if (pos_ == buf_.size()) {
      buf_.clear();
      pos_ = 0;
    }
    if (has_data) return data;
  }
}

std::string sseEvent(std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 8);
  out += "data: ";
  out += payload;
  out += "\n\n";
  return out;
}

}  // namespace rightsize::api
