#include "http/wire.h"

#include <gtest/gtest.h>

namespace rightsize::http {
namespace {

// What Beast's own serializer writes for the head of `m`.
template <bool isRequest>
std::string beastHead(bhttp::message<isRequest, bhttp::string_body>& m) {
  bhttp::serializer<isRequest, bhttp::string_body> sr{m};
  sr.split(true);
  std::string out;
  beast::error_code ec;
  while (!sr.is_header_done()) {
    sr.next(ec, [&](beast::error_code&, const auto& buffers) {
      for (auto b : beast::buffers_range_ref(buffers)) out.append(static_cast<const char*>(b.data()), b.size());
      sr.consume(beast::buffer_bytes(buffers));
    });
    if (ec) return "error: " + ec.message();
  }
  return out;
}

TEST(Wire, ResponseHeadIsByteForByteWhatBeastWrites) {
  bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
  res.set(bhttp::field::content_type, "application/json");
  res.set("x-request-id", "abc");
  res.insert("X-Mixed-Case", "v");
  res.body() = R"({"a":1})";
  res.keep_alive(false);
  res.prepare_payload();
  std::string head;
  appendHead(head, res.base());
  EXPECT_EQ(head, beastHead(res));
  EXPECT_EQ(head.substr(0, 17), "HTTP/1.1 200 OK\r\n");
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
}

TEST(Wire, ResponseHeadKeepsACustomReasonAndOtherStatuses) {
  for (auto st : {bhttp::status::not_found, bhttp::status::too_many_requests, bhttp::status::service_unavailable}) {
    bhttp::response<bhttp::string_body> res{st, 10};
    res.set(bhttp::field::server, "rightsize");
    res.prepare_payload();
    std::string head;
    appendHead(head, res.base());
    EXPECT_EQ(head, beastHead(res));
  }
  bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
  res.reason("Fine");
  std::string head;
  appendHead(head, res.base());
  EXPECT_EQ(head, beastHead(res));
  EXPECT_EQ(head, "HTTP/1.1 200 Fine\r\n\r\n");
}

TEST(Wire, RequestHeadIsByteForByteWhatBeastWrites) {
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/v1/chat/completions", 11};
  req.set(bhttp::field::host, "127.0.0.1:8080");
  req.set(bhttp::field::authorization, "Bearer sk-x");
  req.set("X-Extra", "");
  req.body() = "{}";
  req.keep_alive(true);
  req.prepare_payload();
  std::string head = "prefix";
  appendHead(head, req.base());
  EXPECT_EQ(head, "prefix" + beastHead(req));

  bhttp::request<bhttp::string_body> odd;
  odd.method_string("PURGE");
  odd.target("/x?y=1");
  odd.version(10);
  std::string h2;
  appendHead(h2, odd.base());
  EXPECT_EQ(h2, beastHead(odd));
  EXPECT_EQ(h2, "PURGE /x?y=1 HTTP/1.0\r\n\r\n");
}

TEST(Wire, BuiltResponseHeadEqualsBeastsAfterKeepAliveAndPreparePayload) {
  for (bool keep_alive : {true, false}) {
    for (auto st : {bhttp::status::ok, bhttp::status::bad_gateway}) {
      const std::string body = R"({"id":"x","choices":[]})";
      HeadFields fields;
      fields.insert(bhttp::field::content_type, "application/json");
      fields.insert(bhttp::field::server, "rightsize");
      fields.insert("x-request-id", "  padded\t");
      fields.insert("x-rightsize-cost-usd", "0.0000001234");
      std::string built;
      appendResponseHead(built, static_cast<unsigned>(st), fields, keep_alive, body.size());

      bhttp::response<bhttp::string_body> res{st, 11};
      res.insert(bhttp::field::content_type, "application/json");
      res.insert(bhttp::field::server, "rightsize");
      res.insert("x-request-id", "  padded\t");
      res.insert("x-rightsize-cost-usd", "0.0000001234");
      res.body() = body;
      res.keep_alive(keep_alive);
      res.prepare_payload();
      EXPECT_EQ(built, beastHead(res)) << keep_alive;
    }
  }
}

TEST(Wire, BuiltRequestHeadEqualsBeastsAfterHostKeepAliveAndPreparePayload) {
  for (std::string body : {std::string(), std::string(1000, 'x')}) {
    HeadFields fields;
    fields.insert(bhttp::field::content_type, "application/json");
    fields.insert(bhttp::field::accept, "text/event-stream");
    fields.insert(bhttp::field::user_agent, "rightsize/0.1");
    fields.insert(bhttp::field::authorization, "Bearer sk-1");
    std::string built;
    appendRequestHead(built, bhttp::verb::post, "/v1/chat/completions", fields, "127.0.0.1:9000", body.size());

    bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/v1/chat/completions", 11};
    req.set(bhttp::field::content_type, "application/json");
    req.set(bhttp::field::accept, "text/event-stream");
    req.set(bhttp::field::user_agent, "rightsize/0.1");
    req.set(bhttp::field::authorization, "Bearer sk-1");
    req.body() = body;
    req.version(11);
    req.set(bhttp::field::host, "127.0.0.1:9000");
    req.keep_alive(true);
    req.prepare_payload();
    EXPECT_EQ(built, beastHead(req));
  }
}

}  // namespace
}  // namespace rightsize::http
