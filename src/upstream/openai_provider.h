#pragma once
// Provider for any OpenAI-compatible Chat Completions server (OpenAI, vLLM, llama-server,
// Ollama, Together, Groq, ...): POST {base_url}/chat/completions, and {base_url}/embeddings for
// Embeddings calls, with a Bearer key.

#include <memory>

#include "upstream/provider.h"

namespace rightsize::upstream {

Result<std::unique_ptr<Provider>> makeOpenAIProvider(const config::ProviderConfig& cfg, asio::ssl::context& tls);

}  // namespace rightsize::upstream
