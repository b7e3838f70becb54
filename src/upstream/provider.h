#pragma once
// One interface for every upstream model provider kind (openai-compatible, replay, ...).
// Implementations are created once per configured provider and shared by all worker threads:
// complete() and stream() must be safe to call concurrently.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "api/chat_request.h"
#include "api/chat_response.h"
#include "common/result.h"
#include "config/config.h"
#include "http/asio.h"

namespace rightsize::upstream {

namespace asio = boost::asio;
using Millis = std::chrono::milliseconds;

// A failed call, with what the resilience layer needs to decide what to do next.
struct CallError {
  Error error;
  bool retryable = false;        // same provider again may succeed (connect error, 429, 5xx, timeout)
  bool breaker_failure = false;  // counts toward opening the provider's circuit
  bool fallback_ok = true;       // another model may succeed (false: the request itself is bad)
  std::optional<Millis> retry_after;
};

template <typename T>
using CallResult = tl::expected<T, CallError>;

struct ChatCall {
  const api::ChatRequest* request = nullptr;  // the client's parsed request (never null)
  std::string body;                           // the request rewritten for this upstream (OpenAI shape)
  std::string model_id;                       // the provider's model id
};

// One Embeddings call (POST /v1/embeddings): the client's body with `model` replaced
// (api::rewriteEmbeddingsRequest), relayed as is.
struct EmbeddingsCall {
  std::string body;
  std::string model_id;                       // the provider's model id
};

struct Completion {
  std::string body;                           // response JSON as the client will receive it
  std::optional<api::Usage> usage;
};

// Streamed reply: SSE event payloads one by one, as they arrive.
class ChatStream {
 public:
  virtual ~ChatStream() = default;
  // The next event's data payload (a chat.completion.chunk JSON, or an error object); nullopt
  // when the stream ended normally. An Error means the stream broke (reset, timeout, truncated).
  virtual asio::awaitable<Result<std::optional<std::string>>> next() = 0;
};

class Provider {
 public:
  virtual ~Provider() = default;
  virtual asio::awaitable<CallResult<Completion>> complete(const ChatCall& call) = 0;
  // Returns once the upstream accepted the request (response head 200, or the first event);
  // failures before that are CallErrors and may be retried.
  virtual asio::awaitable<CallResult<std::unique_ptr<ChatStream>>> stream(const ChatCall& call) = 0;
  // An Embeddings call; the answer's body is relayed as the upstream sent it (usage parsed).
  // Default, for kinds without an embeddings API (anthropic, replay): a non-retryable
  // kInvalidArgument "provider kind K has no embeddings endpoint" (fallback_ok false), nothing sent.
  virtual asio::awaitable<CallResult<Completion>> embed(const EmbeddingsCall& call);
  virtual const config::ProviderConfig& config() const = 0;
  // Asks the upstream for the input token count of an Anthropic count_tokens body (`model` already
  // the provider's id) and returns the upstream's answer body ({"input_tokens": N}). Only the
  // anthropic kind counts; the others fail with kInvalidArgument. No retries, no breaker.
  virtual asio::awaitable<CallResult<std::string>> countTokens(const std::string& anthropic_body);
  // Releases pooled connections; called once the worker threads have stopped.
  virtual void shutdown() {}
};

// Whether a provider kind has an embeddings endpoint (only openai-compatible ones do).
bool hasEmbeddings(config::ProviderKind kind);

// The error a provider of `kind` without embeddings answers (see Provider::embed).
CallError noEmbeddings(config::ProviderKind kind);

// Builds the provider for `cfg`. Replay loads its data file here (kIo/kCorruptData on failure).
// `tls` must outlive the provider.
Result<std::unique_ptr<Provider>> makeProvider(const config::ProviderConfig& cfg, asio::ssl::context& tls);

// Retry-After header: delay-seconds or an HTTP date; nullopt if absent or unparseable.
std::optional<Millis> parseRetryAfter(std::string_view value);

// Turns an upstream's non-2xx status and body into a CallError with a readable message
// ("upstream openai returned 401: Incorrect API key provided").
CallError statusError(std::string_view provider, int status, std::string_view body, std::optional<Millis> retry_after);

// A call that failed on the way (connect, write, read, timeout), or a 2xx that is not an answer
// (cut short, not JSON: never relayed as a success): retryable, and a failure for the provider's
// breaker.
CallError transportFailure(const Error& e);

// Replaces, in e's message, every occurrence of the provider's credentials (api_key, and the value
// of every configured extra header of 8 bytes or more) with "[redacted]": some upstreams echo the
// key they were sent in their error messages, and those messages reach logs and clients.
CallError redactSecrets(CallError e, const config::ProviderConfig& cfg);

}  // namespace rightsize::upstream
