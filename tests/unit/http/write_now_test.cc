#include "http/write_now.h"

#include <sys/socket.h>

#include <array>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace rightsize::http {
namespace {

using Local = asio::local::stream_protocol;
using LocalStream = beast::basic_stream<Local>;

// A connected pair of local stream sockets with small kernel buffers, so a write of a few hundred
// KB cannot be taken at once.
struct Pair {
  asio::io_context io;
  LocalStream a{io};
  Local::socket b{io};
  Pair() {
    Local::socket s(io);
    asio::local::connect_pair(s, b);
    const int small = 16 * 1024;
    setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(b.native_handle(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    a.socket() = std::move(s);
  }
};

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

// Runs writeNow(bytes) on p.a; returns its result once done (nullopt while it is still waiting).
void startWrite(Pair& p, const std::string& bytes, std::optional<beast::error_code>& result) {
  asio::co_spawn(
      p.io,
      [&]() -> asio::awaitable<void> {
        const asio::const_buffer buf = asio::buffer(bytes);
        result = co_await writeNow(p.a, buf, std::chrono::seconds(30));
      },
      asio::detached);
}

std::string readAll(Pair& p, size_t n) {
  std::string got(n, '\0');
  beast::error_code ec;
  asio::read(p.b, asio::buffer(got), ec);
  EXPECT_FALSE(ec) << ec.message();
  return got;
}

TEST(WriteNow, SmallWriteOnANonBlockingSocketCompletesWithoutWaiting) {
  Pair p;
  p.a.socket().non_blocking(true);
  const std::string bytes = pattern(1000);
  std::optional<beast::error_code> result;
  startWrite(p, bytes, result);
  p.io.poll();  // runs the coroutine to its end: no I/O to wait for
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(*result) << result->message();
  EXPECT_EQ(readAll(p, bytes.size()), bytes);
}

TEST(WriteNow, WhatTheSocketDoesNotTakeIsWrittenWhenThePeerReads) {
  Pair p;
  p.a.socket().non_blocking(true);
  const std::string bytes = pattern(600 * 1024);
  std::optional<beast::error_code> result;
  startWrite(p, bytes, result);
  p.io.poll();
  EXPECT_FALSE(result.has_value()) << "600 KB cannot fit in 16 KB socket buffers: the write must wait";
  // The peer reads (a thread: the io_context runs the writer meanwhile).
  std::string got;
  std::thread reader([&] { got = readAll(p, bytes.size()); });
  p.io.run();
  reader.join();
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(*result) << result->message();
  EXPECT_EQ(got.size(), bytes.size());
  EXPECT_TRUE(got == bytes) << "bytes lost or reordered between the first try and the async rest";
}

TEST(WriteNow, ABlockingModeSocketGoesTheAsyncWayAndStillDeliversEverything) {
  Pair p;
  ASSERT_FALSE(p.a.socket().non_blocking());
  const std::string bytes = pattern(300 * 1024);
  std::optional<beast::error_code> result;
  startWrite(p, bytes, result);
  std::string got;
  std::thread reader([&] { got = readAll(p, bytes.size()); });
  p.io.run();
  reader.join();
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(*result);
  EXPECT_TRUE(got == bytes);
}

TEST(WriteNow, APeerThatClosedGivesAnErrorNotASignal) {
  Pair p;
  p.a.socket().non_blocking(true);
  p.b.close();
  const std::string bytes = pattern(1000);
  std::optional<beast::error_code> result;
  startWrite(p, bytes, result);
  p.io.run();
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(*result) << "writing to a closed peer must fail (EPIPE), not succeed or raise SIGPIPE";
}

TEST(WriteNow, AGatherWriteArrivesInOrder) {
  Pair p;
  p.a.socket().non_blocking(true);
  const std::string head = "HTTP/1.1 200 OK\r\n\r\n", body = pattern(200 * 1024);
  std::optional<beast::error_code> result;
  asio::co_spawn(
      p.io,
      [&]() -> asio::awaitable<void> {
        const std::array<asio::const_buffer, 2> bufs{asio::buffer(head), asio::buffer(body)};
        result = co_await writeNow(p.a, bufs, std::chrono::seconds(30));
      },
      asio::detached);
  std::string got;
  std::thread reader([&] { got = readAll(p, head.size() + body.size()); });
  p.io.run();
  reader.join();
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(*result);
  EXPECT_TRUE(got == head + body);
}

}  // namespace
}  // namespace rightsize::http
