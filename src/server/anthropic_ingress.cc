// POST /v1/messages: the Anthropic Messages API in front of the same pipeline as
// /v1/chat/completions (Gateway::chat), through a ResponseShape. See docs/anthropic.md.

#include "api/anthropic_ingress.h"

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
  auto answer = [&]() -> http::Response {
    auto refuse = [](const Error& e) {
      return http::jsonResponse(static_cast<unsigned>(api::httpStatus(e)), api::anthropicErrorBody(e));
    };
    if (req.method() != bhttp::verb::post)
      return refuse(Error{ErrorCode::kMethodNotAllowed, "use POST for /v1/messages/count_tokens", 0});
    if (key_auth_) {  // the same key as /v1/messages; counting spends nothing, so no admission
      auto key = key_auth_->authenticate(req);
      if (!key) return refuse(key.error());
    }
    auto chat = api::anthropicCountTokensToChat(req.body());
    if (!chat) return refuse(chat.error());
    auto parsed = api::parseChatRequest(*chat);
    if (!parsed) return refuse(parsed.error());
    if (!cfg_->routes.count(parsed->model) && !cfg_->models.count(parsed->model))
      return refuse(Error{ErrorCode::kNotFound,
                          "the model '" + parsed->model + "' does not exist: it is neither a configured model nor a "
                          "route (see GET /v1/models)", 0});
    // The gateway's own estimate, the one budgets and routing use before a call.
    const int64_t tokens = api::estimateTokens(parsed->content_chars);
    http::Response res = http::jsonResponse(200, R"({"input_tokens":)" + std::to_string(tokens) + "}");
    res.set("x-rightsize-token-count", "estimated");
    return res;
  };
  http::Response res = answer();
  co_await w.send(std::move(res));
}

}  // namespace rightsize::server
