// POST /v1/responses: the OpenAI Responses API in front of the same pipeline as
// /v1/chat/completions (Gateway::chat), through a ResponseShape made for each request; and
// GET/DELETE /v1/responses/{id} on the stored responses. See docs/responses.md.

#include "api/responses.h"

#include <fmt/format.h>

#include "api/errors.h"
#include "common/strings.h"
#include "ledger/response_store.h"
#include "pipeline/request_context.h"
#include "server/accounting.h"
#include "server/gateway.h"
#include "server/response_shape.h"

namespace rightsize::server {

namespace {

namespace bhttp = http::bhttp;

// One Responses request: translates it (with the conversation of its previous_response_id), and
// keeps its answer in the store when the request asked for it (`store`, default true) and the
// request was not sensitive. Used by that request's coroutine only.
class ResponsesShape final : public ResponseShape {
 public:
  ResponsesShape(api::ResponseItemStore& items, ledger::ResponseStore* store) : items_(items), store_(store) {}

  // previous_response_id `id` was found: its stored conversation.
  void continueFrom(std::string id, std::string conversation) {
    echo_.previous_response_id = std::move(id);
    previous_ = std::move(conversation);
  }
  // previous_response_id cannot be served: the shape stage answers `e`.
  void refuse(Error e) { refusal_ = std::move(e); }

  Result<std::string> request(std::string_view body) const override {
    if (refusal_) return fail(*refusal_);
    std::optional<std::string_view> previous;
    if (store_) previous = previous_;
    auto turn = api::translateResponsesRequest(body, &items_, previous);
    if (!turn) return fail(turn.error());
    store_answer_ = store_ && turn->store;
    if (store_answer_) input_items_ = std::move(turn->input_items);
    echo_.store = store_answer_;
    return std::move(turn->chat);
  }
  std::string errorBody(const Error& e) const override { return api::responsesErrorBody(e); }
  Result<std::string> completion(std::string_view body, const std::optional<api::Usage>& usage) const override {
    auto out = api::chatResponseToResponses(body, usage, echo_);
    if (out) answered(*out);
    return out;
  }
  std::unique_ptr<StreamShape> stream() const override { return std::make_unique<Stream>(*this); }

  void finished(const pipeline::RequestInfo& info) const override {
    if (!store_answer_ || answer_.empty() || info.status != 200) return;
    ledger::StoredResponse r;
    r.time = std::chrono::system_clock::now();
    r.key_id = info.key_id;
    r.sensitive = info.sensitive;
    std::string conversation = api::conversationAfter(input_items_, answer_, &r.id);
    if (r.id.empty()) return;
    if (!r.sensitive) {  // privacy: a sensitive request's content is never stored
      r.conversation = std::move(conversation);
      r.response = std::move(answer_);
    }
    store_->put(std::move(r));
  }

 private:
  class Stream final : public StreamShape {
   public:
    explicit Stream(const ResponsesShape& shape) : shape_(shape), events_(shape.echo_) {}
    Result<void> chunk(std::string_view data, std::string& out) override { return events_.onChunk(data, out); }
    void done(const api::Usage& usage, std::string& out) override {
      events_.finish(usage, out);
      shape_.answered(events_.finalResponse());
    }
    // The error event carries the stream's next sequence number, hence the mutable state.
    std::string errorEvent(const Error& e) const override { return events_.errorEvent(e); }

   private:
    const ResponsesShape& shape_;
    mutable api::ChatToResponsesStream events_;
  };

  // The whole `response` object the client got.
  void answered(const std::string& response) const {
    items_.putOutput(response);
    if (store_answer_) answer_ = response;
  }

  api::ResponseItemStore& items_;      // recent output items, for item_reference (thread-safe)
  ledger::ResponseStore* store_;       // null: the gateway keeps no responses
  std::string previous_;
  std::optional<Error> refusal_;
  mutable bool store_answer_ = false;
  mutable std::string input_items_;
  mutable std::string answer_;
  mutable api::ResponseEcho echo_;   // what the answer's `response` object says of the request
};

// The caller's key id ("" when the gateway has no keys); nullopt when the request does not
// authenticate (the chain, or the caller, answers that).
std::optional<std::string> keyIdOf(const pipeline::KeyGate* keys, const http::Request& req) {
  if (!keys) return std::string();
  auto key = keys->authenticate(req);
  if (!key) return std::nullopt;
  return *key ? (*key)->id : std::string();
}

std::string notFound(std::string_view id) {
  return fmt::format("no response '{}' (unknown, deleted, past the retention, or made with another key)", id);
}

}  // namespace

asio::awaitable<void> Gateway::responses(http::Request& req, http::ResponseWriter& w) {
  if (req.method() != bhttp::verb::post) {
    const Error e{ErrorCode::kMethodNotAllowed, "use POST for /v1/responses (GET /v1/responses/{id} reads a stored one)", 0};
    http::Response res = http::jsonResponse(405, api::responsesErrorBody(e));
    co_await w.send(std::move(res));
    co_return;
  }
  ledger::ResponseStore* store = accounting_ ? accounting_->responseStore() : nullptr;
  ResponsesShape shape(response_items_, store);
  // Most requests name no previous response: a substring test spares them a second parse.
  if (store && req.body().find("previous_response_id") != std::string::npos) {
    const std::string previous = api::previousResponseId(req.body());
    auto key_id = previous.empty() ? std::nullopt : keyIdOf(services_.keys, req);
    if (key_id) {  // unauthenticated: the auth stage answers 401 first
      auto found = co_await store->get(previous);
      if (!found) {
        shape.refuse(Error{ErrorCode::kUnavailable,
                           "previous_response_id: the response store is unavailable: " + found.error().message, 0});
      } else if (!*found || (*found)->key_id != *key_id) {
        shape.refuse(Error{ErrorCode::kNotFound, "previous_response_id: " + notFound(previous), 0});
      } else if ((*found)->sensitive) {
        shape.refuse(Error{ErrorCode::kInvalidArgument,
                           fmt::format("previous_response_id: response '{}' was sensitive, so its content was not "
                                       "stored; send the whole conversation in input", previous), 0});
      } else {
        shape.continueFrom(previous, std::move((*found)->conversation));
      }
    }
  }
  co_await chat(req, w, &shape);
}

asio::awaitable<void> Gateway::storedResponse(http::Request& req, http::ResponseWriter& w, std::string_view id) {
  auto answer = [&](const Error& e) {
    return http::jsonResponse(static_cast<unsigned>(api::httpStatus(e)), api::responsesErrorBody(e));
  };
  http::Response res;
  const bool get = req.method() == bhttp::verb::get, del = req.method() == bhttp::verb::delete_;
  ledger::ResponseStore* store = accounting_ ? accounting_->responseStore() : nullptr;
  auto key_id = keyIdOf(services_.keys, req);
  if (!get && !del) {
    res = answer(Error{ErrorCode::kMethodNotAllowed, "use GET or DELETE for /v1/responses/{id}", 0});
  } else if (!key_id) {
    res = answer(services_.keys->authenticate(req).error());
  } else if (!store) {
    res = answer(Error{ErrorCode::kNotFound,
                       "this gateway keeps no responses (ledger off or ledger.store_responses false)", 0});
  } else {
    auto found = co_await store->get(id);
    if (!found) {
      res = answer(Error{ErrorCode::kUnavailable, "the response store is unavailable: " + found.error().message, 0});
    } else if (!*found || (*found)->key_id != *key_id || (get && (*found)->sensitive)) {
      res = answer(Error{ErrorCode::kNotFound, notFound(id), 0});
    } else if (get) {
      res = http::jsonResponse(200, std::move((*found)->response));
    } else {
      auto removed = co_await store->remove(id);
      if (!removed) {
        res = answer(Error{ErrorCode::kUnavailable, "the response store is unavailable: " + removed.error().message, 0});
      } else {
        std::string body = R"({"id":)";
        appendJsonString(body, id);
        body += R"(,"object":"response","deleted":true})";
        res = http::jsonResponse(200, std::move(body));
      }
    }
  }
  co_await w.send(std::move(res));
}

}  // namespace rightsize::server
