// POST /v1/messages: the Anthropic Messages API in front of the same pipeline as
// /v1/chat/completions (Gateway::chat), through a ResponseShape. See docs/anthropic.md.

#include "api/anthropic_ingress.h"

#include <spdlog/spdlog.h>

#include <optional>

#include "api/anthropic_common.h"
#include "api/chat_request.h"
#include "api/errors.h"
#include "server/gateway.h"
#include "server/response_shape.h"

namespace rightsize::server {

namespace {

namespace bhttp = http::bhttp;

class AnthropicStreamShape final : public StreamShape {
 public:
  Result<void> chunk(std::string_view data, std::string& out) override { return events_.onChunk(data, out); }
  void done(const api::Usage& usage, std::string& out) override { events_.finish(usage, out); }
  std::string errorEvent(const Error& e) const override { return api::anthropicErrorEvent(e); }

 private:
  api::ChatToAnthropicStream events_;
};

class AnthropicShape final : public ResponseShape {
 public:
  Result<std::string> request(std::string_view body) const override { return api::anthropicRequestToChat(body); }
  std::string errorBody(const Error& e) const override { return api::anthropicErrorBody(e); }
  Result<std::string> completion(std::string_view body, const std::optional<api::Usage>& usage) const override {
    return api::chatResponseToAnthropic(body, usage);
  }
  std::unique_ptr<StreamShape> stream() const override { return std::make_unique<AnthropicStreamShape>(); }
};

}  // namespace

const ResponseShape& anthropicShape() {
  static const AnthropicShape shape;
  return shape;
}

asio::awaitable<void> Gateway::messages(http::Request& req, http::ResponseWriter& w) {
  if (req.method() != bhttp::verb::post) {
    const Error e{ErrorCode::kMethodNotAllowed, "use POST for /v1/messages", 0};
    http::Response res = http::jsonResponse(405, api::anthropicErrorBody(e));
    co_await w.send(std::move(res));
    co_return;
  }
  // x-api-key (Anthropic clients' key header) is read by the key checks (server/auth.h);
  // anthropic-version is accepted and not needed: one version of the API is spoken.
  co_await chat(req, w, &anthropicShape());
}

asio::awaitable<void> Gateway::countTokens(http::Request& req, http::ResponseWriter& w) {
  // What is decided without waiting: a refusal, or the model whose provider is asked / estimated.
  const config::ModelConfig* model = nullptr;
  int64_t estimate = 0;
  auto check = [&]() -> std::optional<Error> {
    if (req.method() != bhttp::verb::post)
      return Error{ErrorCode::kMethodNotAllowed, "use POST for /v1/messages/count_tokens", 0};
    if (key_auth_) {  // the same key as /v1/messages; counting spends nothing, so no admission
      auto key = key_auth_->authenticate(req);
      if (!key) return key.error();
    }
    auto chat = api::anthropicCountTokensToChat(req.body());
    if (!chat) return chat.error();
    auto parsed = api::parseChatRequest(*chat);
    if (!parsed) return parsed.error();
    // A model named directly, or a route's first candidate: the model a count is meant for.
    if (auto r = cfg_->routes.find(parsed->model); r != cfg_->routes.end()) {
      model = &cfg_->models.at(r->second.candidates.front());
    } else if (auto m = cfg_->models.find(parsed->model); m != cfg_->models.end()) {
      model = &m->second;
    } else {
      return Error{ErrorCode::kNotFound,
                   "the model '" + parsed->model + "' does not exist: it is neither a configured model nor a "
                   "route (see GET /v1/models)", 0};
    }
    // The gateway's own estimate, the one budgets and routing use before a call.
    estimate = api::estimateTokens(parsed->content_chars);
    return std::nullopt;
  };
  const std::optional<Error> refused = check();
  if (refused) {
    http::Response res =
        http::jsonResponse(static_cast<unsigned>(api::httpStatus(*refused)), api::anthropicErrorBody(*refused));
    co_await w.send(std::move(res));
    co_return;
  }
  if (cfg_->providers.at(model->provider).kind == config::ProviderKind::kAnthropic) {
    auto body = api::anthropicCountTokensBody(req.body(), model->id);
    if (body) {
      const std::string upstream_body = std::move(*body);
      auto op = services_.providers.at(model->provider).provider->countTokens(upstream_body);
      auto counted = co_await std::move(op);
      if (counted) {
        http::Response res = http::jsonResponse(200, std::move(*counted));
        res.set("x-rightsize-token-count", "upstream");
        co_await w.send(std::move(res));
        co_return;
      }
      spdlog::warn("count_tokens: provider {} did not count ({}); answering with the estimate", model->provider,
                   counted.error().error.message);
    }
  }
  http::Response res = http::jsonResponse(200, R"({"input_tokens":)" + std::to_string(estimate) + "}");
  res.set("x-rightsize-token-count", "estimated");
  co_await w.send(std::move(res));
}

}  // namespace rightsize::server
