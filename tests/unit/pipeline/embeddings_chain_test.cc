// The embeddings chain as registered (makeEmbeddingsChain) over fake providers: stage order, the
// fixed-route fallback, what is refused before any call, and accounting exactly once.
#include <gtest/gtest.h>

#include "pipeline/embeddings_chain.h"
#include "pipeline_fakes.h"

namespace rightsize::pipeline {
namespace {

using namespace testing;

struct OneEmbedding {
  http::Request req;
  FakeSink sink;
  RequestContext ctx;
  explicit OneEmbedding(const std::string& body) : req(chatRequest(body)), ctx(req, sink, nullptr) {
    req.target("/v1/embeddings");
    ctx.info.request_id = "emb-1";
  }
};

std::string embeddingsBody(const std::string& model, const std::string& input = R"("some text")") {
  return R"({"model":")" + model + R"(","input":)" + input + "}";
}

TEST(EmbeddingsChain, RunsTheSharedStagesAroundItsOwn) {
  Fixture f;
  Chain chain = makeEmbeddingsChain(f.s);
  const std::vector<std::string_view> expected = {"auth",    "embeddings-shape", "route", "embeddings-route",
                                                  "privacy", "decide",           "admit", "embeddings-dispatch",
                                                  "account"};
  EXPECT_EQ(chain.names(), expected);
}

TEST(EmbeddingsChain, AnswersForwardsTheModelIdAndAccountsInputTokensOnly) {
  Fixture f;
  Chain chain = makeEmbeddingsChain(f.s);
  OneEmbedding r(embeddingsBody("small", R"(["a","b"])"));
  asio::io_context io;
  runOn(io, chain.run(r.ctx));
  EXPECT_EQ(r.sink.status, 200);
  EXPECT_NE(r.sink.body.find(R"("embedding":[0.5])"), std::string::npos);
  EXPECT_NE(r.sink.head.find("x-rightsize-model: small"), std::string::npos);
  EXPECT_NE(r.sink.head.find("x-rightsize-cost-usd: 0.000007"), std::string::npos);  // 7 tokens x $1/Mtok
  EXPECT_EQ(f.fake["remote"]->last_embeddings_body, R"({"model":"small-id","input":["a","b"]})");
  EXPECT_EQ(f.keys.settles, 1);
  EXPECT_EQ(f.keys.settled_tokens, 7);
  ASSERT_EQ(f.recorder.rows.size(), 1u);
  EXPECT_EQ(f.recorder.rows[0].tokens_in, 7);
  EXPECT_EQ(f.recorder.rows[0].tokens_out, 0);
  EXPECT_EQ(f.recorder.rows[0].cost_nanos, 7000);
}

TEST(EmbeddingsChain, AFixedRouteFallsBackToItsNextCandidate) {
  Fixture f;
  Chain chain = makeEmbeddingsChain(f.s);
  f.fake["remote"]->script = {failWith(500), failWith(500)};  // small's two attempts; big answers
  OneEmbedding r(embeddingsBody("vectors"));
  asio::io_context io;
  runOn(io, chain.run(r.ctx));
  EXPECT_EQ(r.sink.status, 200);
  EXPECT_EQ(f.fake["remote"]->called, (std::vector<std::string>{"small-id", "small-id", "big-id"}));
  ASSERT_EQ(f.recorder.rows.size(), 1u);
  EXPECT_EQ(f.recorder.rows[0].model, "big");
  EXPECT_EQ(f.recorder.rows[0].attempts, 3);
}

TEST(EmbeddingsChain, AnUpstreamBadRequestIsAnsweredWithoutAFallback) {
  Fixture f;
  Chain chain = makeEmbeddingsChain(f.s);
  f.fake["remote"]->script = {failWith(400)};
  OneEmbedding r(embeddingsBody("vectors"));
  asio::io_context io;
  runOn(io, chain.run(r.ctx));
  EXPECT_EQ(r.sink.status, 400);
  EXPECT_EQ(f.fake["remote"]->called, std::vector<std::string>{"small-id"});
  ASSERT_EQ(f.recorder.rows.size(), 1u);
}

TEST(EmbeddingsChain, RefusesARouteThatChoosesTheModelPerRequest) {
  Fixture f;
  Chain chain = makeEmbeddingsChain(f.s);
  OneEmbedding r(embeddingsBody("auto"));
  asio::io_context io;
  runOn(io, chain.run(r.ctx));
  EXPECT_EQ(r.sink.status, 400);
  EXPECT_NE(r.sink.body.find("route 'auto' uses policy 'cheapest'"), std::string::npos) << r.sink.body;
  EXPECT_EQ(calls(f), 0);
  ASSERT_EQ(f.recorder.rows.size(), 1u);
  EXPECT_EQ(f.recorder.rows[0].status, 400);
}

TEST(EmbeddingsChain, RefusesUnknownModelsAndBadBodiesBeforeAnyCall) {
  Fixture f;
  Chain chain = makeEmbeddingsChain(f.s);
  asio::io_context io;
  OneEmbedding unknown(embeddingsBody("nope"));
  runOn(io, chain.run(unknown.ctx));
  EXPECT_EQ(unknown.sink.status, 404);
  OneEmbedding empty(embeddingsBody("small", "[]"));
  runOn(io, chain.run(empty.ctx));
  EXPECT_EQ(empty.sink.status, 400);
  EXPECT_NE(empty.sink.body.find("empty array"), std::string::npos);
  EXPECT_EQ(calls(f), 0);
}

TEST(EmbeddingsChain, SensitiveInputReachesOnlyOnPremModels) {
  Fixture f;
  Chain chain = makeEmbeddingsChain(f.s);
  asio::io_context io;
  OneEmbedding remote(embeddingsBody("small", R"(["fine","card 4111 1111 1111 1111"])"));
  runOn(io, chain.run(remote.ctx));
  EXPECT_EQ(remote.sink.status, 403);
  EXPECT_EQ(calls(f), 0);
  OneEmbedding local(embeddingsBody("onprem", R"("card 4111 1111 1111 1111")"));
  runOn(io, chain.run(local.ctx));
  EXPECT_EQ(local.sink.status, 200);
  EXPECT_EQ(f.fake["local"]->called, std::vector<std::string>{"onprem-id"});
  ASSERT_EQ(f.recorder.rows.size(), 2u);
  EXPECT_TRUE(f.recorder.rows[1].sensitive);
}

}  // namespace
}  // namespace rightsize::pipeline
