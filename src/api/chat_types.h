#pragma once
// Minimal view of chat messages shared by the API layer, the router and the CLI.

#include <span>
#include <string>
#include <string_view>

namespace rightsize::api {

struct ChatMessage {
  std::string role;   // system | developer | user | assistant | tool | function
  std::string text;   // the message's text (content string, or the text parts joined with "\n")
};

// The human's ask, which is all routing looks at: the system (and developer) prompts followed
// by the last user turn, joined by "\n". Tool results, assistant turns and earlier user turns
// are left out. Never fails; an empty result means there was no user text.
std::string humanAsk(std::span<const ChatMessage> messages);

}  // namespace rightsize::api
