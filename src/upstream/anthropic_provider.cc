#include "upstream/anthropic_provider.h"

#include <ctime>
#include <deque>

#include "api/anthropic_common.h"
#include "api/anthropic_egress.h"
#include "api/sse.h"
#include "http/client.h"
#include "upstream/http_upstream.h"

namespace rightsize::upstream {

namespace {

namespace bhttp = http::bhttp;

int64_t unixNow() { return static_cast<int64_t>(std::time(nullptr)); }

class AnthropicStream final : public ChatStream {
 public:
  explicit AnthropicStream(std::unique_ptr<http::ClientResponse> resp)
      : resp_(std::move(resp)), translator_(unixNow()) {}

  asio::awaitable<Result<std::optional<std::string>>> next() override {
    while (true) {
      if (!pending_.empty()) {
        std::string c = std::move(pending_.front());
        pending_.pop_front();
        co_return c;
      }
      if (finished_) co_return std::nullopt;
      if (translator_.done()) {
        // Read the rest (normally just the terminating chunk) so the connection can be reused.
        while (!resp_->done()) {
          auto more = co_await resp_->readSome();
          if (!more || more->empty()) break;
        }
        finished_ = true;
        co_return std::nullopt;
      }
      if (auto ev = decoder_.next()) {
        auto r = translator_.onEvent(*ev, pending_);
        if (!r) {
          finished_ = true;
          co_return fail(r.error());
        }
        continue;
      }
      if (decoder_.overflow()) co_return fail(ErrorCode::kUpstreamError, "upstream sent an oversized stream event");
      auto piece = co_await resp_->readSome();
      if (!piece) co_return fail(piece.error());
      if (piece->empty()) {
        finished_ = true;
        co_return fail(ErrorCode::kUpstreamError, "upstream stream ended before message_stop");
      }
      decoder_.feed(*piece);
    }
  }

 private:
  std::unique_ptr<http::ClientResponse> resp_;
  api::SseDecoder decoder_;
  api::AnthropicToChatStream translator_;
  std::deque<std::string> pending_;
  bool finished_ = false;
};

class AnthropicProvider final : public Provider {
 public:
  AnthropicProvider(const config::ProviderConfig& cfg, HttpUpstream up)
      : cfg_(cfg),
        own_tls_(std::move(up.own_tls)),
        client_(std::move(up.client)),
        target_(client_->url().path + "/v1/messages") {}

  asio::awaitable<CallResult<Completion>> complete(const ChatCall& call) override {
    auto body = api::chatRequestToAnthropic(call.body, call.model_id);
    if (!body) co_return tl::unexpected(untranslatable(body.error()));
    auto resp = co_await post(*body, false);
    if (!resp) co_return tl::unexpected(transportFailure(resp.error()));
    auto& r = **resp;
    auto answer = co_await r.readAll();
    if (!answer) co_return tl::unexpected(transportFailure(answer.error()));
    if (r.status() < 200 || r.status() >= 300)
      co_return tl::unexpected(upstreamRejection(cfg_, r, *answer));
    api::Usage usage;
    auto chat = api::anthropicResponseToChat(*answer, unixNow(), &usage);
    if (!chat) co_return tl::unexpected(transportFailure(chat.error()));
    Completion c;
    c.body = std::move(*chat);
    c.usage = usage;
    co_return c;
  }

  asio::awaitable<CallResult<std::unique_ptr<ChatStream>>> stream(const ChatCall& call) override {
    auto body = api::chatRequestToAnthropic(call.body, call.model_id);
    if (!body) co_return tl::unexpected(untranslatable(body.error()));
    auto resp = co_await post(*body, true);
    if (!resp) co_return tl::unexpected(transportFailure(resp.error()));
    auto& r = **resp;
    if (r.status() < 200 || r.status() >= 300) {
      auto answer = co_await r.readAll();
      co_return tl::unexpected(upstreamRejection(cfg_, r, answer ? std::string_view(*answer) : std::string_view()));
    }
    co_return std::unique_ptr<ChatStream>(std::make_unique<AnthropicStream>(std::move(*resp)));
  }

  // POST {base_url}/v1/messages/count_tokens.
  asio::awaitable<CallResult<std::string>> countTokens(const std::string& anthropic_body) override {
    const std::string target = target_ + "/count_tokens";
    auto resp = co_await post(anthropic_body, false, target);
    if (!resp) co_return tl::unexpected(transportFailure(resp.error()));
    auto& r = **resp;
    auto answer = co_await r.readAll();
    if (!answer) co_return tl::unexpected(transportFailure(answer.error()));
    if (r.status() < 200 || r.status() >= 300)
      co_return tl::unexpected(upstreamRejection(cfg_, r, *answer));
    co_return std::move(*answer);
  }

  const config::ProviderConfig& config() const override { return cfg_; }
  void shutdown() override { client_->closeAll(); }

 private:
  // A request Anthropic cannot take (audio parts, n > 1, ...): not this provider's fault, and an
  // OpenAI-compatible fallback may still take it.
  static CallError untranslatable(const Error& e) {
    CallError ce;
    ce.error = e;
    return ce;
  }

  asio::awaitable<Result<std::unique_ptr<http::ClientResponse>>> post(const std::string& body, bool stream) {
    return post(body, stream, target_);
  }
  asio::awaitable<Result<std::unique_ptr<http::ClientResponse>>> post(const std::string& body, bool stream,
                                                                       const std::string& target) {
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, target, 11};
    req.set(bhttp::field::content_type, "application/json");
    req.set(bhttp::field::accept, stream ? "text/event-stream" : "application/json");
    req.set(bhttp::field::user_agent, "rightsize/0.1");
    req.set("anthropic-version", api::kAnthropicVersion);
    if (!cfg_.api_key.empty()) req.set("x-api-key", cfg_.api_key);
    for (const auto& [k, v] : cfg_.headers) req.set(k, v);  // e.g. anthropic-beta, or another version
    req.body() = body;
    co_return co_await client_->send(std::move(req));
  }


  const config::ProviderConfig& cfg_;
  std::unique_ptr<asio::ssl::context> own_tls_;  // set when the provider trusts its own CA file
  std::shared_ptr<http::HttpClient> client_;
  std::string target_;
};

}  // namespace

Result<std::unique_ptr<Provider>> makeAnthropicProvider(const config::ProviderConfig& cfg, asio::ssl::context& tls) {
  auto up = makeHttpUpstream(cfg, tls);
  if (!up) return fail(up.error());
  return std::unique_ptr<Provider>(std::make_unique<AnthropicProvider>(cfg, std::move(*up)));
}

}  // namespace rightsize::upstream
