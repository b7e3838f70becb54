#include "http/server.h"

#include <array>

#include <spdlog/spdlog.h>

#include "http/wire.h"
#include "http/write_now.h"

namespace rightsize::http {

namespace {

constexpr size_t kFirstReadBytes = 4096;

bool isTimeout(const beast::error_code& ec) { return ec == beast::error::timeout; }

// After an early error response (413, 431, 400) the client may still be sending its body;
// closing at once would make the kernel reset the connection and the client could lose our
// answer. Like nginx's lingering close: stop writing, then read and discard for a bounded
// time and size before closing.
asio::awaitable<void> lingeringClose(beast::tcp_stream& stream) {
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  constexpr uint64_t kMaxDiscard = 64 * 1024 * 1024;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  uint64_t discarded = 0;
  std::array<char, 16 * 1024> sink;
  while (discarded < kMaxDiscard && std::chrono::steady_clock::now() < deadline) {
    stream.expires_after(std::chrono::seconds(1));
    auto [rec, n] = co_await stream.async_read_some(asio::buffer(sink), use_nothrow);
    if (rec) break;
    discarded += n;
  }
  stream.expires_never();
}

// Feeds what `buffer` already holds to `parser`, without an Asio operation: a small request usually
// arrives whole in the first read, and an async read of bytes already buffered still completes through
// a posted handler, one more turn of the event loop and a timer armed and cancelled. Parses up to the
// end of the head (`head_only`) or of the message. True when that point was reached; false when more
// bytes are needed (`ec` clear: read them asynchronously) or on a parse error (`ec` set, the same error
// the async read would have given).
bool parseBuffered(bhttp::request_parser<bhttp::string_body>& parser, beast::flat_buffer& buffer, bool head_only,
                   beast::error_code& ec) {
  ec = {};
  while (!(head_only ? parser.is_header_done() : parser.is_done())) {
    if (buffer.size() == 0) return false;
    const size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == bhttp::error::need_more) {
      ec = {};
      return false;
    }
    if (ec || used == 0) return false;
  }
  return true;
}

}  // namespace

asio::awaitable<bool> ResponseWriter::send(Response res) {
  if (failed_) co_return false;
  res.keep_alive(keep_alive_);
  res.prepare_payload();
  beast::error_code ec;
  if (res.chunked()) {  // a handler's own Transfer-Encoding: let Beast frame the body
    stream_.expires_after(write_timeout_);
    auto [wec, n] = co_await bhttp::async_write(stream_, res, use_nothrow);
    stream_.expires_never();
    ec = wec;
  } else {
    // Head and body in one gather write (see http/wire.h).
    std::string head;
    appendHead(head, res.base());
    const std::array<asio::const_buffer, 2> bufs{asio::buffer(head),
                                                 asio::buffer(res.body().data(), head_only_ ? 0 : res.body().size())};
    ec = co_await writeNow(stream_, bufs, write_timeout_);
  }
  head_sent_ = true;
  if (ec) failed_ = true;
  co_return !failed_;
}

asio::awaitable<bool> ResponseWriter::send(unsigned status, const HeadFields& fields, std::string_view body) {
  if (failed_) co_return false;
  std::string head;
  appendResponseHead(head, status, fields, keep_alive_, body.size());
  const std::array<asio::const_buffer, 2> bufs{asio::buffer(head), asio::buffer(body.data(), head_only_ ? 0 : body.size())};
  const beast::error_code ec = co_await writeNow(stream_, bufs, write_timeout_);
  head_sent_ = true;
  if (ec) failed_ = true;
  co_return !failed_;
}

asio::awaitable<bool> ResponseWriter::beginChunked(bhttp::response<bhttp::empty_body> head) {
  if (failed_) co_return false;
  head.keep_alive(keep_alive_);
  head.chunked(true);
  std::string bytes;
  appendHead(bytes, head.base());
  const asio::const_buffer buf = asio::buffer(bytes);
  const beast::error_code ec = co_await writeNow(stream_, buf, write_timeout_);
  head_sent_ = true;
  chunked_open_ = true;
  if (ec) failed_ = true;
  co_return !failed_;
}

asio::awaitable<bool> ResponseWriter::sendChunk(std::string_view data) {
  if (failed_) co_return false;
  if (data.empty()) co_return true;
  const auto chunk = bhttp::make_chunk(asio::buffer(data.data(), data.size()));
  const beast::error_code ec = co_await writeNow(stream_, chunk, write_timeout_);
  if (ec) failed_ = true;
  co_return !failed_;
}

asio::awaitable<bool> ResponseWriter::endChunked(const bhttp::fields* trailer) {
  if (failed_) co_return false;
  bhttp::fields empty;
  const auto last = bhttp::make_chunk_last(trailer ? *trailer : empty);
  const beast::error_code ec = co_await writeNow(stream_, last, write_timeout_);
  chunked_open_ = false;
  if (ec) failed_ = true;
  co_return !failed_;
}

Server::Server(Workers& workers, ServerLimits limits, Handler handler, ErrorResponder on_error)
    : workers_(workers), limits_(limits), handler_(std::move(handler)), on_error_(std::move(on_error)),
      acceptor_(std::make_unique<tcp::acceptor>(workers.context(0))) {}

Server::~Server() = default;

Result<tcp::endpoint> Server::listen(const std::string& host, uint16_t port) {
  beast::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return fail(ErrorCode::kInvalidArgument, "listen address '" + host + "' is not an IP address");
  tcp::endpoint ep{addr, port};
  acceptor_->open(ep.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(ep, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(ErrorCode::kIo, "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  return acceptor_->local_endpoint();
}

void Server::start() { asio::co_spawn(acceptor_->get_executor(), acceptLoop(), asio::detached); }

void Server::stopAccepting() {
  draining_ = true;
  asio::post(acceptor_->get_executor(), [this] {
    beast::error_code ec;
    if (acceptor_) acceptor_->close(ec);
  });
}

asio::awaitable<void> Server::acceptLoop() {
  while (!draining_) {
    auto [ec, socket] = co_await acceptor_->async_accept(workers_.next(), use_nothrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_ || !acceptor_->is_open()) break;
      // EMFILE and friends: log, back off briefly, keep accepting.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer t(acceptor_->get_executor(), std::chrono::milliseconds(50));
      co_await t.async_wait(use_nothrow);
      continue;
    }
    if (connections_.load() >= limits_.max_connections) {
      spdlog::warn("connection limit {} reached; closing new connection", limits_.max_connections);
      ++refused_;
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    // Counted here, before the session runs on its worker: counting in the session let a burst of
    // accepts pass the cap while the sessions of the connections just accepted had not started.
    ++connections_;
    auto exec = socket.get_executor();
    asio::co_spawn(exec, session(std::move(socket)), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("session ended by exception: {}", ex.what());
      }
    });
  }
}

asio::awaitable<void> Server::session(tcp::socket socket) {
  // The accept loop counted this connection; the session gives it back when it ends.
  struct Guard {
    std::atomic<size_t>& n;
    ~Guard() { --n; }
  } guard{connections_};

  beast::tcp_stream stream(std::move(socket));
  // Non-blocking for writeNow's first try (Asio's own operations do not depend on this mode).
  beast::error_code nb_ec;
  stream.socket().non_blocking(true, nb_ec);
  beast::flat_buffer buffer;
  bool first = true;
  while (true) {
    // Wait for the first byte of the next request: header_timeout on a new connection,
    // idle_timeout between keep-alive requests. Then the whole head within header_timeout.
    if (buffer.size() == 0) {
      stream.expires_after(first ? limits_.header_timeout : limits_.idle_timeout);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kFirstReadBytes), use_nothrow);
      if (ec) break;  // closed, reset or idle: nothing in flight, nothing to answer
      buffer.commit(n);
    }
    first = false;
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(limits_.max_header_bytes);
    parser.body_limit(limits_.max_body_bytes);
    beast::error_code hec;
    if (!parseBuffered(parser, buffer, true, hec) && !hec) {
      stream.expires_after(limits_.header_timeout);
      auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, use_nothrow);
      hec = ec;
    }
    ResponseWriter early(stream, limits_.write_timeout, false);
    bool linger = false;
    if (hec) {
      if (isTimeout(hec)) {
        spdlog::debug("client too slow sending request head; closing");
        break;
      }
      if (hec == bhttp::error::header_limit) {
        auto res = on_error_(431, "request header fields too large (limit " +
                                      std::to_string(limits_.max_header_bytes) + " bytes)", {});
        co_await early.send(std::move(res));
        linger = true;
      } else if (hec == bhttp::error::body_limit) {  // Content-Length over the limit, seen in the head
        auto res = on_error_(413, "request body exceeds the limit of " + std::to_string(limits_.max_body_bytes) + " bytes",
                             parser.get().target());
        co_await early.send(std::move(res));
        linger = true;
      } else if (hec != bhttp::error::end_of_stream && hec != asio::error::eof &&
                 hec != asio::error::connection_reset) {
        auto res = on_error_(400, "malformed HTTP request: " + hec.message(), {});
        co_await early.send(std::move(res));
        linger = true;
      }
      if (linger) {
        co_await lingeringClose(stream);
        co_return;
      }
      break;
    }
    auto& head = parser.get();
    if (auto len = parser.content_length(); len && *len > limits_.max_body_bytes) {
      auto res = on_error_(413, "request body of " + std::to_string(*len) + " bytes exceeds the limit of " +
                                    std::to_string(limits_.max_body_bytes) + " bytes", head.target());
      co_await early.send(std::move(res));
      co_await lingeringClose(stream);
      co_return;
    }
    if (beast::iequals(head[bhttp::field::expect], "100-continue")) {
      bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, head.version()};
      stream.expires_after(limits_.write_timeout);
      auto [cec, cn] = co_await bhttp::async_write(stream, cont, use_nothrow);
      if (cec) break;
    }
    beast::error_code bec;
    if (!parseBuffered(parser, buffer, false, bec) && !bec) {
      stream.expires_after(limits_.read_timeout);
      auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, use_nothrow);
      bec = ec;
    }
    stream.expires_never();
    if (bec) {
      if (bec == bhttp::error::body_limit) {
        auto res = on_error_(413, "request body exceeds the limit of " + std::to_string(limits_.max_body_bytes) + " bytes",
                             head.target());
        co_await early.send(std::move(res));
        co_await lingeringClose(stream);
        co_return;
      } else if (isTimeout(bec)) {
        spdlog::debug("client too slow sending request body; closing");
      } else if (bec != asio::error::eof && bec != asio::error::connection_reset && bec != bhttp::error::partial_message) {
        auto res = on_error_(400, "malformed HTTP request body: " + bec.message(), head.target());
        co_await early.send(std::move(res));
      }
      break;
    }

    Request req = parser.release();
    ResponseWriter writer(stream, limits_.write_timeout, req.keep_alive() && !draining_);
    writer.setHeadOnly(req.method() == bhttp::verb::head);
    ++in_flight_;
    bool threw = false;
    try {
      co_await handler_(req, writer);
    } catch (const std::exception& e) {
      // Handlers report failures as values; reaching here is a bug of ours. Answer if we can.
      spdlog::error("handler threw: {}", e.what());
      threw = true;
    }
    if (threw) {
      if (!writer.headSent()) {
        auto res = on_error_(500, "internal error", req.target());
        co_await writer.send(std::move(res));
      }
      writer.setKeepAlive(false);
    }
    --in_flight_;
    ++served_;
    if (!writer.keepAlive() || draining_) break;
  }
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.close();
}

Response jsonResponse(unsigned status, std::string body) {
  Response res{static_cast<bhttp::status>(status), 11};
  res.insert(bhttp::field::content_type, "application/json");
  res.insert(bhttp::field::server, "rightsize");
  res.body() = std::move(body);
  return res;
}

}  // namespace rightsize::http
