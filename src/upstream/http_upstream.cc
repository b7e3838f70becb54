#include "upstream/http_upstream.h"

namespace rightsize::upstream {

namespace bhttp = boost::beast::http;

Result<HttpUpstream> makeHttpUpstream(const config::ProviderConfig& cfg, asio::ssl::context& tls) {
  HttpUpstream up;
  asio::ssl::context* tls_ctx = &tls;
  if (!cfg.tls_ca_file.empty()) {
    up.own_tls = http::makeClientTlsContext();
    boost::system::error_code ec;
    up.own_tls->load_verify_file(cfg.tls_ca_file, ec);
    if (ec)
      return fail(ErrorCode::kInvalidArgument,
                  "provider '" + cfg.name + "': tls_ca_file '" + cfg.tls_ca_file + "': " + ec.message());
    tls_ctx = up.own_tls.get();
  }
  auto url = http::parseUrl(cfg.base_url);
  if (!url) return fail(ErrorCode::kInvalidArgument, "provider '" + cfg.name + "': base_url: " + url.error().message);
  http::ClientOptions opts;
  opts.connect_timeout = cfg.connect_timeout;
  opts.first_byte_timeout = cfg.first_byte_timeout;
  opts.idle_timeout = cfg.idle_timeout;
  opts.max_response_bytes = cfg.max_response_bytes;
  opts.max_idle_connections = cfg.max_idle_connections;
  up.client = http::HttpClient::make(*tls_ctx, std::move(*url), opts);
  return up;
}

std::optional<Millis> retryAfterOf(const http::ClientResponse& r) {
  auto it = r.headers().find(bhttp::field::retry_after);
  if (it == r.headers().end()) return std::nullopt;
  return parseRetryAfter(it->value());
}

CallError upstreamRejection(const config::ProviderConfig& cfg, const http::ClientResponse& r, std::string_view body) {
  return redactSecrets(statusError(cfg.name, r.status(), body, retryAfterOf(r)), cfg);
}

}  // namespace rightsize::upstream
