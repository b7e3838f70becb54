#pragma once
// Where the pipeline writes its answer: http::ResponseWriter's operations behind an interface, so
// the stages run in tests without sockets (tests/unit/pipeline). HttpResponseSink forwards each
// call to the connection's writer without a coroutine frame of its own: the awaitable it returns
// is the writer's, so the hot path pays one virtual call per write and nothing else (the head of
// a whole answer still goes straight to bytes through http::HeadFields).

#include <string_view>

#include "http/server.h"

namespace rightsize::pipeline {

namespace asio = boost::asio;
namespace bhttp = http::bhttp;

// Same contracts as http::ResponseWriter's methods of the same names: every write returns false
// once the client is gone. Used by one coroutine. Heads are taken by rvalue reference so a caller's
// co_await expression holds no temporary (docs/gateway.md, compiler notes).
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  virtual asio::awaitable<bool> send(http::Response&& res) = 0;
  virtual asio::awaitable<bool> send(unsigned status, const http::HeadFields& fields, std::string_view body) = 0;
  virtual asio::awaitable<bool> beginChunked(bhttp::response<bhttp::empty_body>&& head) = 0;
  virtual asio::awaitable<bool> sendChunk(std::string_view data) = 0;
  virtual asio::awaitable<bool> endChunked(const bhttp::fields* trailer) = 0;
};

class HttpResponseSink final : public ResponseSink {
 public:
  explicit HttpResponseSink(http::ResponseWriter& w) : w_(w) {}
  asio::awaitable<bool> send(http::Response&& res) override { return w_.send(std::move(res)); }
  asio::awaitable<bool> send(unsigned status, const http::HeadFields& fields, std::string_view body) override {
    return w_.send(status, fields, body);
  }
  asio::awaitable<bool> beginChunked(bhttp::response<bhttp::empty_body>&& head) override {
    return w_.beginChunked(std::move(head));
  }
  asio::awaitable<bool> sendChunk(std::string_view data) override { return w_.sendChunk(data); }
  asio::awaitable<bool> endChunked(const bhttp::fields* trailer) override { return w_.endChunked(trailer); }

 private:
  http::ResponseWriter& w_;
};

}  // namespace rightsize::pipeline
