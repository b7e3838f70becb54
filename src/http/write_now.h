#pragma once
// Writing to a plain TCP socket without an Asio operation when the kernel takes the bytes at once.
//
// An async_write that completes immediately (the usual case: a few KB into an empty send buffer)
// still costs a posted completion, one more turn of the event loop (Asio polls epoll_wait before
// running it) and, on a beast::tcp_stream, a timer armed and cancelled (a timerfd_settime each way
// when it is the earliest deadline). writeNow() first tries one non-blocking sendmsg; only what the
// kernel did not take goes through async_write, under the write timeout. The socket must be in
// non-blocking mode (socket().non_blocking(true), set once per connection by whoever owns it), or
// the first try could block the io thread: writeNow checks and falls back to async_write if not.

#include <chrono>

#include "http/asio.h"

namespace rightsize::http {

// Writes all of `bufs` to `stream`: at once if the socket takes them, else the rest asynchronously
// with `timeout` (the stream's expiry is cleared afterwards). Returns the write's error, if any.
// `bufs` must stay valid until the returned awaitable completes. Any beast::basic_stream (TCP on the
// proxy path; a local stream socket in the unit tests).
template <class Protocol, class Executor, class RatePolicy, class ConstBufferSequence>
asio::awaitable<beast::error_code> writeNow(beast::basic_stream<Protocol, Executor, RatePolicy>& stream,
                                            const ConstBufferSequence& bufs, std::chrono::milliseconds timeout) {
  beast::error_code ec;
  size_t sent = 0;
  const size_t total = asio::buffer_size(bufs);
  if (stream.socket().non_blocking()) {
    sent = stream.socket().write_some(bufs, ec);
    if (!ec && sent == total) co_return ec;
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) co_return ec;
  }
  beast::buffers_suffix<ConstBufferSequence> rest(bufs);
  rest.consume(sent);
  stream.expires_after(timeout);
  auto [wec, n] = co_await asio::async_write(stream, rest, use_nothrow);
  stream.expires_never();
  co_return wec;
}

}  // namespace rightsize::http
