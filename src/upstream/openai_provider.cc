#include "upstream/openai_provider.h"

#include <fmt/format.h>

#include "api/sse.h"
#include "http/client.h"

namespace rightsize::upstream {

namespace {

namespace bhttp = http::bhttp;

CallError transportFailure(const Error& e) {
  CallError ce;
  ce.error = e;
  ce.retryable = true;
  ce.breaker_failure = true;
  return ce;
}

class OpenAIStream final : public ChatStream {
 public:
  explicit OpenAIStream(std::unique_ptr<http::ClientResponse> resp) : resp_(std::move(resp)) {}

  asio::awaitable<Result<std::optional<std::string>>> next() override {
    if (finished_) co_return std::nullopt;
    while (true) {
      if (auto ev = decoder_.next()) {
        if (*ev == "[DONE]") {
          // Read the rest (normally just the terminating chunk) so the connection can be reused.
          while (!resp_->done()) {
            auto more = co_await resp_->readSome();
            if (!more || more->empty()) break;
          }
          finished_ = true;
          co_return std::nullopt;
        }
        co_return std::move(*ev);
      }
      if (decoder_.overflow()) co_return fail(ErrorCode::kUpstreamError, "upstream sent an oversized stream event");
      auto piece = co_await resp_->readSome();
      if (!piece) co_return fail(piece.error());
      if (piece->empty()) {
        finished_ = true;
        if (decoder_.pending() > 0) co_return fail(ErrorCode::kUpstreamError, "upstream stream ended mid-event");
        co_return std::nullopt;  // ended without [DONE]: some servers do that
      }
      decoder_.feed(*piece);
    }
  }

 private:
  std::unique_ptr<http::ClientResponse> resp_;
  api::SseDecoder decoder_;
  bool finished_ = false;
};

class OpenAIProvider final : public Provider {
 public:
  OpenAIProvider(const config::ProviderConfig& cfg, std::shared_ptr<http::HttpClient> client,
                 std::unique_ptr<asio::ssl::context> own_tls = nullptr)
      : cfg_(cfg), own_tls_(std::move(own_tls)), client_(std::move(client)), target_(client_->url().path + "/chat/completions") {
    if (!cfg_.api_key.empty()) auth_ = "Bearer " + cfg_.api_key;
  }

  asio::awaitable<CallResult<Completion>> complete(const ChatCall& call) override {
    auto resp = co_await post(call, false);
    if (!resp) co_return tl::unexpected(transportFailure(resp.error()));
    auto& r = **resp;
    auto body = co_await r.readAll();
    if (!body) co_return tl::unexpected(transportFailure(body.error()));
    if (r.status() < 200 || r.status() >= 300)
      co_return tl::unexpected(statusError(cfg_.name, r.status(), *body, retryAfter(r)));
    Completion c;
    c.usage = api::responseUsage(*body);
    c.body = std::move(*body);
    co_return c;
  }

  asio::awaitable<CallResult<std::unique_ptr<ChatStream>>> stream(const ChatCall& call) override {
    auto resp = co_await post(call, true);
    if (!resp) co_return tl::unexpected(transportFailure(resp.error()));
    auto& r = **resp;
    if (r.status() < 200 || r.status() >= 300) {
      auto body = co_await r.readAll();
      co_return tl::unexpected(statusError(cfg_.name, r.status(), body ? *body : std::string(), retryAfter(r)));
    }
    co_return std::unique_ptr<ChatStream>(std::make_unique<OpenAIStream>(std::move(*resp)));
  }

  const config::ProviderConfig& config() const override { return cfg_; }
  void shutdown() override { client_->closeAll(); }

 private:
  // Sends the call's body. Without configured extra headers (which may replace ours, so go through
  // bhttp::fields) the head is built straight into bytes and the body is not copied.
  asio::awaitable<Result<std::unique_ptr<http::ClientResponse>>> post(const ChatCall& call, bool stream) {
    if (cfg_.headers.empty()) {
      http::HeadFields fields;
      fields.insert(bhttp::field::content_type, "application/json");
      fields.insert(bhttp::field::accept, stream ? "text/event-stream" : "application/json");
      fields.insert(bhttp::field::user_agent, "rightsize/0.1");
      if (!auth_.empty()) fields.insert(bhttp::field::authorization, auth_);
      co_return co_await client_->send(bhttp::verb::post, target_, fields, call.body);
    }
    auto req = makeRequest(call, stream);  // a named local: see the note on GCC 12 in gateway.cc
    co_return co_await client_->send(std::move(req));
  }

  bhttp::request<bhttp::string_body> makeRequest(const ChatCall& call, bool stream) const {
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, target_, 11};
    req.set(bhttp::field::content_type, "application/json");
    req.set(bhttp::field::accept, stream ? "text/event-stream" : "application/json");
    req.set(bhttp::field::user_agent, "rightsize/0.1");
    if (!auth_.empty()) req.set(bhttp::field::authorization, auth_);
    for (const auto& [k, v] : cfg_.headers) req.set(k, v);
    req.body() = call.body;
    return req;
  }

  static std::optional<Millis> retryAfter(const http::ClientResponse& r) {
    auto it = r.headers().find(bhttp::field::retry_after);
    if (it == r.headers().end()) return std::nullopt;
    return parseRetryAfter(it->value());
  }

  const config::ProviderConfig& cfg_;
  std::unique_ptr<asio::ssl::context> own_tls_;  // set when the provider trusts its own CA file
  std::shared_ptr<http::HttpClient> client_;
  std::string target_;
  std::string auth_;
};

}  // namespace

Result<std::unique_ptr<Provider>> makeOpenAIProvider(const config::ProviderConfig& cfg, asio::ssl::context& tls) {
  // A provider that trusts a private CA gets a TLS context of its own: the system store plus it.
  std::unique_ptr<asio::ssl::context> own_tls;
  asio::ssl::context* tls_ctx = &tls;
  if (!cfg.tls_ca_file.empty()) {
    own_tls = http::makeClientTlsContext();
    boost::system::error_code ec;
    own_tls->load_verify_file(cfg.tls_ca_file, ec);
    if (ec)
      return fail(ErrorCode::kInvalidArgument,
                  "provider '" + cfg.name + "': tls_ca_file '" + cfg.tls_ca_file + "': " + ec.message());
    tls_ctx = own_tls.get();
  }
  auto url = http::parseUrl(cfg.base_url);
  if (!url) return fail(ErrorCode::kInvalidArgument, "provider '" + cfg.name + "': base_url: " + url.error().message);
  http::ClientOptions opts;
  opts.connect_timeout = cfg.connect_timeout;
  opts.first_byte_timeout = cfg.first_byte_timeout;
  opts.idle_timeout = cfg.idle_timeout;
  opts.max_response_bytes = cfg.max_response_bytes;
  opts.max_idle_connections = cfg.max_idle_connections;
  auto client = http::HttpClient::make(*tls_ctx, std::move(*url), opts);
  return std::unique_ptr<Provider>(std::make_unique<OpenAIProvider>(cfg, std::move(client), std::move(own_tls)));
}

}  // namespace rightsize::upstream
