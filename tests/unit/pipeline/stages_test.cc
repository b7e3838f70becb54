// Each stage alone, on a context the earlier stages would have filled.
#include <gtest/gtest.h>

#include "pipeline/account_stage.h"
#include "pipeline/admit_stage.h"
#include "pipeline/auth_stage.h"
#include "pipeline/decide_stage.h"
#include "pipeline/privacy_stage.h"
#include "pipeline/route_stage.h"
#include "pipeline/shape_stage.h"
#include "pipeline_fakes.h"

namespace rightsize::pipeline {
namespace {

using namespace testing;

// A context run through `stages` (sync parts only, like the chain would), stopping at the first
// that does not go on.
struct Ctx {
  http::Request req;
  FakeSink sink;
  RequestContext ctx;
  explicit Ctx(const std::string& body, bool with_key = true) : req(chatRequest(body, with_key)), ctx(req, sink, nullptr) {}
};

TEST(AuthStage, RefusesAMissingKeyWith401AndFillsTheKeyId) {
  Fixture f;
  AuthStage auth(f.s);
  Ctx bad(chatBody("auto"), false);
  EXPECT_EQ(auth.run(bad.ctx), Flow::kStop);
  ASSERT_TRUE(bad.ctx.error);
  EXPECT_EQ(bad.ctx.error->code, ErrorCode::kUnauthorized);
  Ctx good(chatBody("auto"));
  EXPECT_EQ(auth.run(good.ctx), Flow::kNext);
  EXPECT_EQ(good.ctx.info.key_id, "k1");
}

TEST(AuthStage, PassesEveryoneWhenTheGatewayHasNoKeys) {
  Fixture f(false);
  AuthStage auth(f.s);
  Ctx c(chatBody("auto"), false);
  EXPECT_EQ(auth.run(c.ctx), Flow::kNext);
  EXPECT_FALSE(c.ctx.key);
}

TEST(ShapeStage, ParsesTheBodyAndFoldsInTheHeaderOverrides) {
  Fixture f;
  ShapeStage shape(f.s);
  Ctx c(chatBody("auto", R"(,"stream":true)"));
  c.req.set("x-rightsize-quality", "0.5");
  c.req.set("x-rightsize-sensitive", "true");
  ASSERT_EQ(shape.run(c.ctx), Flow::kNext);
  EXPECT_EQ(c.ctx.chat.model, "auto");
  EXPECT_TRUE(c.ctx.info.stream);
  EXPECT_EQ(c.ctx.chat.rightsize.quality, 0.5);
  EXPECT_TRUE(c.ctx.info.sensitive);
}

TEST(ShapeStage, RefusesABadBodyAndABadQualityHeaderWith400) {
  Fixture f;
  ShapeStage shape(f.s);
  Ctx junk("{not json");
  EXPECT_EQ(shape.run(junk.ctx), Flow::kStop);
  ASSERT_TRUE(junk.ctx.error);
  Ctx q(chatBody("auto"));
  q.req.set("x-rightsize-quality", "2");
  EXPECT_EQ(shape.run(q.ctx), Flow::kStop);
  ASSERT_TRUE(q.ctx.error);
  EXPECT_EQ(q.ctx.error->message, "x-rightsize-quality: must be a number in (0, 1]");
}

// Runs shape then route on a fresh context.
void shapeAndRoute(Fixture& f, Ctx& c) {
  ASSERT_EQ(ShapeStage(f.s).run(c.ctx), Flow::kNext);
  ASSERT_EQ(RouteStage(f.s).run(c.ctx), Flow::kNext);
}

TEST(RouteStage, ResolvesRoutesAndModelsAndRefusesUnknownNamesWith404) {
  Fixture f;
  Ctx r(chatBody("auto"));
  shapeAndRoute(f, r);
  ASSERT_TRUE(r.ctx.route);
  EXPECT_EQ(r.ctx.candidates.size(), 2u);
  EXPECT_EQ(r.ctx.dispatcher->name(), "retrying");
  Ctx m(chatBody("big"));
  shapeAndRoute(f, m);
  EXPECT_FALSE(m.ctx.route);
  EXPECT_EQ(m.ctx.dispatcher->name(), "direct");
  Ctx c(chatBody("cascade"));
  shapeAndRoute(f, c);
  EXPECT_EQ(c.ctx.dispatcher->name(), "cascade");  // chosen at startup from the policy kind
  Ctx u(chatBody("nope"));
  ASSERT_EQ(ShapeStage(f.s).run(u.ctx), Flow::kNext);
  EXPECT_EQ(RouteStage(f.s).run(u.ctx), Flow::kStop);
  EXPECT_EQ(u.ctx.error->code, ErrorCode::kNotFound);
}

TEST(PrivacyStage, RefusesASensitiveRequestWithNoOnPremModelAndDropsRemoteFallbacks) {
  Fixture f;
  Ctx remote(chatBody("remote_only", R"(,"rightsize":{"sensitive":true})"));
  shapeAndRoute(f, remote);
  EXPECT_EQ(PrivacyStage(f.s).run(remote.ctx), Flow::kStop);
  EXPECT_EQ(remote.ctx.error->code, ErrorCode::kForbidden);
  Ctx priv(chatBody("private", R"(,"rightsize":{"sensitive":true})"));
  shapeAndRoute(f, priv);
  EXPECT_EQ(priv.ctx.fallback.size(), 1u);
  EXPECT_EQ(PrivacyStage(f.s).run(priv.ctx), Flow::kNext);
  EXPECT_TRUE(priv.ctx.fallback.empty());  // big is remote
  ASSERT_EQ(DecideStage(f.s).run(priv.ctx), Flow::kNext);
  ASSERT_EQ(priv.ctx.targets.size(), 1u);
  EXPECT_EQ(priv.ctx.targets[0].model->name, "onprem");
}

TEST(DecideStage, OrdersTheTargetsAndRefusesWhatNoCandidateCanAfford) {
  Fixture f;
  Ctx c(chatBody("auto"));
  shapeAndRoute(f, c);
  ASSERT_EQ(DecideStage(f.s).run(c.ctx), Flow::kNext);
  ASSERT_EQ(c.ctx.targets.size(), 2u);
  EXPECT_EQ(c.ctx.targets[0].model->name, "small");
  EXPECT_EQ(c.ctx.decided, 2u);
  EXPECT_GE(c.ctx.info.decision_us, 0);
  Ctx poor(chatBody("auto", R"(,"rightsize":{"max_cost_usd":0.0000001})"));
  shapeAndRoute(f, poor);
  EXPECT_EQ(DecideStage(f.s).run(poor.ctx), Flow::kStop);
  EXPECT_EQ(poor.ctx.error->code, ErrorCode::kRateLimited);
}

TEST(AdmitStage, MovesThePinnedModelToTheFrontAndPinsAFreshSession) {
  Fixture f;
  f.pins->put("pinned", "s1", "big");
  for (const char* session : {"s1", "s2"}) {
    Ctx c(chatBody("pinned", std::string(R"(,"rightsize":{"session":")") + session + R"("})"));
    ASSERT_EQ(AuthStage(f.s).run(c.ctx), Flow::kNext);
    shapeAndRoute(f, c);
    ASSERT_EQ(DecideStage(f.s).run(c.ctx), Flow::kNext);
    AdmitStage admit(f.s);
    ASSERT_EQ(admit.run(c.ctx), Flow::kSuspend);
    asio::io_context io;
    EXPECT_EQ(runOn(io, admit.runAsync(c.ctx)), Flow::kNext);
    EXPECT_EQ(c.ctx.targets[0].model->name, session == std::string("s1") ? "big" : "small");
  }
  EXPECT_EQ(f.pins->get("pinned", "s2"), "small");
  EXPECT_EQ(f.keys.admits, 2);
}

TEST(AdmitStage, AnswersARefusedAdmissionItselfAndStops) {
  Fixture f;
  f.keys.admit_ok = false;
  Ctx c(chatBody("auto"));
  ASSERT_EQ(AuthStage(f.s).run(c.ctx), Flow::kNext);
  shapeAndRoute(f, c);
  ASSERT_EQ(DecideStage(f.s).run(c.ctx), Flow::kNext);
  AdmitStage admit(f.s);
  ASSERT_EQ(admit.run(c.ctx), Flow::kSuspend);
  asio::io_context io;
  EXPECT_EQ(runOn(io, admit.runAsync(c.ctx)), Flow::kStop);
  EXPECT_EQ(c.sink.status, 429);
  EXPECT_EQ(c.ctx.info.status, 429);
  EXPECT_NE(c.sink.head.find("x-request-id"), std::string::npos);
}

TEST(AdmitStage, DoesNotSuspendWithoutSessionOrKey) {
  Fixture f(false);
  Ctx c(chatBody("auto"), false);
  shapeAndRoute(f, c);
  ASSERT_EQ(DecideStage(f.s).run(c.ctx), Flow::kNext);
  EXPECT_EQ(AdmitStage(f.s).run(c.ctx), Flow::kNext);
}

TEST(AccountStage, SettlesTheKeyThenWritesOneLedgerRow) {
  Fixture f;
  Ctx c(chatBody("auto"));
  c.ctx.admission.reserved = true;
  c.ctx.keys = &f.keys;
  c.ctx.info.status = 200;
  c.ctx.info.request_id = "r1";
  c.ctx.info.chosen = &f.s.cfg->models.at("big");
  c.ctx.info.usage = api::Usage{1'000'000, 0};
  AccountStage account(f.s);
  EXPECT_EQ(account.run(c.ctx), Flow::kNext);
  EXPECT_EQ(f.keys.settles, 1);
  EXPECT_TRUE(f.keys.settled_success);
  EXPECT_EQ(f.keys.settled_tokens, 1'000'000);
  EXPECT_EQ(f.keys.settled_cost, 10'000'000'000);  // $10 per million input tokens
  ASSERT_EQ(f.recorder.rows.size(), 1u);
  EXPECT_EQ(f.recorder.rows[0].request_id, "r1");
  EXPECT_EQ(f.recorder.rows[0].model, "big");
  EXPECT_EQ(f.recorder.rows[0].cost_nanos, 10'000'000'000);
}

}  // namespace
}  // namespace rightsize::pipeline
