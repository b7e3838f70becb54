// rs_mock_upstream: a fast, scriptable fake of an OpenAI-compatible model server, for rightsize's
// integration tests, Node client tests and benchmarks (where it is the upstream of both nginx and
// rightsize, so it must never be the bottleneck: keep-alive, one reused buffer per connection, no logging
// per request).
//
//   rs_mock_upstream --port 0 [--host 127.0.0.1] [--threads N]
//
// Prints `listening on HOST:PORT` as the first line of stdout (flushed), then serves until SIGTERM/SIGINT
// and exits 0.
//
// Endpoints
//   POST /v1/chat/completions  OpenAI Chat Completions. Reply text "mock reply to: " + the first 40 bytes of
//                              the last user message (never splitting a UTF-8 sequence). usage.prompt_tokens
//                              = ceil(code points of all message contents / 4); completion_tokens = words in
//                              the reply. "stream": true answers with SSE (text/event-stream, chunked): a
//                              role chunk, one content chunk per word, a finish_reason "stop" chunk, a usage
//                              chunk (choices: []) only with stream_options.include_usage, then
//                              `data: [DONE]`; every event is its own HTTP chunk and its own write.
//   POST /v1/embeddings        OpenAI Embeddings. input: string | string[] | int[] | int[][]; one deterministic
//                              vector per input, `dimensions` (default 8, at most 4096) float32 values in [-1, 1)
//                              from a hash of the input (mock_embeddings.h); JSON numbers, or with
//                              "encoding_format": "base64" the base64 of the little-endian float32s.
//                              usage.prompt_tokens = total_tokens = sum over inputs of ceil(code points / 4) (a
//                              token array: its length). Directives status=N, fail_first=K, retry_after=S and
//                              require_key=K apply (counted per model string like chat; the others are ignored).
//   GET  /v1/models            a small OpenAI models list.
//   GET  /_mock/last           {"body": raw last chat body as a string, "authorization": ..., "headers":
//                              {lowercase name: value}, "count": chat requests} (null fields before any).
//   POST /_mock/reset          clears counters (count, by_model, fail_first, cancellations) and last.
//   GET  /_mock/stats          {"count", "by_model": {exact model string: n}, "open_connections" (this one
//                              included), "accepted_connections" (since start or reset), "cancelled_streams",
//                              "cancelled_requests"}.
//   anything else              404 with an OpenAI error body. Bodies over 64 MB: 413. Malformed JSON: 400.
//
// Directives, in the request's model string `name;key=value;...` (`name` is echoed back as `model`):
//   status=N        answer HTTP N with {"error":{"message":"mock error N","type":"mock","code":N}}
//   fail_first=K    only the first K requests with this exact model string fail (with status=N, default
//                   500); counted per exact model string, reset by POST /_mock/reset
//   retry_after=S   Retry-After: S on error responses
//   latency_ms=T    wait T ms before the response head
//   chunks=N        reply "w1 w2 ... wN", streamed as exactly N content chunks (with reply=: that text cut
//                   into N byte-balanced pieces)
//   chunk_ms=T      wait T ms between streamed chunks
//   reset_after=K   streaming: send K content chunks, then close the connection (no terminating chunk)
//   slow_body_ms=T  non-streaming: send the head, then the body in 32-byte pieces T ms apart
//   truncate=1      non-streaming: declare the full Content-Length, send half the body, close
//   hang=1          never answer; wait until the client closes
//   require_key=K   401 (OpenAI invalid_api_key body) unless `Authorization: Bearer K`
//   reply=TEXT      reply with TEXT, %XX-decoded (write ';' as %3B)
//   cached=N        usage.prompt_tokens_details.cached_tokens = min(N, prompt_tokens)
//   reasoning=N     N more completion tokens, reported as completion_tokens_details.reasoning_tokens
//   no_usage=1      no usage at all (plain: no "usage" key; stream: no usage chunk even when asked)
// An unknown directive is a 400, so a typo in a test fails loudly.
//
// A "cancelled" stream/request is one whose client closed (or whose write failed) before the mock finished
// answering; only answers that can take time are watched (streams, hang, latency_ms, slow_body_ms). A client
// that half-closes its side (shutdown(SHUT_WR)) after sending counts as gone.

#include <algorithm>
#include <atomic>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "mock_anthropic.h"
#include "mock_chat.h"
#include "mock_embeddings.h"

namespace rightsize::fakes {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

// g++ 12.2 miscompiles a co_await that is (part of) an if condition: `if (co_await f()) ...` and
// `if (!co_await f()) co_return x;` resume a corrupt frame (SIGILL/SIGSEGV, at -O0 and -O2). Results are
// bound first: `if (bool ok = co_await f(); !ok)`, which compiles correctly.
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr uint64_t kBodyLimit = 64ull << 20;
constexpr size_t kSlowPieceBytes = 32;

// State shared by all connections. Counters the hot path touches are guarded by `mu`.
struct Shared {
  std::mutex mu;
  uint64_t count = 0;                                     // guarded by mu
  std::map<std::string, uint64_t, std::less<>> by_model;  // guarded by mu
  std::optional<http::request<http::string_body>> last;   // guarded by mu
  std::atomic<int64_t> open_connections{0};
  std::atomic<uint64_t> accepted_connections{0};
  std::atomic<uint64_t> cancelled_streams{0};
  std::atomic<uint64_t> cancelled_requests{0};
  std::atomic<uint64_t> next_id{0};
};

// What a handler leaves the connection in.
enum class After { kKeepAlive, kClose, kAbort };

struct Connection {
  tcp::socket sock;
  Shared& shared;
  beast::flat_buffer buf;
  std::string out;  // response bytes, reused
  std::string ev;   // one SSE event's JSON, reused
  std::vector<std::string_view> pieces;
};

void appendUInt(std::string& out, uint64_t v, int base = 10) {
  char b[24];
  auto [p, ec] = std::to_chars(b, b + sizeof b, v, base);
  out.append(b, p);
}

// Starts a response head. `content_length` < 0 means chunked (or close-delimited for HTTP/1.0).
void appendHead(std::string& out, unsigned status, std::string_view content_type, int64_t content_length,
                bool keep_alive, bool http10, std::string_view retry_after = {}) {
  out += "HTTP/1.1 ";
  appendUInt(out, status);
  out += ' ';
  out += http::obsolete_reason(static_cast<http::status>(status));
  out += "\r\nServer: rs_mock_upstream\r\nContent-Type: ";
  out += content_type;
  out += "\r\n";
  if (content_length >= 0) {
    out += "Content-Length: ";
    appendUInt(out, static_cast<uint64_t>(content_length));
    out += "\r\n";
  } else if (!http10) {
    out += "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n";
  }
  if (!retry_after.empty()) {
    out += "Retry-After: ";
    out += retry_after;
    out += "\r\n";
  }
  if (!keep_alive)
    out += "Connection: close\r\n";
  else if (http10)
    out += "Connection: keep-alive\r\n";
  out += "\r\n";
}

asio::awaitable<bool> writeOut(Connection& c) {
  auto r = co_await asio::async_write(c.sock, asio::buffer(c.out), kNoThrow);
  co_return !std::get<0>(r);
}

// Writes a whole response with a Content-Length body.
asio::awaitable<After> respond(Connection& c, unsigned status, std::string_view content_type,
                               std::string_view body, bool keep_alive, bool http10,
                               std::string_view retry_after = {}) {
  c.out.clear();
  appendHead(c.out, status, content_type, static_cast<int64_t>(body.size()), keep_alive, http10, retry_after);
  c.out += body;
  if (bool ok = co_await writeOut(c); !ok) co_return After::kAbort;
  co_return keep_alive ? After::kKeepAlive : After::kClose;
}

asio::awaitable<After> respondError(Connection& c, unsigned status, std::string_view message,
                                    std::string_view type, std::string_view code_json, bool keep_alive,
                                    bool http10, std::string_view retry_after = {}) {
  std::string body;
  appendError(body, message, type, code_json);
  After a = co_await respond(c, status, "application/json", body, keep_alive, http10, retry_after);
  co_return a;
}

asio::awaitable<bool> sleepFor(std::chrono::milliseconds d) {
  if (d.count() <= 0) co_return true;
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  auto r = co_await t.async_wait(kNoThrow);
  co_return !std::get<0>(r);
}

// Completes when the client closes (or the socket fails). Bytes that arrive meanwhile (a pipelined next
// request) are kept in the connection's buffer for the next read.
asio::awaitable<void> watchClose(Connection& c) {
  for (;;) {
    if (c.buf.size() >= 64 * 1024) {  // enough buffered: just wait to be cancelled
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::hours(24 * 365));
      co_await t.async_wait(kNoThrow);
      co_return;
    }
    auto r = co_await c.sock.async_read_some(c.buf.prepare(4096), kNoThrow);
    if (std::get<0>(r)) co_return;
    c.buf.commit(std::get<1>(r));
  }
}

// Runs `answer` while watching for the client to go away. A client gone first counts as a cancellation.
asio::awaitable<After> watched(Connection& c, asio::awaitable<After> answer, std::atomic<uint64_t>& cancelled) {
  auto r = co_await (std::move(answer) || watchClose(c));
  if (r.index() == 1) {
    cancelled.fetch_add(1, std::memory_order_relaxed);
    co_return After::kAbort;
  }
  After a = std::get<0>(r);
  if (a == After::kAbort) cancelled.fetch_add(1, std::memory_order_relaxed);
  co_return a;
}

struct Answer {
  const Directives& d;
  const CompletionMeta& meta;
  std::string_view reply;
  Usage usage;
  bool keep_alive;
  bool http10;
};

// Appends one SSE event (`data: <c.ev>\n\n`), framed as an HTTP chunk unless HTTP/1.0.
void appendEvent(Connection& c, std::string_view data, bool http10) {
  size_t len = 6 + data.size() + 2;
  if (!http10) {
    appendUInt(c.out, len, 16);
    c.out += "\r\n";
  }
  c.out += "data: ";
  c.out += data;
  c.out += "\n\n";
  if (!http10) c.out += "\r\n";
}

asio::awaitable<After> answerStream(Connection& c, Answer a) {
  if (bool ok = co_await sleepFor(a.d.latency); !ok) co_return After::kAbort;
  bool keep_alive = a.keep_alive && !a.http10;
  c.out.clear();
  appendHead(c.out, 200, "text/event-stream", -1, keep_alive, a.http10);
  c.ev.clear();
  appendChunk(c.ev, a.meta, {}, true, false);
  appendEvent(c, c.ev, a.http10);
  if (bool ok = co_await writeOut(c); !ok) co_return After::kAbort;

  splitReply(a.reply, a.d, c.pieces);
  for (size_t i = 0; i < c.pieces.size(); ++i) {
    if (a.d.reset_after >= 0 && i == static_cast<size_t>(a.d.reset_after)) co_return After::kClose;
    if (bool ok = co_await sleepFor(a.d.chunk_gap); !ok) co_return After::kAbort;
    c.out.clear();
    c.ev.clear();
    appendChunk(c.ev, a.meta, c.pieces[i], false, false);
    appendEvent(c, c.ev, a.http10);
    if (bool ok = co_await writeOut(c); !ok) co_return After::kAbort;
  }
  if (a.d.reset_after >= 0 && c.pieces.size() <= static_cast<size_t>(a.d.reset_after)) co_return After::kClose;
  if (bool ok = co_await sleepFor(a.d.chunk_gap); !ok) co_return After::kAbort;
  c.out.clear();
  c.ev.clear();
  appendChunk(c.ev, a.meta, {}, false, true);
  appendEvent(c, c.ev, a.http10);
  if (a.meta.include_usage && !a.usage.omit) {
    c.ev.clear();
    appendUsageChunk(c.ev, a.meta, a.usage);
    appendEvent(c, c.ev, a.http10);
  }
  appendEvent(c, "[DONE]", a.http10);
  if (!a.http10) c.out += "0\r\n\r\n";
  if (bool ok = co_await writeOut(c); !ok) co_return After::kAbort;
  co_return keep_alive ? After::kKeepAlive : After::kClose;
}

asio::awaitable<After> answerPlain(Connection& c, Answer a) {
  if (bool ok = co_await sleepFor(a.d.latency); !ok) co_return After::kAbort;
  c.ev.clear();
  appendCompletion(c.ev, a.meta, a.reply, a.usage);
  bool keep_alive = a.keep_alive && !a.d.truncate;
  c.out.clear();
  appendHead(c.out, 200, "application/json", static_cast<int64_t>(c.ev.size()), keep_alive, a.http10);
  if (a.d.truncate) {
    c.out.append(c.ev, 0, c.ev.size() / 2);
    bool sent = co_await writeOut(c);
    co_return sent ? After::kClose : After::kAbort;
  }
  if (a.d.slow_body_gap.count() <= 0) {
    c.out += c.ev;
    bool sent = co_await writeOut(c);
    if (!sent) co_return After::kAbort;
    co_return keep_alive ? After::kKeepAlive : After::kClose;
  }
  if (bool ok = co_await writeOut(c); !ok) co_return After::kAbort;
  for (size_t off = 0; off < c.ev.size(); off += kSlowPieceBytes) {
    if (bool ok = co_await sleepFor(a.d.slow_body_gap); !ok) co_return After::kAbort;
    c.out.assign(c.ev, off, kSlowPieceBytes);
    if (bool ok = co_await writeOut(c); !ok) co_return After::kAbort;
  }
  co_return keep_alive ? After::kKeepAlive : After::kClose;
}

// require_key=K: `Authorization: Bearer K` must be present.
bool authorized(const http::request<http::string_body>& req, const Directives& d) {
  if (!d.require_key) return true;
  std::string_view auth = req[http::field::authorization];
  return auth.size() == 7 + d.require_key->size() && auth.substr(0, 7) == "Bearer " &&
         auth.substr(7) == *d.require_key;
}

// The error the `nth` request with this model string answers instead of its result (status 0: none):
// 401 when unauthorized, else status=N (for the first fail_first=K only, when given).
struct Failure {
  unsigned status = 0;
  std::string message, type, code;
};
Failure failureOf(const Directives& d, uint64_t nth, bool auth_ok) {
  Failure f;
  if (!auth_ok) {
    f.status = 401;
    f.message = "mock: incorrect API key provided";
    f.type = "invalid_request_error";
    f.code = "\"invalid_api_key\"";
  } else if (d.status != 0 && d.status != 200 &&
             (d.fail_first < 0 || nth <= static_cast<uint64_t>(d.fail_first))) {
    f.status = static_cast<unsigned>(d.status);
    f.message = "mock error " + std::to_string(f.status);
    f.type = "mock";
    f.code = std::to_string(f.status);
  }
  return f;
}

asio::awaitable<After> handleChat(Connection& c, http::request<http::string_body>&& req, bool keep_alive,
                                  bool http10) {
  static thread_local simdjson::dom::parser parser;
  std::string& body = req.body();
  ChatRequest chat;
  std::optional<std::string> err;
  if (body.capacity() >= body.size() + simdjson::SIMDJSON_PADDING) {
    err = parseChatRequest(parser, body.data(), body.size(), chat);
  } else {  // chunked request body: no room reserved for simdjson's padding
    simdjson::padded_string padded(body);
    err = parseChatRequest(parser, padded.data(), padded.size(), chat);
  }
  Directives d;
  if (!err) err = parseDirectives(chat.model, d);

  const bool auth_ok = err || authorized(req, d);

  // Record the request; the old `last` is freed outside the lock.
  uint64_t nth = 0;
  std::optional<http::request<http::string_body>> old;
  {
    std::lock_guard lock(c.shared.mu);
    ++c.shared.count;
    if (!err) {
      auto it = c.shared.by_model.find(chat.model);
      if (it == c.shared.by_model.end()) it = c.shared.by_model.emplace(chat.model, 0).first;
      nth = ++it->second;
    }
    old.swap(c.shared.last);
    c.shared.last.emplace(std::move(req));
  }
  old.reset();

  if (err) co_return co_await respondError(c, 400, *err, "invalid_request_error", "400", keep_alive, http10);

  if (d.hang) {
    co_await watchClose(c);
    (chat.stream ? c.shared.cancelled_streams : c.shared.cancelled_requests).fetch_add(1, std::memory_order_relaxed);
    co_return After::kAbort;
  }

  if (Failure f = failureOf(d, nth, auth_ok); f.status != 0) {
    if (d.latency.count() > 0) {
      bool slept = co_await sleepFor(d.latency);
      if (!slept) co_return After::kAbort;
    }
    co_return co_await respondError(c, f.status, f.message, f.type, f.code, keep_alive, http10, d.retry_after);
  }

  std::string id = "chatcmpl-mock-";
  appendUInt(id, c.shared.next_id.fetch_add(1, std::memory_order_relaxed) + 1);
  std::optional<double> logprob;
  if (chat.logprobs && !chat.stream) logprob = d.logprob;
  CompletionMeta meta{id, static_cast<int64_t>(std::time(nullptr)), d.name, chat.stream && chat.include_usage,
                      logprob};
  std::string reply = replyText(chat, d);
  Usage usage{(chat.prompt_chars + 3) / 4, countWords(reply) + d.reasoning};
  usage.cached_tokens = std::min(d.cached, usage.prompt_tokens);
  usage.reasoning_tokens = d.reasoning;
  usage.omit = d.no_usage;
  Answer a{d, meta, reply, usage, keep_alive, http10};

  if (chat.stream) co_return co_await watched(c, answerStream(c, a), c.shared.cancelled_streams);
  if (d.latency.count() > 0 || d.slow_body_gap.count() > 0)
    co_return co_await watched(c, answerPlain(c, a), c.shared.cancelled_requests);
  co_return co_await answerPlain(c, a);
}

// POST /v1/embeddings (mock_embeddings.h): counted per model string and kept in `last` like a chat
// request; status=N, fail_first=K, retry_after=S and require_key=K apply as for chat.
asio::awaitable<After> handleEmbeddings(Connection& c, http::request<http::string_body>&& req, bool keep_alive,
                                        bool http10) {
  static thread_local simdjson::dom::parser parser;
  std::string& body = req.body();
  if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING) body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  EmbeddingsRequest er;
  std::optional<std::string> err = parseEmbeddingsRequest(parser, body.data(), body.size(), er);
  Directives d;
  if (!err) err = parseDirectives(er.model, d);
  const bool auth_ok = err || authorized(req, d);
  uint64_t nth = 0;
  std::optional<http::request<http::string_body>> old;
  {
    std::lock_guard lock(c.shared.mu);
    ++c.shared.count;
    if (!err) nth = ++c.shared.by_model[er.model];
    old.swap(c.shared.last);
    c.shared.last.emplace(std::move(req));
  }
  old.reset();
  if (err) co_return co_await respondError(c, 400, *err, "invalid_request_error", "400", keep_alive, http10);
  if (Failure f = failureOf(d, nth, auth_ok); f.status != 0)
    co_return co_await respondError(c, f.status, f.message, f.type, f.code, keep_alive, http10, d.retry_after);
  c.ev.clear();
  appendEmbeddings(c.ev, er, d.name);
  co_return co_await respond(c, 200, "application/json", c.ev, keep_alive, http10);
}

// POST /v1/messages (mock_anthropic.h): counted and kept in `last` like a chat request; answered with a
// message, an Anthropic error, or Anthropic events (each its own HTTP chunk and write).
asio::awaitable<After> handleAnthropic(Connection& c, http::request<http::string_body>&& req, bool keep_alive,
                                       bool http10) {
  static thread_local simdjson::dom::parser parser;
  std::string& body = req.body();
  if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING) body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  AnthropicAnswer a = answerAnthropic(parser, body.data(), body.size(), req["x-api-key"], req["anthropic-version"],
                                      c.shared.next_id.fetch_add(1, std::memory_order_relaxed) + 1);
  std::optional<http::request<http::string_body>> old;
  {
    std::lock_guard lock(c.shared.mu);
    ++c.shared.count;
    if (!a.model.empty()) ++c.shared.by_model[a.model];
    old.swap(c.shared.last);
    c.shared.last.emplace(std::move(req));
  }
  old.reset();
  if (!a.stream) co_return co_await respond(c, a.status, "application/json", a.body, keep_alive, http10);
  const bool ka = keep_alive && !http10;
  c.out.clear();
  appendHead(c.out, 200, "text/event-stream", -1, ka, http10);
  for (const auto& ev : a.events) {
    if (!http10) {
      appendUInt(c.out, ev.size(), 16);
      c.out += "\r\n";
    }
    c.out += ev;
    if (!http10) c.out += "\r\n";
    if (bool ok = co_await writeOut(c); !ok) co_return After::kAbort;
    c.out.clear();
  }
  if (!http10) c.out += "0\r\n\r\n";
  if (bool ok = co_await writeOut(c); !ok) co_return After::kAbort;
  co_return ka ? After::kKeepAlive : After::kClose;
}

// POST /v1/messages/count_tokens: kept in `last` and counted; answers {"input_tokens": 1000 + the
// number of messages} (a count the gateway's own estimate never gives), or an Anthropic error.
asio::awaitable<After> handleCountTokens(Connection& c, http::request<http::string_body>&& req, bool keep_alive,
                                         bool http10) {
  static thread_local simdjson::dom::parser parser;
  unsigned status = 200;
  std::string answer;
  simdjson::dom::element root;
  simdjson::dom::array messages;
  std::string_view model;
  if (req["x-api-key"].empty()) {
    status = 401;
    answer = R"({"type":"error","error":{"type":"authentication_error","message":"x-api-key header is required"}})";
  } else if (parser.parse(req.body()).get(root) != simdjson::SUCCESS || root["model"].get(model) != simdjson::SUCCESS ||
             root["messages"].get(messages) != simdjson::SUCCESS) {
    status = 400;
    answer = R"({"type":"error","error":{"type":"invalid_request_error","message":"model and messages are required"}})";
  } else {
    answer = R"({"input_tokens":)" + std::to_string(1000 + messages.size()) + "}";
  }
  std::optional<http::request<http::string_body>> old;
  {
    std::lock_guard lock(c.shared.mu);
    ++c.shared.count;
    old.swap(c.shared.last);
    c.shared.last.emplace(std::move(req));
  }
  old.reset();
  co_return co_await respond(c, status, "application/json", answer, keep_alive, http10);
}

std::string modelsBody() {
  return R"({"object":"list","data":[)"
         R"({"id":"mock-small","object":"model","created":1700000000,"owned_by":"rs_mock_upstream"},)"
         R"({"id":"mock-large","object":"model","created":1700000000,"owned_by":"rs_mock_upstream"}]})";
}

std::string lastBody(Shared& shared) {
  std::optional<http::request<http::string_body>> last;
  uint64_t count = 0;
  {
    std::lock_guard lock(shared.mu);
    last = shared.last;
    count = shared.count;
  }
  std::string out = "{\"body\":";
  if (!last) {
    out += "null,\"authorization\":null,\"headers\":{}";
  } else {
    appendJsonString(out, last->body());
    out += ",\"authorization\":";
    auto auth = last->find(http::field::authorization);
    if (auth == last->end())
      out += "null";
    else
      appendJsonString(out, auth->value());
    std::map<std::string, std::string> headers;
    for (const auto& f : *last) {
      std::string name(f.name_string());
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return std::tolower(ch); });
      auto [it, fresh] = headers.emplace(name, std::string(f.value()));
      if (!fresh) (it->second += ", ") += f.value();
    }
    out += ",\"headers\":{";
    bool first = true;
    for (const auto& [k, v] : headers) {
      if (!first) out += ',';
      first = false;
      appendJsonString(out, k);
      out += ':';
      appendJsonString(out, v);
    }
    out += '}';
  }
  out += ",\"count\":";
  appendUInt(out, count);
  out += '}';
  return out;
}

std::string statsBody(Shared& shared) {
  std::string out = "{\"count\":";
  std::lock_guard lock(shared.mu);
  appendUInt(out, shared.count);
  out += ",\"by_model\":{";
  bool first = true;
  for (const auto& [k, v] : shared.by_model) {
    if (!first) out += ',';
    first = false;
    appendJsonString(out, k);
    out += ':';
    appendUInt(out, v);
  }
  out += "},\"open_connections\":";
  appendUInt(out, static_cast<uint64_t>(std::max<int64_t>(0, shared.open_connections.load())));
  out += ",\"accepted_connections\":";
  appendUInt(out, shared.accepted_connections.load());
  out += ",\"cancelled_streams\":";
  appendUInt(out, shared.cancelled_streams.load());
  out += ",\"cancelled_requests\":";
  appendUInt(out, shared.cancelled_requests.load());
  out += '}';
  return out;
}

void resetShared(Shared& shared) {
  std::optional<http::request<http::string_body>> old;
  std::lock_guard lock(shared.mu);
  shared.count = 0;
  shared.by_model.clear();
  old.swap(shared.last);
  shared.cancelled_streams = 0;
  shared.accepted_connections = 0;
  shared.cancelled_requests = 0;
}

asio::awaitable<After> route(Connection& c, http::request<http::string_body>&& req) {
  bool keep_alive = req.keep_alive();
  bool http10 = req.version() < 11;
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  http::verb method = req.method();
  if (method == http::verb::post && path == "/v1/chat/completions")
    co_return co_await handleChat(c, std::move(req), keep_alive, http10);
  if (method == http::verb::post && path == "/v1/messages/count_tokens")
    co_return co_await handleCountTokens(c, std::move(req), keep_alive, http10);
  if (method == http::verb::post && path == "/v1/messages")
    co_return co_await handleAnthropic(c, std::move(req), keep_alive, http10);
  if (method == http::verb::post && path == "/v1/embeddings")
    co_return co_await handleEmbeddings(c, std::move(req), keep_alive, http10);
  if (method == http::verb::get && path == "/v1/models")
    co_return co_await respond(c, 200, "application/json", modelsBody(), keep_alive, http10);
  if (method == http::verb::get && path == "/_mock/last")
    co_return co_await respond(c, 200, "application/json", lastBody(c.shared), keep_alive, http10);
  if (method == http::verb::get && path == "/_mock/stats")
    co_return co_await respond(c, 200, "application/json", statsBody(c.shared), keep_alive, http10);
  if (method == http::verb::post && path == "/_mock/reset") {
    resetShared(c.shared);
    co_return co_await respond(c, 200, "application/json", R"({"ok":true})", keep_alive, http10);
  }
  std::string message = "mock: no route for ";
  message += req.method_string();
  message += ' ';
  message += path;
  co_return co_await respondError(c, 404, message, "invalid_request_error", "\"not_found\"", keep_alive, http10);
}

void closeSocket(tcp::socket& sock, bool graceful) {
  boost::system::error_code ec;
  sock.shutdown(graceful ? tcp::socket::shutdown_send : tcp::socket::shutdown_both, ec);
  sock.close(ec);
}

asio::awaitable<void> session(tcp::socket sock, Shared& shared) {
  shared.open_connections.fetch_add(1, std::memory_order_relaxed);
  shared.accepted_connections.fetch_add(1, std::memory_order_relaxed);
  struct Dec {
    Shared& s;
    ~Dec() { s.open_connections.fetch_sub(1, std::memory_order_relaxed); }
  } dec{shared};
  boost::system::error_code ec;
  sock.set_option(tcp::no_delay(true), ec);
  Connection c{std::move(sock), shared, beast::flat_buffer{}, {}, {}, {}};
  c.out.reserve(4096);
  c.ev.reserve(4096);
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(64 * 1024);
    parser.body_limit(kBodyLimit);
    boost::system::error_code rec = std::get<0>(co_await http::async_read_header(c.sock, c.buf, parser, kNoThrow));
    if (!rec) {
      // Room for simdjson's padding, so the body is parsed in place.
      if (auto len = parser.content_length(); len && *len <= kBodyLimit)
        parser.get().body().reserve(*len + simdjson::SIMDJSON_PADDING);
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        c.out.assign("HTTP/1.1 100 Continue\r\n\r\n");
        if (bool ok = co_await writeOut(c); !ok) break;
      }
      if (!parser.is_done()) rec = std::get<0>(co_await http::async_read(c.sock, c.buf, parser, kNoThrow));
    }
    if (rec) {
      if (rec == http::error::end_of_stream || rec == asio::error::eof || rec == asio::error::connection_reset ||
          rec == asio::error::operation_aborted || rec == http::error::partial_message)
        break;
      bool too_big = rec == http::error::body_limit;
      std::string msg = too_big ? "mock: request body over 64 MB" : "mock: bad HTTP request: " + rec.message();
      unsigned status = too_big ? 413 : 400;
      std::string_view code = too_big ? "413" : "400";
      co_await respondError(c, status, msg, "invalid_request_error", code, false, false);
      break;
    }
    After a = co_await route(c, parser.release());
    if (a == After::kKeepAlive) continue;
    closeSocket(c.sock, a == After::kClose);
    co_return;
  }
  closeSocket(c.sock, true);
}

void logException(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    std::fprintf(stderr, "rs_mock_upstream: session failed: %s\n", x.what());
  }
}

asio::awaitable<void> acceptLoop(tcp::acceptor& acceptor, Shared& shared, bool strands) {
  asio::io_context& io = static_cast<asio::io_context&>(acceptor.get_executor().context());
  for (;;) {
    asio::any_io_executor ex = strands ? asio::any_io_executor(asio::make_strand(io)) : io.get_executor();
    auto accepted = co_await acceptor.async_accept(ex, kNoThrow);
    boost::system::error_code ec = std::get<0>(accepted);
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {  // e.g. out of file descriptors: back off instead of spinning
      std::fprintf(stderr, "rs_mock_upstream: accept: %s\n", ec.message().c_str());
      co_await sleepFor(std::chrono::milliseconds(50));
      continue;
    }
    asio::co_spawn(ex, session(std::move(std::get<1>(accepted)), shared), logException);
  }
}

int usage(const char* why) {
  std::fprintf(stderr,
               "rs_mock_upstream: %s\nusage: rs_mock_upstream --port N [--host 127.0.0.1] [--threads N]\n", why);
  return 2;
}

int run(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = -1, threads = 1;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      std::printf("usage: rs_mock_upstream --port N [--host 127.0.0.1] [--threads N]\n"
                  "A fake OpenAI-compatible server for tests; see tests/fakes/README.md.\n");
      return 0;
    }
    if (i + 1 >= argc) return usage("missing value after an option");
    std::string_view v = argv[++i];
    int n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    bool numeric = ec == std::errc() && p == v.data() + v.size();
    if (a == "--port" && numeric && n >= 0 && n <= 65535) {
      port = n;
    } else if (a == "--threads" && numeric && n >= 1 && n <= 256) {
      threads = n;
    } else if (a == "--host") {
      host = std::string(v);
    } else {
      return usage(("bad option or value: " + std::string(a) + " " + std::string(v)).c_str());
    }
  }
  if (port < 0) return usage("--port is required (0 picks a free port)");

  Shared shared;  // outlives io: sessions destroyed with io still touch it
  asio::io_context io(threads);
  // Before the "listening" line, so a test that stops us right after it gets a clean exit.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
  tcp::acceptor acceptor(io);
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return usage(("bad --host: " + host).c_str());
  tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::fprintf(stderr, "rs_mock_upstream: cannot listen on %s:%d: %s\n", host.c_str(), port, ec.message().c_str());
    return 1;
  }
  auto bound = acceptor.local_endpoint();
  std::string shown = bound.address().is_v6() ? "[" + bound.address().to_string() + "]" : bound.address().to_string();
  std::printf("listening on %s:%u\n", shown.c_str(), static_cast<unsigned>(bound.port()));
  std::fflush(stdout);

  asio::co_spawn(io, acceptLoop(acceptor, shared, threads > 1), logException);

  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  return 0;
}

}  // namespace
}  // namespace rightsize::fakes

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  return rightsize::fakes::run(argc, argv);
}
