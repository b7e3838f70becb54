#include "http/client.h"

#include <array>
#include <charconv>
#include <memory>

#include <spdlog/spdlog.h>

#include "http/wire.h"
#include "http/write_now.h"

namespace rightsize::http {

using namespace asio::experimental::awaitable_operators;
using SteadyClock = std::chrono::steady_clock;

class Connection {
 public:
  using Plain = beast::tcp_stream;
  using Tls = beast::ssl_stream<beast::tcp_stream>;

  explicit Connection(std::unique_ptr<Plain> s) : stream_(std::move(s)) {}
  explicit Connection(std::unique_ptr<Tls> s) : stream_(std::move(s)) {}

  // The plain TCP stream, or nullptr for a TLS connection.
  Plain* plain() {
    auto* p = std::get_if<std::unique_ptr<Plain>>(&stream_);
    return p ? p->get() : nullptr;
  }
  beast::tcp_stream& tcp() {
    return std::visit([](auto& p) -> beast::tcp_stream& { return beast::get_lowest_layer(*p); }, stream_);
  }
  template <class F>
  auto visit(F&& f) {
    return std::visit([&](auto& p) { return f(*p); }, stream_);
  }
  const void* context() const { return context_; }
  void setContext(const void* c) { context_ = c; }

  bool reused = false;
  SteadyClock::time_point idle_since{};

 private:
  std::variant<std::unique_ptr<Plain>, std::unique_ptr<Tls>> stream_;
  const void* context_ = nullptr;
};

namespace {

const void* contextOf(const asio::any_io_executor& ex) {
  return &asio::query(ex, asio::execution::context);
}

Error transportError(const Url& url, std::string_view what, const beast::error_code& ec) {
  std::string msg = fmt::format("upstream {}:{}: {}: {}", url.host, url.port, what, ec.message());
  if (ec == beast::error::timeout) return Error{ErrorCode::kTimeout, std::move(msg), 0};
  return Error{ErrorCode::kUpstreamError, std::move(msg), 0};
}

// True when a reused pooled connection failed in a way that means the server had closed it
// before our request: safe to resend on a fresh connection.
bool staleConnection(const beast::error_code& ec) {
  return ec == asio::error::eof || ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::ssl::error::stream_truncated;
}

}  // namespace

Result<Url> parseUrl(std::string_view s) {
  Url url;
  if (s.substr(0, 7) == "http://") {
    s.remove_prefix(7);
    url.port = 80;
  } else if (s.substr(0, 8) == "https://") {
    s.remove_prefix(8);
    url.tls = true;
    url.port = 443;
  } else {
    return fail(ErrorCode::kInvalidArgument, "URL must start with http:// or https://");
  }
  size_t slash = s.find('/');
  std::string_view hostport = s.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : s.substr(slash);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  std::string_view host = hostport, port;
  if (!hostport.empty() && hostport.front() == '[') {
    size_t close = hostport.find(']');
    if (close == std::string_view::npos) return fail(ErrorCode::kInvalidArgument, "URL has an unclosed '[' in its host");
    host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size()) {
      if (hostport[close + 1] != ':') return fail(ErrorCode::kInvalidArgument, "URL has junk after ']'");
      port = hostport.substr(close + 2);
    }
  } else if (size_t colon = hostport.rfind(':'); colon != std::string_view::npos) {
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
  }
  if (host.empty()) return fail(ErrorCode::kInvalidArgument, "URL has no host");
  if (!port.empty()) {
    unsigned p = 0;
    auto r = std::from_chars(port.data(), port.data() + port.size(), p);
    if (r.ec != std::errc() || r.ptr != port.data() + port.size() || p == 0 || p > 65535)
      return fail(ErrorCode::kInvalidArgument, "URL has a bad port '" + std::string(port) + "'");
    url.port = static_cast<uint16_t>(p);
  }
  url.host = std::string(host);
  url.path = std::string(path);
  return url;
}

std::unique_ptr<asio::ssl::context> makeClientTlsContext() {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  beast::error_code ec;
  ctx->set_default_verify_paths(ec);
  if (ec) spdlog::warn("TLS: cannot load the system CA store: {}", ec.message());
  ctx->set_verify_mode(asio::ssl::verify_peer);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  return ctx;
}

// ---------------------------------------------------------------------------------------------
HttpClient::HttpClient(asio::ssl::context& tls_ctx, Url url, ClientOptions opts)
    : tls_ctx_(tls_ctx), url_(std::move(url)), opts_(opts) {
  bool default_port = (url_.tls && url_.port == 443) || (!url_.tls && url_.port == 80);
  std::string host = url_.host.find(':') != std::string::npos ? "[" + url_.host + "]" : url_.host;
  host_header_ = default_port ? host : host + ":" + std::to_string(url_.port);
}

HttpClient::~HttpClient() = default;

std::shared_ptr<HttpClient> HttpClient::make(asio::ssl::context& tls_ctx, Url url, ClientOptions opts) {
  return std::shared_ptr<HttpClient>(new HttpClient(tls_ctx, std::move(url), opts));
}

std::unique_ptr<Connection> HttpClient::takeIdle(const void* context) {
  std::lock_guard lock(mu_);
  auto it = idle_.find(context);
  if (it == idle_.end()) return nullptr;
  auto now = SteadyClock::now();
  auto& q = it->second;
  while (!q.empty()) {
    auto conn = std::move(q.back());  // most recently used first: likeliest to be alive
    q.pop_back();
    if (now - conn->idle_since < opts_.max_idle_age) {
      conn->reused = true;
      return conn;
    }
  }
  return nullptr;
}

void HttpClient::closeAll() {
  std::lock_guard lock(mu_);
  closed_ = true;
  idle_.clear();
}

void HttpClient::giveBack(std::unique_ptr<Connection> conn) {
  conn->idle_since = SteadyClock::now();
  std::lock_guard lock(mu_);
  if (closed_) return;  // conn is destroyed here, while its context still exists
  auto& q = idle_[conn->context()];
  if (q.size() >= opts_.max_idle_connections) q.pop_front();  // oldest out
  q.push_back(std::move(conn));
}

asio::awaitable<Result<std::unique_ptr<Connection>>> HttpClient::connect() {
  auto exec = co_await asio::this_coro::executor;
  tcp::resolver resolver(exec);
  asio::steady_timer timer(exec, opts_.connect_timeout);
  const std::string port = std::to_string(url_.port);
  auto resolved = co_await (resolver.async_resolve(url_.host, port, use_nothrow) || timer.async_wait(use_nothrow));
  if (resolved.index() == 1)
    co_return fail(ErrorCode::kTimeout, fmt::format("upstream {}: DNS lookup timed out", url_.host));
  auto [rec, results] = std::get<0>(resolved);
  if (rec) co_return fail(transportError(url_, "DNS lookup failed", rec));

  auto plain = std::make_unique<beast::tcp_stream>(exec);
  plain->expires_after(opts_.connect_timeout);
  auto [cec, ep] = co_await plain->async_connect(results, use_nothrow);
  if (cec) co_return fail(transportError(url_, "connect failed", cec));
  beast::error_code ignored;
  plain->socket().set_option(tcp::no_delay(true), ignored);

  std::unique_ptr<Connection> conn;
  if (!url_.tls) {
    plain->expires_never();
    plain->socket().non_blocking(true, ignored);  // for writeNow's first try
    conn = std::make_unique<Connection>(std::move(plain));
  } else {
    auto tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(*plain), tls_ctx_);
    if (!SSL_set_tlsext_host_name(tls->native_handle(), url_.host.c_str()))
      co_return fail(ErrorCode::kUpstreamError, fmt::format("upstream {}: cannot set TLS SNI", url_.host));
    tls->set_verify_callback(asio::ssl::host_name_verification(url_.host));
    auto [hec] = co_await tls->async_handshake(asio::ssl::stream_base::client, use_nothrow);
    if (hec) co_return fail(transportError(url_, "TLS handshake failed", hec));
    beast::get_lowest_layer(*tls).expires_never();
    conn = std::make_unique<Connection>(std::move(tls));
  }
  conn->setContext(contextOf(exec));
  co_return conn;
}

asio::awaitable<Result<std::unique_ptr<ClientResponse>>> HttpClient::send(bhttp::request<bhttp::string_body> req) {
  req.version(11);
  req.set(bhttp::field::host, host_header_);
  req.keep_alive(true);
  req.prepare_payload();
  // Head and body go out in one gather write (see http/wire.h); a chunked request is framed by Beast.
  std::string head;
  if (req.chunked()) co_return co_await exchange(head, {}, &req);
  appendHead(head, req.base());
  co_return co_await exchange(head, req.body(), nullptr);
}

asio::awaitable<Result<std::unique_ptr<ClientResponse>>> HttpClient::send(bhttp::verb method, std::string_view target,
                                                                          const HeadFields& fields,
                                                                          std::string_view body) {
  std::string head;
  appendRequestHead(head, method, target, fields, host_header_, body.size());
  co_return co_await exchange(head, body, nullptr);
}

asio::awaitable<Result<std::unique_ptr<ClientResponse>>> HttpClient::exchange(
    std::string_view head, std::string_view body, const bhttp::request<bhttp::string_body>* chunked) {
  auto exec = co_await asio::this_coro::executor;
  const std::array<asio::const_buffer, 2> bufs{asio::buffer(head.data(), head.size()),
                                               asio::buffer(body.data(), body.size())};
  for (int round = 0; round < 2; ++round) {
    std::unique_ptr<Connection> conn = round == 0 ? takeIdle(contextOf(exec)) : nullptr;
    if (!conn) {
      auto c = co_await connect();
      if (!c) co_return fail(c.error());
      conn = std::move(*c);
    }
    bool reused = conn->reused;
    beast::error_code wec;
    if (Connection::Plain* plain = conn->plain(); plain && !chunked) {
      // Usually taken by the kernel at once: no Asio operation (see http/write_now.h).
      wec = co_await writeNow(*plain, bufs, opts_.first_byte_timeout);
    } else {
      conn->tcp().expires_after(opts_.first_byte_timeout);
      auto [ec, wn] = co_await conn->visit([&](auto& s) {
        return chunked ? bhttp::async_write(s, *chunked, use_nothrow) : asio::async_write(s, bufs, use_nothrow);
      });
      wec = ec;
    }
    // The first byte of the answer is due within first_byte_timeout of the request written.
    conn->tcp().expires_after(opts_.first_byte_timeout);
    if (wec) {
      if (reused && staleConnection(wec)) continue;
      co_return fail(transportError(url_, "sending request failed", wec));
    }
    auto resp = std::unique_ptr<ClientResponse>(new ClientResponse(shared_from_this(), std::move(conn)));
    auto [hec, hn] = co_await resp->conn_->visit(
        [&](auto& s) { return bhttp::async_read_header(s, resp->buffer_, *resp->parser_, use_nothrow); });
    if (hec) {
      resp->done_ = true;  // do not pool
      if (reused && staleConnection(hec) && hn == 0) continue;
      co_return fail(transportError(url_, "reading response head failed", hec));
    }
    resp->status_ = static_cast<int>(resp->parser_->get().result_int());
    if (resp->parser_->is_done()) resp->done_ = true;
    co_return resp;
  }
  co_return fail(ErrorCode::kUpstreamError, fmt::format("upstream {}:{}: connection closed twice", url_.host, url_.port));
}

// ---------------------------------------------------------------------------------------------
ClientResponse::ClientResponse(std::shared_ptr<HttpClient> client, std::unique_ptr<Connection> conn)
    : client_(std::move(client)), conn_(std::move(conn)),
      parser_(std::make_unique<bhttp::response_parser<bhttp::buffer_body>>()) {
  // Reads of up to 4 KB (an empty flat_buffer makes Beast read 512 bytes at a time: a streamed answer
  // cost a recvmsg per half event).
  buffer_.reserve(kHeadReadBytes);
  parser_->header_limit(64 * 1024);
  parser_->body_limit(boost::none);  // bounded by our own count in readSome
}

ClientResponse::~ClientResponse() {
  if (!conn_) return;
  bool reusable = done_ && parser_->is_done() && parser_->keep_alive();
  if (reusable) {
    conn_->tcp().expires_never();
    client_->giveBack(std::move(conn_));
  } else {
    // Closing the socket is how an upstream request is cancelled (client gone, error).
    beast::error_code ec;
    conn_->tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
    conn_->tcp().close();
  }
}

asio::awaitable<Result<size_t>> ClientResponse::readAppend(std::string& out) {
  while (true) {
    if (done_ || parser_->is_done()) {
      done_ = true;
      co_return size_t{0};
    }
    // The parser copies body bytes into `scratch_`: allocated once per response and never
    // cleared (a zero-filled 16 KB string per read cost more than the rest of the read).
    if (!scratch_) {
      // A body of known length that fits gets a buffer of its size (a small block, not 16 KB).
      auto len = parser_->content_length_remaining();
      scratch_size_ = len && *len > 0 && *len < kReadChunk ? static_cast<size_t>(*len) : kReadChunk;
      scratch_ = std::make_unique_for_overwrite<char[]>(scratch_size_);
    }
    auto& body = parser_->get().body();
    body.data = scratch_.get();
    body.size = scratch_size_;
    beast::error_code ec;
    size_t used = 0;
    if (buffer_.size() > 0) {
      // Bytes that came with the head or with the last read: parsed without an Asio operation (an async
      // read of buffered bytes completes through a posted handler and a timer armed and cancelled).
      used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == bhttp::error::need_more) ec = {};
    }
    if (used == 0 && !ec) {
      conn_->tcp().expires_after(client_->opts_.idle_timeout);
      auto [rec, n] = co_await conn_->visit([&](auto& s) { return bhttp::async_read_some(s, buffer_, *parser_, use_nothrow); });
      ec = rec;
    }
    if (ec && ec != bhttp::error::need_buffer) {
      done_ = true;
      body.data = nullptr;
      co_return fail(transportError(client_->url_, "reading response body failed", ec));
    }
    const size_t got = scratch_size_ - body.size;
    body.data = nullptr;
    body.size = 0;
    read_bytes_ += got;
    if (read_bytes_ > client_->opts_.max_response_bytes) {
      done_ = true;
      co_return fail(ErrorCode::kUpstreamError, fmt::format("upstream {}: response larger than {} bytes",
                                                            client_->url_.host, client_->opts_.max_response_bytes));
    }
    out.append(scratch_.get(), got);
    if (parser_->is_done()) done_ = true;
    if (got > 0 || done_) co_return got;
    // A chunk header only: read on.
  }
}

asio::awaitable<Result<std::string>> ClientResponse::readSome() {
  std::string out;
  auto got = co_await readAppend(out);
  if (!got) co_return fail(got.error());
  co_return out;
}

asio::awaitable<Result<std::string>> ClientResponse::readAll() {
  std::string all;
  if (auto len = parser_->content_length(); len && *len <= client_->opts_.max_response_bytes) all.reserve(*len);
  while (true) {
    auto got = co_await readAppend(all);
    if (!got) co_return fail(got.error());
    if (*got == 0) break;
  }
  co_return all;
}

}  // namespace rightsize::http
