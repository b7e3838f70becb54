#include "upstream/openai_provider.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "api/sse.h"
#include "http/client.h"
#include "upstream/http_upstream.h"

namespace rightsize::upstream {

namespace {

namespace bhttp = http::bhttp;

// A 2xx body that is not one complete JSON value (cut short, or not JSON at all) is never relayed
// as a success: the client would get a 200 it cannot parse. Treated like a broken connection.
// Found by tests/node/test/faults_leaks.test.js.
bool isCompleteJson(const std::string& body) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  return parser.parse(body.data(), body.size(), true).get(root) == simdjson::SUCCESS;
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
  OpenAIProvider(const config::ProviderConfig& cfg, HttpUpstream up)
      : cfg_(cfg),
        own_tls_(std::move(up.own_tls)),
        client_(std::move(up.client)),
        target_(client_->url().path + "/chat/completions"),
        embeddings_target_(client_->url().path + "/embeddings") {
    if (!cfg_.api_key.empty()) auth_ = "Bearer " + cfg_.api_key;
  }

  asio::awaitable<CallResult<Completion>> complete(const ChatCall& call) override {
    return callJson(target_, call.body);
  }

  asio::awaitable<CallResult<Completion>> embed(const EmbeddingsCall& call) override {
    return callJson(embeddings_target_, call.body);
  }

  asio::awaitable<CallResult<std::unique_ptr<ChatStream>>> stream(const ChatCall& call) override {
    auto resp = co_await post(target_, call.body, true);
    if (!resp) co_return tl::unexpected(transportFailure(resp.error()));
    auto& r = **resp;
    if (r.status() < 200 || r.status() >= 300) {
      auto body = co_await r.readAll();
      co_return tl::unexpected(upstreamRejection(cfg_, r, body ? std::string_view(*body) : std::string_view()));
    }
    co_return std::unique_ptr<ChatStream>(std::make_unique<OpenAIStream>(std::move(*resp)));
  }

  const config::ProviderConfig& config() const override { return cfg_; }
  void shutdown() override { client_->closeAll(); }

 private:
  // One non-streaming JSON call to `target`: the whole body, its usage parsed.
  asio::awaitable<CallResult<Completion>> callJson(const std::string& target, const std::string& request_body) {
    auto resp = co_await post(target, request_body, false);
    if (!resp) co_return tl::unexpected(transportFailure(resp.error()));
    auto& r = **resp;
    auto body = co_await r.readAll();
    if (!body) co_return tl::unexpected(transportFailure(body.error()));
    if (r.status() < 200 || r.status() >= 300)
      co_return tl::unexpected(upstreamRejection(cfg_, r, *body));
    if (!isCompleteJson(*body)) {
      Error bad{ErrorCode::kUpstreamError,
                fmt::format("upstream {} returned {} with a body that is not complete JSON ({} bytes)", cfg_.name,
                            r.status(), body->size()),
                0};
      co_return tl::unexpected(transportFailure(bad));
    }
    Completion c;
    c.usage = api::responseUsage(*body);
    c.body = std::move(*body);
    co_return c;
  }

  // Sends the call's body. Without configured extra headers (which may replace ours, so go through
  // bhttp::fields) the head is built straight into bytes and the body is not copied.
  asio::awaitable<Result<std::unique_ptr<http::ClientResponse>>> post(const std::string& target,
                                                                      const std::string& body, bool stream) {
    if (cfg_.headers.empty()) {
      http::HeadFields fields;
      fields.insert(bhttp::field::content_type, "application/json");
      fields.insert(bhttp::field::accept, stream ? "text/event-stream" : "application/json");
      fields.insert(bhttp::field::user_agent, "rightsize/0.1");
      if (!auth_.empty()) fields.insert(bhttp::field::authorization, auth_);
      co_return co_await client_->send(bhttp::verb::post, target, fields, body);
    }
    auto req = makeRequest(target, body, stream);  // a named local: see the note on GCC 12 in gateway.cc
    co_return co_await client_->send(std::move(req));
  }

  bhttp::request<bhttp::string_body> makeRequest(const std::string& target, const std::string& body,
                                                 bool stream) const {
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, target, 11};
    req.set(bhttp::field::content_type, "application/json");
    req.set(bhttp::field::accept, stream ? "text/event-stream" : "application/json");
    req.set(bhttp::field::user_agent, "rightsize/0.1");
    if (!auth_.empty()) req.set(bhttp::field::authorization, auth_);
    for (const auto& [k, v] : cfg_.headers) req.set(k, v);
    req.body() = body;
    return req;
  }


  const config::ProviderConfig& cfg_;
  std::unique_ptr<asio::ssl::context> own_tls_;  // set when the provider trusts its own CA file
  std::shared_ptr<http::HttpClient> client_;
  std::string target_;             // chat completions
  std::string embeddings_target_;
  std::string auth_;
};

}  // namespace

Result<std::unique_ptr<Provider>> makeOpenAIProvider(const config::ProviderConfig& cfg, asio::ssl::context& tls) {
  auto up = makeHttpUpstream(cfg, tls);
  if (!up) return fail(up.error());
  return std::unique_ptr<Provider>(std::make_unique<OpenAIProvider>(cfg, std::move(*up)));
}

}  // namespace rightsize::upstream
