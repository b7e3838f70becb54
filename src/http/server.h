#pragma once
// HTTP/1.1 server: one coroutine per connection, on one worker's io_context for its life, keep-alive, body and header
// limits, header/read/idle/write timeouts, connection cap, and graceful drain. It knows nothing
// about LLMs: a Handler gets each request and a ResponseWriter.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "http/asio.h"
#include "http/wire.h"
#include "http/workers.h"

namespace rightsize::http {

using Millis = std::chrono::milliseconds;
using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;

struct ServerLimits {
  uint64_t max_body_bytes = 8 * 1024 * 1024;
  uint32_t max_header_bytes = 16 * 1024;
  Millis header_timeout{10'000};  // first byte of a request -> end of its head
  Millis read_timeout{30'000};    // end of head -> end of body
  Millis idle_timeout{60'000};    // keep-alive wait for the next request
  Millis write_timeout{30'000};   // each write to the client
  uint32_t max_connections = 10'000;
};

// Writes the answer to one request, whole or as a chunked stream. Used by one coroutine; all
// methods return false once the client is gone (write failed or timed out) — the handler should
// then stop work for this request (e.g. cancel its upstream call).
class ResponseWriter {
 public:
  ResponseWriter(beast::tcp_stream& stream, Millis write_timeout, bool keep_alive)
      : stream_(stream), write_timeout_(write_timeout), keep_alive_(keep_alive) {}

  // Sends a whole response; sets Content-Length and Connection.
  asio::awaitable<bool> send(Response res);
  // Sends a whole HTTP/1.1 response with `status` (which must allow a body: not 1xx, 204, 304),
  // `fields` and `body`: the same bytes as send(Response) for a Response with these fields — it
  // adds Connection and Content-Length likewise — without building a bhttp::fields.
  asio::awaitable<bool> send(unsigned status, const HeadFields& fields, std::string_view body);
  // Starts a chunked response with `head`'s status and headers.
  asio::awaitable<bool> beginChunked(bhttp::response<bhttp::empty_body> head);
  // One chunk (empty data is skipped: an empty chunk would end the body).
  asio::awaitable<bool> sendChunk(std::string_view data);
  // The terminating chunk, with trailer fields if given (announce them in a Trailer header).
  asio::awaitable<bool> endChunked(const bhttp::fields* trailer = nullptr);

  bool headSent() const { return head_sent_; }
  bool clientGone() const { return failed_; }
  bool keepAlive() const { return keep_alive_ && !failed_ && !chunked_open_; }
  void setKeepAlive(bool v) { keep_alive_ = v; }
  // A HEAD request: send() writes the head only (Content-Length still says how long the body
  // of a GET would be), as RFC 9110 9.3.2 asks.
  void setHeadOnly(bool v) { head_only_ = v; }

 private:
  beast::tcp_stream& stream_;
  Millis write_timeout_;
  bool keep_alive_;
  bool head_sent_ = false;
  bool chunked_open_ = false;
  bool failed_ = false;
  bool head_only_ = false;
};

// A JSON response with the gateway's standard head (Content-Type, Server).
Response jsonResponse(unsigned status, std::string body);

using Handler = std::function<asio::awaitable<void>(Request&, ResponseWriter&)>;
// Formats the server's own error responses (413, 400, 431, 503 at capacity) so the
// gateway can give them its error-body shape. `target` is the request's path when its head
// was read (empty otherwise), so /v1/messages can get Anthropic's shape.
using ErrorResponder = std::function<Response(int status, std::string message, std::string_view target)>;

class Server {
 public:
  // Accepts on worker 0 and hands each connection to the next worker. `workers` must outlive
  // the server and the server must outlive the workers' run.
  Server(Workers& workers, ServerLimits limits, Handler handler, ErrorResponder on_error);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens. Port 0 picks a free port; the bound endpoint is returned.
  Result<tcp::endpoint> listen(const std::string& host, uint16_t port);
  // Starts accepting (on the io_context's threads). Call after listen().
  void start();
  // Graceful drain, step 1: stop accepting; responses from now on close their connection.
  // Thread-safe.
  void stopAccepting();

  // After the workers stopped: releases the listening socket (before the contexts go).
  void closeAcceptor() { acceptor_.reset(); }

  bool draining() const { return draining_.load(); }
  size_t inFlight() const { return in_flight_.load(); }     // requests being handled now
  size_t openConnections() const { return connections_.load(); }
  uint64_t connectionsRefused() const { return refused_.load(); }  // closed unanswered at max_connections
  uint64_t requestsServed() const { return served_.load(); }

 private:
  asio::awaitable<void> acceptLoop();
  asio::awaitable<void> session(tcp::socket socket);

  Workers& workers_;
  ServerLimits limits_;
  Handler handler_;
  ErrorResponder on_error_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::atomic<bool> draining_{false};
  std::atomic<size_t> in_flight_{0};
  std::atomic<size_t> connections_{0};
  std::atomic<uint64_t> refused_{0};
  std::atomic<uint64_t> served_{0};
};

}  // namespace rightsize::http
