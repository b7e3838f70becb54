#include "upstream/replay_provider.h"

#include <zlib.h>

#include <cctype>
#include <chrono>
#include <unordered_map>

#include <fmt/format.h>
#include <simdjson.h>

#include "api/sse.h"
#include "common/strings.h"

namespace rightsize::upstream {

namespace {

struct Recording {
  std::unordered_map<std::string, std::string> responses;  // model id -> response text
};

struct ReplayData {
  std::unordered_map<std::string, Recording> by_prompt;  // normalized prompt -> answers
  std::string example_prompt;
  size_t answers = 0;
};

// Reads a whole file, gunzipping if it is gzip (zlib reads plain files as they are).
Result<std::string> readMaybeGzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return fail(ErrorCode::kIo, "cannot open '" + path + "'");
  std::string out;
  char buf[1 << 16];
  while (true) {
    int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int errnum = 0;
      std::string msg = gzerror(f, &errnum);
      gzclose(f);
      return fail(ErrorCode::kCorruptData, "cannot read '" + path + "': " + msg);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  gzclose(f);
  return out;
}

Result<std::shared_ptr<const ReplayData>> loadReplay(const std::string& path) {
  auto text = readMaybeGzip(path);
  if (!text) return fail(text.error());
  auto data = std::make_shared<ReplayData>();
  simdjson::dom::parser parser;
  size_t line_no = 0, pos = 0;
  while (pos < text->size()) {
    size_t nl = text->find('\n', pos);
    if (nl == std::string::npos) nl = text->size();
    std::string_view line(text->data() + pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (trim(line).empty()) continue;
    simdjson::dom::element rec;
    if (auto err = parser.parse(line.data(), line.size()).get(rec))
      return fail(ErrorCode::kCorruptData, fmt::format("{}:{}: not JSON: {}", path, line_no, simdjson::error_message(err)));
    std::string_view prompt;
    if (rec["prompt"].get(prompt) != simdjson::SUCCESS) {
      // messages form: route on the last user message.
      simdjson::dom::array msgs;
      if (rec["messages"].get(msgs) != simdjson::SUCCESS)
        return fail(ErrorCode::kCorruptData, fmt::format("{}:{}: record has neither 'prompt' nor 'messages'", path, line_no));
      for (auto m : msgs) {
        std::string_view role, content;
        if (m["role"].get(role) == simdjson::SUCCESS && role == "user" && m["content"].get(content) == simdjson::SUCCESS)
          prompt = content;
      }
    }
    simdjson::dom::object outcomes;
    if (rec["outcomes"].get(outcomes) != simdjson::SUCCESS)
      return fail(ErrorCode::kCorruptData, fmt::format("{}:{}: record has no 'outcomes' object", path, line_no));
    Recording r;
    for (auto [model, outcome] : outcomes) {
      std::string_view response;
      if (outcome["response"].get(response) == simdjson::SUCCESS) {
        r.responses.emplace(std::string(model), std::string(response));
        ++data->answers;
      }
    }
    if (r.responses.empty()) continue;  // nothing to replay for this prompt
    std::string key = normalizePrompt(prompt);
    if (data->example_prompt.empty() || prompt.size() < data->example_prompt.size())
      data->example_prompt = std::string(prompt);
    data->by_prompt.emplace(std::move(key), std::move(r));
  }
  if (data->by_prompt.empty())
    return fail(ErrorCode::kCorruptData, "'" + path + "' holds no recorded responses to replay");
  return std::shared_ptr<const ReplayData>(std::move(data));
}

std::string completionId() {
  thread_local uint64_t n = 0;
  return fmt::format("chatcmpl-replay-{:x}-{}", static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()), ++n);
}

int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Splits a response into stream pieces of a few words each, keeping every byte.
std::vector<std::string> streamPieces(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0, words = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (std::isspace(static_cast<unsigned char>(text[i])) && i > start &&
        !std::isspace(static_cast<unsigned char>(text[i - 1]))) {
      if (++words == 3) {
        out.emplace_back(text.substr(start, i - start));
        start = i;
        words = 0;
      }
    }
  }
  if (start < text.size()) out.emplace_back(text.substr(start));
  return out;
}

class ReplayStream final : public ChatStream {
 public:
  ReplayStream(std::vector<std::string> events, Millis interval) : events_(std::move(events)), interval_(interval) {}

  asio::awaitable<Result<std::optional<std::string>>> next() override {
    if (i_ >= events_.size()) co_return std::nullopt;
    if (i_ > 0 && interval_.count() > 0) {
      asio::steady_timer t(co_await asio::this_coro::executor, interval_);
      co_await t.async_wait(http::use_nothrow);
    }
    co_return std::move(events_[i_++]);
  }

 private:
  std::vector<std::string> events_;
  Millis interval_;
  size_t i_ = 0;
};

class ReplayProvider final : public Provider {
 public:
  ReplayProvider(const config::ProviderConfig& cfg, std::shared_ptr<const ReplayData> data)
      : cfg_(cfg), data_(std::move(data)) {}

  asio::awaitable<CallResult<Completion>> complete(const ChatCall& call) override {
    auto found = lookup(call);
    if (!found) co_return tl::unexpected(found.error());
    co_await latency();
    const std::string& text = **found;
    api::Usage usage{api::estimateTokens(call.request->content_chars), api::estimateTokens(text.size())};
    std::string body = fmt::format(
        R"({{"id":"{}","object":"chat.completion","created":{},"model":{},"choices":[{{"index":0,"message":{{"role":"assistant","content":{}}},"logprobs":null,"finish_reason":"stop"}}],"usage":{{"prompt_tokens":{},"completion_tokens":{},"total_tokens":{}}},"system_fingerprint":"rightsize-replay"}})",
        completionId(), nowSeconds(), jsonString(call.model_id), jsonString(text), usage.prompt_tokens,
        usage.completion_tokens, usage.prompt_tokens + usage.completion_tokens);
    co_return Completion{std::move(body), usage};
  }

  asio::awaitable<CallResult<std::unique_ptr<ChatStream>>> stream(const ChatCall& call) override {
    auto found = lookup(call);
    if (!found) co_return tl::unexpected(found.error());
    co_await latency();
    const std::string& text = **found;
    std::string id = completionId();
    int64_t created = nowSeconds();
    std::string model = jsonString(call.model_id);
    auto chunk = [&](std::string_view delta, std::string_view finish) {
      return fmt::format(
          R"({{"id":"{}","object":"chat.completion.chunk","created":{},"model":{},"system_fingerprint":"rightsize-replay","choices":[{{"index":0,"delta":{},"logprobs":null,"finish_reason":{}}}]}})",
          id, created, model, delta, finish);
    };
    std::vector<std::string> events;
    events.push_back(chunk(R"({"role":"assistant","content":""})", "null"));
    for (const auto& piece : streamPieces(text)) events.push_back(chunk("{\"content\":" + jsonString(piece) + "}", "null"));
    events.push_back(chunk("{}", "\"stop\""));
    // Usage last, as OpenAI sends it with stream_options.include_usage (the gateway always asks).
    int64_t pt = api::estimateTokens(call.request->content_chars), ct = api::estimateTokens(text.size());
    events.push_back(fmt::format(
        R"({{"id":"{}","object":"chat.completion.chunk","created":{},"model":{},"system_fingerprint":"rightsize-replay","choices":[],"usage":{{"prompt_tokens":{},"completion_tokens":{},"total_tokens":{}}}}})",
        id, created, model, pt, ct, pt + ct));
    co_return std::unique_ptr<ChatStream>(std::make_unique<ReplayStream>(std::move(events), cfg_.replay_chunk_interval));
  }

  const config::ProviderConfig& config() const override { return cfg_; }

 private:
  CallResult<const std::string*> lookup(const ChatCall& call) const {
    const Recording* rec = nullptr;
    const auto& msgs = call.request->messages;
    for (auto it = msgs.rbegin(); it != msgs.rend() && !rec; ++it) {
      if (it->role != "user") continue;
      auto found = data_->by_prompt.find(normalizePrompt(it->text));
      if (found != data_->by_prompt.end()) rec = &found->second;
      break;
    }
    if (!rec) {
      auto found = data_->by_prompt.find(normalizePrompt(api::humanAsk(msgs)));
      if (found != data_->by_prompt.end()) rec = &found->second;
    }
    CallError e;
    e.retryable = false;
    e.breaker_failure = false;
    if (!rec) {
      e.fallback_ok = false;
      e.error = Error{ErrorCode::kUpstreamError,
                      fmt::format("replay provider '{}': this prompt is not in the recorded data ({} prompts in {}); "
                                  "send one of the recorded prompts (e.g. \"{}\"), or configure a real provider",
                                  cfg_.name, data_->by_prompt.size(), cfg_.data,
                                  data_->example_prompt.substr(0, 120)),
                      422};
      return tl::unexpected(e);
    }
    auto ans = rec->responses.find(call.model_id);
    if (ans == rec->responses.end()) {
      e.fallback_ok = true;  // another model may have a recording
      e.error = Error{ErrorCode::kUpstreamError,
                      fmt::format("replay provider '{}': no recorded answer of model '{}' for this prompt", cfg_.name,
                                  call.model_id),
                      404};
      return tl::unexpected(e);
    }
    return &ans->second;
  }

  asio::awaitable<void> latency() const {
    if (cfg_.replay_latency.count() <= 0) co_return;
    asio::steady_timer t(co_await asio::this_coro::executor, cfg_.replay_latency);
    co_await t.async_wait(http::use_nothrow);
  }

  const config::ProviderConfig& cfg_;
  std::shared_ptr<const ReplayData> data_;
};

}  // namespace

std::string normalizePrompt(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool space = false;
  for (unsigned char c : trim(text)) {
    if (std::isspace(c)) {
      space = true;
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(static_cast<char>(c));
  }
  return out;
}

Result<std::unique_ptr<Provider>> makeReplayProvider(const config::ProviderConfig& cfg) {
  auto data = loadReplay(cfg.data);
  if (!data) return fail(ErrorCode::kInvalidArgument, "provider '" + cfg.name + "': " + data.error().message);
  return std::unique_ptr<Provider>(std::make_unique<ReplayProvider>(cfg, std::move(*data)));
}

}  // namespace rightsize::upstream
