#include "ledger/spill.h"

#include <simdjson.h>

#include <fmt/format.h>

#include "common/strings.h"

namespace rightsize::ledger {

std::string toSpillLine(const LedgerRecord& r) {
  std::string out;
  out.reserve(512);
  auto str = [&out](std::string_view name, std::string_view v) {
    out += '"';
    out += name;
    out += "\":";
    appendJsonString(out, v);
    out += ',';
  };
  auto num = [&out](std::string_view name, auto v) { fmt::format_to(std::back_inserter(out), "\"{}\":{},", name, v); };
  out += '{';
  num("ts_us", toEpochMicros(r.time));
  str("request_id", r.request_id);
  str("key_id", r.key_id);
  str("route", r.route);
  str("model", r.model);
  str("provider", r.provider);
  str("candidates", r.candidates);
  num("knob", r.knob);  // fmt prints the shortest text that reads back to the same double
  num("decision_us", r.decision.count());
  num("tokens_in", r.tokens_in);
  num("tokens_out", r.tokens_out);
  num("cost_nanos", r.cost_nanos);
  str("reference_model", r.reference_model);
  num("reference_cost_nanos", r.reference_cost_nanos);
  num("latency_us", r.latency.count());
  num("ttft_us", r.ttft.count());
  num("status", r.status);
  str("error", r.error);
  num("attempts", r.attempts);
  num("sensitive", r.sensitive);
  num("stream", r.stream);
  if (!r.prompt.empty()) str("prompt", r.prompt);
  if (!r.attempts_detail.empty()) str("attempts_detail", r.attempts_detail);
  if (r.cached_tokens) num("cached_tokens", r.cached_tokens);
  if (r.cache_write_tokens) num("cache_write_tokens", r.cache_write_tokens);
  if (r.reasoning_tokens) num("reasoning_tokens", r.reasoning_tokens);
  if (r.usage_estimated) num("usage_estimated", true);
  out.back() = '}';
  out += '\n';
  return out;
}

Result<LedgerRecord> parseSpillLine(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  // One parser per thread: replay runs on one thread, and parsers are expensive to build.
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(line);
  simdjson::dom::object obj;
  if (auto err = parser.parse(padded).get(obj); err) {
    return fail(ErrorCode::kCorruptData, fmt::format("spill line is not a JSON object: {}",
                                                     simdjson::error_message(err)));
  }
  if (bool fb = false; !obj["feedback"].get_bool().get(fb) && fb) {
    return fail(ErrorCode::kCorruptData, "spill line is a feedback line, not a request record");
  }
  LedgerRecord r;
  std::string missing;
  auto getStr = [&](const char* name, std::string& dst) {
    std::string_view v;
    if (obj[name].get_string().get(v)) missing = name; else dst.assign(v);
  };
  auto getInt = [&](const char* name) -> int64_t {
    int64_t v = 0;
    if (obj[name].get_int64().get(v)) missing = name;
    return v;
  };
  auto getBool = [&](const char* name) -> bool {
    bool v = false;
    if (obj[name].get_bool().get(v)) missing = name;
    return v;
  };
  r.time = fromEpochMicros(getInt("ts_us"));
  getStr("request_id", r.request_id);
  getStr("key_id", r.key_id);
  getStr("route", r.route);
  getStr("model", r.model);
  getStr("provider", r.provider);
  getStr("candidates", r.candidates);
  // The DOM API converts an integer literal ("-1") to double too.
  if (obj["knob"].get_double().get(r.knob)) missing = "knob";
  r.decision = std::chrono::microseconds(getInt("decision_us"));
  r.tokens_in = getInt("tokens_in");
  r.tokens_out = getInt("tokens_out");
  r.cost_nanos = getInt("cost_nanos");
  getStr("reference_model", r.reference_model);
  r.reference_cost_nanos = getInt("reference_cost_nanos");
  r.latency = std::chrono::microseconds(getInt("latency_us"));
  r.ttft = std::chrono::microseconds(getInt("ttft_us"));
  r.status = static_cast<int>(getInt("status"));
  getStr("error", r.error);
  r.attempts = static_cast<int>(getInt("attempts"));
  r.sensitive = getBool("sensitive");
  r.stream = getBool("stream");
  // Optional: absent when empty (and in files from before they existed).
  if (std::string_view p; !obj["prompt"].get_string().get(p)) r.prompt.assign(p);
  if (std::string_view d; !obj["attempts_detail"].get_string().get(d)) r.attempts_detail.assign(d);
  if (int64_t n = 0; !obj["cached_tokens"].get_int64().get(n)) r.cached_tokens = n;
  if (int64_t n = 0; !obj["cache_write_tokens"].get_int64().get(n)) r.cache_write_tokens = n;
  if (int64_t n = 0; !obj["reasoning_tokens"].get_int64().get(n)) r.reasoning_tokens = n;
  if (bool b = false; !obj["usage_estimated"].get_bool().get(b)) r.usage_estimated = b;
  if (!missing.empty()) {
    return fail(ErrorCode::kCorruptData, fmt::format("spill line: field {} missing or of the wrong type", missing));
  }
  return r;
}

std::string toSpillLine(const FeedbackRecord& f) {
  std::string out = fmt::format("{{\"feedback\":true,\"ts_us\":{},\"request_id\":", toEpochMicros(f.time));
  appendJsonString(out, f.request_id);
  fmt::format_to(std::back_inserter(out), ",\"score\":{}}}\n", f.score);
  return out;
}

bool isFeedbackSpillLine(std::string_view line) { return line.starts_with("{\"feedback\":true,"); }

Result<FeedbackRecord> parseFeedbackSpillLine(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(line);
  simdjson::dom::object obj;
  if (auto err = parser.parse(padded).get(obj); err) {
    return fail(ErrorCode::kCorruptData, fmt::format("spill line is not a JSON object: {}",
                                                     simdjson::error_message(err)));
  }
  FeedbackRecord f;
  int64_t ts = 0;
  std::string_view id;
  bool fb = false;
  if (obj["feedback"].get_bool().get(fb) || !fb || obj["ts_us"].get_int64().get(ts) ||
      obj["request_id"].get_string().get(id) || obj["score"].get_double().get(f.score) || !(f.score >= 0) ||
      !(f.score <= 1)) {
    return fail(ErrorCode::kCorruptData, "feedback spill line: a field is missing, of the wrong type or out of range");
  }
  f.time = fromEpochMicros(ts);
  f.request_id.assign(id);
  return f;
}

}  // namespace rightsize::ledger
