#include "upstream/provider.h"

#include <charconv>
#include <ctime>

#include <fmt/format.h>
#include <simdjson.h>

#include "upstream/anthropic_provider.h"
#include "upstream/openai_provider.h"
#include "upstream/replay_provider.h"

namespace rightsize::upstream {

asio::awaitable<CallResult<std::string>> Provider::countTokens(const std::string& /*anthropic_body*/) {
  CallError ce;
  ce.error = Error{ErrorCode::kInvalidArgument, "provider '" + config().name + "' cannot count tokens", 0};
  co_return tl::unexpected(std::move(ce));
}

Result<std::unique_ptr<Provider>> makeProvider(const config::ProviderConfig& cfg, asio::ssl::context& tls) {
  switch (cfg.kind) {
    case config::ProviderKind::kOpenAI: return makeOpenAIProvider(cfg, tls);
    case config::ProviderKind::kReplay: return makeReplayProvider(cfg);
    case config::ProviderKind::kAnthropic: return makeAnthropicProvider(cfg, tls);
  }
  return fail(ErrorCode::kInternal, "unknown provider kind");
}

bool hasEmbeddings(config::ProviderKind kind) { return kind == config::ProviderKind::kOpenAI; }

CallError noEmbeddings(config::ProviderKind kind) {
  CallError e;
  e.error = Error{ErrorCode::kInvalidArgument,
                  fmt::format("provider kind {} has no embeddings endpoint", config::providerKindName(kind)), 0};
  e.fallback_ok = false;
  return e;
}

asio::awaitable<CallResult<Completion>> Provider::embed(const EmbeddingsCall&) {
  co_return tl::unexpected(noEmbeddings(config().kind));
}

std::optional<Millis> parseRetryAfter(std::string_view v) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  double secs = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), secs);
  if (r.ec == std::errc() && r.ptr == v.data() + v.size()) {
    if (secs < 0) return std::nullopt;
    return Millis(static_cast<int64_t>(secs * 1000));
  }
  // HTTP-date, e.g. "Wed, 21 Oct 2015 07:28:00 GMT".
  std::tm tm{};
  std::string s(v);
  if (strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr) return std::nullopt;
  std::time_t when = timegm(&tm);
  std::time_t now = std::time(nullptr);
  return Millis(when > now ? (when - now) * 1000 : 0);
}

CallError statusError(std::string_view provider, int status, std::string_view body, std::optional<Millis> retry_after) {
  std::string detail;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS) {
    std::string_view msg;
    if (root["error"]["message"].get(msg) == simdjson::SUCCESS) detail = std::string(msg);
    else if (root["error"].get(msg) == simdjson::SUCCESS) detail = std::string(msg);
    else if (root["message"].get(msg) == simdjson::SUCCESS) detail = std::string(msg);
  }
  if (detail.empty()) detail = std::string(body.substr(0, 200));
  CallError e;
  e.error = Error{ErrorCode::kUpstreamError, fmt::format("upstream {} returned {}: {}", provider, status, detail), status};
  e.retry_after = retry_after;
  e.retryable = status == 429 || status == 408 || status >= 500;
  e.breaker_failure = status == 408 || status >= 500;
  // The provider rejected the request itself (bad field, too long): another model would too.
  // Auth failures are the gateway's key for that provider: another provider may work.
  e.fallback_ok = !(status == 400 || status == 404 || status == 413 || status == 422);
  if (status == 408) e.error.code = ErrorCode::kTimeout;
  return e;
}

CallError transportFailure(const Error& e) {
  CallError ce;
  ce.error = e;
  ce.retryable = true;
  ce.breaker_failure = true;
  return ce;
}

CallError redactSecrets(CallError e, const config::ProviderConfig& cfg) {
  auto redact = [&](std::string_view secret) {
    if (secret.empty()) return;
    std::string& m = e.error.message;
    for (size_t at = m.find(secret); at != std::string::npos; at = m.find(secret, at + 10))
      m.replace(at, secret.size(), "[redacted]");
  };
  redact(cfg.api_key);
  for (const auto& [name, value] : cfg.headers)
    if (value.size() >= 8) redact(value);
  return e;
}

}  // namespace rightsize::upstream
