#pragma once
// The replay provider: answers chat requests from an outcomes file (SPEC "Data formats") of
// real recorded model responses. A request whose last user message (or whose human ask) is a
// recorded prompt gets the recorded `response` of the requested model id, with usage estimated
// at 4 characters a token; streamed as SSE chunks when asked. A prompt that is not recorded is
// a clear 422 error, never an invented answer.

#include <memory>

#include "upstream/provider.h"

namespace rightsize::upstream {

Result<std::unique_ptr<Provider>> makeReplayProvider(const config::ProviderConfig& cfg);

// Whitespace-collapsed, trimmed form of a prompt: the replay lookup key.
std::string normalizePrompt(std::string_view text);

}  // namespace rightsize::upstream
