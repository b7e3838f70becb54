#pragma once
// Provider for Anthropic's Messages API (kind `anthropic`): POST {base_url}/v1/messages with the
// key in `x-api-key` and `anthropic-version: 2023-06-01`. The gateway's OpenAI-shaped request is
// translated on the way out and the answer (message or stream events) back to OpenAI shapes
// (api/anthropic_egress.h), so the rest of the gateway sees an OpenAI-compatible provider.

#include <memory>

#include "upstream/provider.h"

namespace rightsize::upstream {

Result<std::unique_ptr<Provider>> makeAnthropicProvider(const config::ProviderConfig& cfg, asio::ssl::context& tls);

}  // namespace rightsize::upstream
