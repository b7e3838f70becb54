#include "api/chat_types.h"

namespace rightsize::api {

std::string humanAsk(std::span<const ChatMessage> messages) {
  std::string out;
  for (const auto& m : messages) {
    if (m.role == "system" || m.role == "developer") {
      if (!out.empty()) out.push_back('\n');
      out += m.text;
    }
  }
  for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
    if (it->role == "user") {
      if (!out.empty()) out.push_back('\n');
      out += it->text;
      break;
    }
  }
  return out;
}

}  // namespace rightsize::api
