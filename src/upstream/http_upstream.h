#pragma once
// What the HTTP provider kinds (openai, anthropic) are built on: the pooled client for the
// provider's base_url, with a TLS context of its own when the provider trusts a private CA.

#include <memory>
#include <optional>

#include "common/result.h"
#include "config/config.h"
#include "http/client.h"
#include "upstream/provider.h"

namespace rightsize::upstream {

struct HttpUpstream {
  // Set when cfg.tls_ca_file is: the system store plus that CA. Must outlive `client`.
  std::unique_ptr<asio::ssl::context> own_tls;
  std::shared_ptr<http::HttpClient> client;
};

// kInvalidArgument naming the provider for a bad base_url or an unreadable tls_ca_file. `tls`
// (the shared system-store context) must outlive the client.
Result<HttpUpstream> makeHttpUpstream(const config::ProviderConfig& cfg, asio::ssl::context& tls);

// The Retry-After of an upstream's response; nullopt if absent or unparseable.
std::optional<Millis> retryAfterOf(const http::ClientResponse& r);

// A non-2xx answer as the call's error: status, the upstream's message and Retry-After, with
// the provider's key redacted from anything the upstream echoed.
CallError upstreamRejection(const config::ProviderConfig& cfg, const http::ClientResponse& r, std::string_view body);

}  // namespace rightsize::upstream
