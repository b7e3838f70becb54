#include "upstream/replay_provider.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

namespace rightsize::upstream {
namespace {

namespace asio = boost::asio;

// ctest runs each test in its own process, in parallel: temp names carry the pid and test name.
std::string writeTemp(const std::string& name, const std::string& text) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto path = std::filesystem::temp_directory_path() /
              (std::to_string(::getpid()) + "_" + (info ? info->name() : "x") + "_" + name);
  std::ofstream(path) << text;
  return path.string();
}

template <class T>
T runSync(asio::awaitable<T> aw) {
  asio::io_context ioc;
  std::optional<T> out;
  asio::co_spawn(ioc, std::move(aw), [&](std::exception_ptr e, T v) {
    if (e) std::rethrow_exception(e);
    out = std::move(v);
  });
  ioc.run();
  return std::move(*out);
}

class ReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_.name = "replay";
    cfg_.kind = config::ProviderKind::kReplay;
    cfg_.data = writeTemp("rs_replay_test.jsonl",
                          R"({"id":"1","prompt":"What is  2+2?","outcomes":{"big":{"score":1,"cost_usd":0.1,"response":"It is four, of course."},"small":{"score":0,"cost_usd":0.01}}})"
                          "\n\n"
                          R"({"id":"2","prompt":"Say hi","outcomes":{"small":{"score":1,"cost_usd":0.01,"response":"hi"}}})"
                          "\n");
    auto p = makeReplayProvider(cfg_);
    ASSERT_TRUE(p) << p.error().message;
    provider_ = std::move(*p);
  }
  ChatCall call(const std::string& prompt, const std::string& model) {
    req_.messages = {{"user", prompt}};
    req_.content_chars = prompt.size();
    ChatCall c;
    c.request = &req_;
    c.model_id = model;
    return c;
  }
  config::ProviderConfig cfg_;
  std::unique_ptr<Provider> provider_;
  api::ChatRequest req_;
};

TEST_F(ReplayTest, AnswersARecordedPromptWithTheRecordedResponseAndUsage) {
  auto r = runSync(provider_->complete(call("What is 2+2?", "big")));  // whitespace-normalized match
  ASSERT_TRUE(r) << r.error().error.message;
  EXPECT_NE(r->body.find(R"("content":"It is four, of course.")"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find(R"("model":"big")"), std::string::npos);
  ASSERT_TRUE(r->usage);
  EXPECT_EQ(r->usage->completion_tokens, 6);  // 22 chars / 4, rounded up
}

TEST_F(ReplayTest, UnknownPromptIsAClear422NotAnInventedAnswer) {
  auto r = runSync(provider_->complete(call("something else", "big")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error.upstream_status, 422);
  EXPECT_FALSE(r.error().fallback_ok);
  EXPECT_NE(r.error().error.message.find("not in the recorded data"), std::string::npos);
}

TEST_F(ReplayTest, ModelWithoutARecordedAnswerAllowsFallback) {
  auto r = runSync(provider_->complete(call("What is 2+2?", "small")));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().fallback_ok);
  EXPECT_EQ(r.error().error.upstream_status, 404);
}

TEST_F(ReplayTest, StreamsTheResponseInChunksThatReassembleExactly) {
  auto text = runSync([&]() -> asio::awaitable<std::string> {
    auto s = co_await provider_->stream(call("What is 2+2?", "big"));
    EXPECT_TRUE(s);
    std::string all;
    int events = 0;
    bool saw_usage = false;
    while (true) {
      auto ev = co_await (*s)->next();
      EXPECT_TRUE(ev);
      if (!*ev) break;
      ++events;
      auto c = api::inspectChunk(**ev);
      if (c.usage) saw_usage = true;
      auto pos = (*ev)->find(R"("content":")");
      if (pos != std::string::npos) {
        auto end = (*ev)->find('"', pos + 11);
        all += (*ev)->substr(pos + 11, end - pos - 11);
      }
    }
    EXPECT_GE(events, 4);
    EXPECT_TRUE(saw_usage);
    co_return all;
  }());
  EXPECT_EQ(text, "It is four, of course.");
}

TEST(ReplayLoad, RejectsMissingAndCorruptFiles) {
  config::ProviderConfig cfg;
  cfg.name = "r";
  cfg.data = "/nonexistent/file.jsonl.gz";
  auto p = makeReplayProvider(cfg);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("cannot open"), std::string::npos);
  cfg.data = writeTemp("rs_replay_bad.jsonl", "{\"prompt\": \"x\", \"outcomes\": {}}\n{not json\n");
  p = makeReplayProvider(cfg);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find(":2: not JSON"), std::string::npos) << p.error().message;
}

TEST(ReplayShippedData, LoadsTheShippedMtBenchAnswers) {
  config::ProviderConfig cfg;
  cfg.name = "replay";
  cfg.data = std::string(RIGHTSIZE_SOURCE_DIR) + "/data/replay/mt_bench_replay.jsonl.gz";
  auto p = makeReplayProvider(cfg);
  ASSERT_TRUE(p) << p.error().message;
}

}  // namespace
}  // namespace rightsize::upstream
