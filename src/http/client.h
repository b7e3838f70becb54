#pragma once
// HTTP/1.1 client for one upstream base URL (http or https with certificate and host-name
// verification), with a keep-alive connection pool. Thread-safe: any number of coroutines on
// any io thread may call send() at once. Knows nothing about LLMs.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <variant>

#include "common/result.h"
#include "http/asio.h"
#include "http/wire.h"

namespace rightsize::http {

using Millis = std::chrono::milliseconds;

struct Url {
  bool tls = false;
  std::string host;
  uint16_t port = 80;
  std::string path;  // without trailing '/', may be empty
};

// Parses "http[s]://host[:port][/path]". IPv6 hosts in brackets. kInvalidArgument otherwise.
Result<Url> parseUrl(std::string_view url);

struct ClientOptions {
  Millis connect_timeout{5'000};     // DNS + TCP + TLS handshake
  Millis first_byte_timeout{60'000}; // request written -> response head read
  Millis idle_timeout{60'000};       // longest gap while reading the body
  uint64_t max_response_bytes = 64 * 1024 * 1024;
  uint32_t max_idle_connections = 64;
  Millis max_idle_age{30'000};       // pooled connections older than this are not reused
};

// One open connection (plain or TLS). Internal to the client and ClientResponse.
class Connection;

class HttpClient;

// A response whose head has been read. Owns its connection until destroyed: a fully read body
// on a keep-alive connection returns the connection to the pool; anything else closes it (which
// is how a caller cancels an upstream request: drop the response).
class ClientResponse {
 public:
  ~ClientResponse();
  int status() const { return status_; }
  const bhttp::fields& headers() const { return parser_->get().base(); }

  // Reads the whole remaining body (bounded by max_response_bytes; idle timeout per read).
  asio::awaitable<Result<std::string>> readAll();
  // Reads the next piece of the (de-chunked) body as it arrives; an empty string means the body
  // is complete. Errors: kTimeout when nothing arrives within idle_timeout, kUpstreamError on a
  // reset or truncated body.
  asio::awaitable<Result<std::string>> readSome();
  bool done() const { return done_; }

 private:
  friend class HttpClient;
  ClientResponse(std::shared_ptr<HttpClient> client, std::unique_ptr<Connection> conn);

  std::shared_ptr<HttpClient> client_;
  std::unique_ptr<Connection> conn_;
  beast::flat_buffer buffer_;
  // Reads the next piece of the body and appends it to `out`: 0 bytes means the body is complete.
  asio::awaitable<Result<size_t>> readAppend(std::string& out);

  static constexpr size_t kReadChunk = 16 * 1024;
  static constexpr size_t kHeadReadBytes = 4 * 1024;
  std::unique_ptr<bhttp::response_parser<bhttp::buffer_body>> parser_;
  std::unique_ptr<char[]> scratch_;  // body bytes of one read, see readAppend
  size_t scratch_size_ = 0;
  int status_ = 0;
  bool done_ = false;
  uint64_t read_bytes_ = 0;
};

class HttpClient : public std::enable_shared_from_this<HttpClient> {
 public:
  // `tls_ctx` must outlive the client and is used only when url.tls.
  // Connections are made on the executor of the coroutine calling send() and pooled per
  // execution context (one worker thread each), so a connection is only ever used on the
  // thread that opened it.
  static std::shared_ptr<HttpClient> make(asio::ssl::context& tls_ctx, Url url, ClientOptions opts);
  ~HttpClient();

  // Sends `req` (target must be set; Host, Content-Length and keep-alive are filled in) and
  // reads the response head. A pooled connection that turns out to be closed by the server is
  // retried once on a fresh connection. Errors: kUpstreamError (connect refused, reset, TLS
  // failure, bad response), kTimeout (connect or first byte).
  asio::awaitable<Result<std::unique_ptr<ClientResponse>>> send(bhttp::request<bhttp::string_body> req);
  // The same for a POST/PUT/PATCH to `target` with `fields` (not Host, Content-Length or Connection:
  // those are filled in as above) and `body`, neither copied nor put in a bhttp::fields. Both must
  // stay valid until the returned awaitable completes.
  asio::awaitable<Result<std::unique_ptr<ClientResponse>>> send(bhttp::verb method, std::string_view target,
                                                                const HeadFields& fields, std::string_view body);

  const Url& url() const { return url_; }
  const ClientOptions& options() const { return opts_; }
  // Drops every pooled connection and pools none from now on (shutdown, before the worker
  // contexts are destroyed). Thread-safe.
  void closeAll();

 private:
  friend class ClientResponse;
  HttpClient(asio::ssl::context& tls_ctx, Url url, ClientOptions opts);
  asio::awaitable<Result<std::unique_ptr<Connection>>> connect();
  // Writes `head` and `body` (or, when `chunked` is set, that request framed by Beast) on a pooled
  // or new connection and reads the response head; see send().
  asio::awaitable<Result<std::unique_ptr<ClientResponse>>> exchange(std::string_view head, std::string_view body,
                                                                    const bhttp::request<bhttp::string_body>* chunked);
  std::unique_ptr<Connection> takeIdle(const void* context);
  void giveBack(std::unique_ptr<Connection> conn);

  asio::ssl::context& tls_ctx_;
  Url url_;
  ClientOptions opts_;
  std::string host_header_;
  std::mutex mu_;
  // Idle keep-alive connections per execution context (worker). Guarded by mu_.
  std::map<const void*, std::deque<std::unique_ptr<Connection>>> idle_;
  bool closed_ = false;  // guarded by mu_
};

// A TLS client context with the system's CA store and peer verification on.
std::unique_ptr<asio::ssl::context> makeClientTlsContext();

}  // namespace rightsize::http
