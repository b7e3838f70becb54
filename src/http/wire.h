#pragma once
// HTTP/1.1 message heads as bytes. Beast's serializer walks a generic buffer-sequence view
// (start line, fields, CRLF) that costs far more instructions per message than the bytes it writes;
// on the proxy path every request and response head goes through here instead, and is sent with its
// body in one gather write.

#include <cstdint>
#include <string>
#include <string_view>

#include "http/asio.h"

namespace rightsize::http {

// Appends the head of `h` — start line, every field in insertion order, the empty line — to `out`,
// byte for byte what bhttp::serializer writes for the same header. The reason phrase defaults to the
// status's standard one, as Beast's does. Does not touch Content-Length or Transfer-Encoding:
// call prepare_payload() first when the body decides them.
void appendHead(std::string& out, const bhttp::response_header<>& h);
void appendHead(std::string& out, const bhttp::request_header<>& h);

// The fields of a head that is built once and sent at once, kept as "Name: value\r\n" lines in
// insertion order: no allocation and tree insert per field as in bhttp::fields. Like bhttp::fields,
// values are trimmed of leading and trailing spaces and tabs. No lookup and no replacement: callers
// insert each field once, and never the ones the sender adds itself (see its contract).
class HeadFields {
 public:
  void insert(std::string_view name, std::string_view value);
  void insert(bhttp::field name, std::string_view value) { insert(bhttp::to_string(name), value); }
  std::string_view text() const { return text_; }

 private:
  std::string text_;
};

// Appends an HTTP/1.1 response head: status line with the standard reason, `fields`, then
// "Connection: close" when !keep_alive and "Content-Length" — byte for byte what the serializer
// writes for a bhttp::response holding the same fields after keep_alive(keep_alive) and
// prepare_payload() with a body of `content_length` bytes. `status` must allow a body (not 1xx,
// 204 or 304).
void appendResponseHead(std::string& out, unsigned status, const HeadFields& fields, bool keep_alive,
                        uint64_t content_length);

// Appends an HTTP/1.1 request head for a body of `content_length` bytes: request line, `fields`,
// then Host and Content-Length — what the serializer writes for a bhttp::request holding the same
// fields after set(host, host), keep_alive(true) and prepare_payload(). `method` is POST, PUT or PATCH.
void appendRequestHead(std::string& out, bhttp::verb method, std::string_view target, const HeadFields& fields,
                       std::string_view host, uint64_t content_length);

}  // namespace rightsize::http
