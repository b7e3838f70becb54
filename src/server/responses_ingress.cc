// POST /v1/responses: the OpenAI Responses API in front of the same pipeline as
// /v1/chat/completions (Gateway::chat), through a ResponseShape. See docs/responses.md.

#include "api/responses.h"

#include "server/gateway.h"
#include "server/response_shape.h"

namespace rightsize::server {

namespace {

namespace bhttp = http::bhttp;

class ResponsesStreamShape final : public StreamShape {
 public:
  explicit ResponsesStreamShape(api::ResponseItemStore& items) : items_(items) {}
  Result<void> chunk(std::string_view data, std::string& out) override { return events_.onChunk(data, out); }
  void done(const api::Usage& usage, std::string& out) override {
    events_.finish(usage, out);
    items_.putOutput(events_.finalResponse());
  }
  // The error event carries the stream's next sequence number, hence the mutable state.
  std::string errorEvent(const Error& e) const override { return events_.errorEvent(e); }

 private:
  mutable api::ChatToResponsesStream events_;
  api::ResponseItemStore& items_;
};

class ResponsesShape final : public ResponseShape {
 public:
  Result<std::string> request(std::string_view body) const override {
    return api::responsesRequestToChat(body, &items_);
  }
  std::string errorBody(const Error& e) const override { return api::responsesErrorBody(e); }
  Result<std::string> completion(std::string_view body, const std::optional<api::Usage>& usage) const override {
    auto out = api::chatResponseToResponses(body, usage);
    if (out) items_.putOutput(*out);
    return out;
  }
  std::unique_ptr<StreamShape> stream() const override { return std::make_unique<ResponsesStreamShape>(items_); }

 private:
  // Recent output items, for item_reference (thread-safe; the shape is shared by every request).
  mutable api::ResponseItemStore items_;
};

}  // namespace

const ResponseShape& responsesShape() {
  static const ResponsesShape shape;
  return shape;
}

asio::awaitable<void> Gateway::responses(http::Request& req, http::ResponseWriter& w) {
  if (req.method() != bhttp::verb::post) {
    const Error e{ErrorCode::kMethodNotAllowed, "use POST for /v1/responses (stored responses are not kept)", 0};
    http::Response res = http::jsonResponse(405, api::responsesErrorBody(e));
    co_await w.send(std::move(res));
    co_return;
  }
  co_await chat(req, w, &responsesShape());
}

}  // namespace rightsize::server
