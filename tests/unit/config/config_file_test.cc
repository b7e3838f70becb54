// Path resolution, loadConfigFile() and embeddedDefaults().

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"
#include "unit/config/config_test_util.h"

namespace rightsize::config {
namespace {

using testing::fakeEnv;
using ::testing::HasSubstr;
using testing::parse;
using ::testing::StartsWith;

const std::string kDataDir = std::string(RIGHTSIZE_SOURCE_DIR) + "/tests/data/config";

constexpr const char* kPaths = R"(providers:
  rp: {kind: replay, data: answers.jsonl.gz}
  abs: {kind: replay, data: /srv/answers.jsonl}
models:
  m: {provider: rp}
routes:
  auto: {candidates: [m], router: routers/auto.rsr}
ledger: {kind: sqlite, path: state/rs.db}
)";

TEST(ConfigPaths, ResolvesRelativePathsAgainstBaseDir) {
  auto cfg = parse(kPaths, {}, "/etc/rightsize");
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->providers.at("rp").data, "/etc/rightsize/answers.jsonl.gz");
  EXPECT_EQ(cfg->routes.at("auto").router, "/etc/rightsize/routers/auto.rsr");
  EXPECT_EQ(cfg->ledger.path, "/etc/rightsize/state/rs.db");
}

TEST(ConfigPaths, LeavesAbsolutePathsAlone) {
  auto cfg = parse(kPaths, {}, "/etc/rightsize");
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->providers.at("abs").data, "/srv/answers.jsonl");
}

TEST(ConfigPaths, LeavesRelativePathsAloneWithoutBaseDir) {
  auto cfg = parse(kPaths);
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->providers.at("rp").data, "answers.jsonl.gz");
  EXPECT_EQ(cfg->routes.at("auto").router, "routers/auto.rsr");
  EXPECT_EQ(cfg->ledger.path, "state/rs.db");
}

TEST(ConfigPaths, KeepsInMemorySqliteLedgerAsIs) {
  auto cfg = parse(
      "providers:\n  rp: {kind: replay, data: a}\nmodels:\n  m: {provider: rp}\n"
      "ledger: {kind: sqlite, path: \":memory:\"}\n",
      {}, "/etc/rightsize");
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->ledger.path, ":memory:");
}

TEST(ConfigPaths, ResolvesTheDefaultSqlitePathToo) {
  auto cfg = parse("providers:\n  rp: {kind: replay, data: a}\nmodels:\n  m: {provider: rp}\n", {}, "/etc/rightsize");
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->ledger.path, "/etc/rightsize/rightsize.db");
}

TEST(ConfigPaths, RejectsEmptyPath) {
  EXPECT_EQ(testing::errorOf("providers:\n  rp: {kind: replay, data: \"\"}\nmodels:\n  m: {provider: rp}\n"),
            "config.yaml:2: providers.rp.data: must not be empty");
}

TEST(ConfigFile, LoadsFileAndResolvesPathsAgainstItsDirectory) {
  auto cfg = loadConfigFile(kDataDir + "/relative_paths.yaml", fakeEnv());
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->source, kDataDir + "/relative_paths.yaml");
  EXPECT_EQ(cfg->providers.at("rp").data, kDataDir + "/outcomes/answers.jsonl.gz");
  EXPECT_EQ(cfg->providers.at("abs").data, "/srv/answers.jsonl");
  EXPECT_EQ(cfg->routes.at("auto").router, kDataDir + "/routers/auto.rsr");
  EXPECT_EQ(cfg->ledger.path, kDataDir + "/state/ledger.db");
}

TEST(ConfigFile, NamesTheFileAndLineInValidationErrors) {
  auto cfg = loadConfigFile(kDataDir + "/unknown_key.yaml", fakeEnv());
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(cfg.error().message, StartsWith(kDataDir + "/unknown_key.yaml:5: unknown key 'prce' in models.m"));
}

TEST(ConfigFile, ReportsMissingFileAsIoErrorNamingThePath) {
  auto cfg = loadConfigFile(kDataDir + "/no_such_file.yaml", fakeEnv());
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().code, ErrorCode::kIo);
  EXPECT_THAT(cfg.error().message, HasSubstr(kDataDir + "/no_such_file.yaml"));
}

TEST(ConfigFile, ReportsDirectoryAsIoError) {
  auto cfg = loadConfigFile(kDataDir, fakeEnv());
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().code, ErrorCode::kIo);
  EXPECT_THAT(cfg.error().message, HasSubstr(kDataDir));
}

TEST(EmbeddedDefaults, ParseIntoTheDocumentedConfig) {
  auto cfg = embeddedDefaults("/opt/rightsize/data");
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->source, "<embedded defaults>");
  EXPECT_EQ(cfg->server.listen_host, "127.0.0.1");
  EXPECT_EQ(cfg->server.listen_port, 8080);

  ASSERT_EQ(cfg->providers.size(), 1u);
  const ProviderConfig& replay = cfg->providers.at("replay");
  EXPECT_EQ(replay.kind, ProviderKind::kReplay);
  EXPECT_EQ(replay.data, "/opt/rightsize/data/replay/mt_bench_replay.jsonl.gz");

  ASSERT_EQ(cfg->models.size(), 2u);
  const ModelConfig& gpt4 = cfg->models.at("gpt-4");
  EXPECT_EQ(gpt4.provider, "replay");
  EXPECT_EQ(gpt4.id, "gpt-4-1106-preview");
  EXPECT_EQ(gpt4.prices.input, TokenPrice::fromUsdPerMtok(10));
  EXPECT_EQ(gpt4.prices.output, TokenPrice::fromUsdPerMtok(30));
  const ModelConfig& mixtral = cfg->models.at("mixtral-8x7b");
  EXPECT_EQ(mixtral.provider, "replay");
  EXPECT_EQ(mixtral.id, "mistralai/Mixtral-8x7B-Instruct-v0.1");
  EXPECT_EQ(mixtral.prices.input, TokenPrice::fromUsdPerMtok(0.6));
  EXPECT_EQ(mixtral.prices.output, TokenPrice::fromUsdPerMtok(0.6));

  ASSERT_EQ(cfg->routes.size(), 3u);
  const RouteConfig& automatic = cfg->routes.at("auto");
  EXPECT_EQ(automatic.policy, "learned");
  EXPECT_EQ(automatic.router, "/opt/rightsize/data/routers/mt_bench.rsr");
  EXPECT_EQ(automatic.quality, 0.95);
  EXPECT_EQ(automatic.candidates, (std::vector<std::string>{"mixtral-8x7b", "gpt-4"}));
  EXPECT_EQ(automatic.reference, "gpt-4");
  EXPECT_EQ(automatic.fallback, (std::vector<std::string>{"gpt-4"}));
  const RouteConfig& cheap = cfg->routes.at("cheap");
  EXPECT_EQ(cheap.policy, "cheapest");
  EXPECT_EQ(cheap.candidates, (std::vector<std::string>{"mixtral-8x7b", "gpt-4"}));
  const RouteConfig& best = cfg->routes.at("best");
  EXPECT_EQ(best.policy, "fixed");
  EXPECT_EQ(best.candidates, (std::vector<std::string>{"gpt-4"}));

  EXPECT_EQ(cfg->ledger.kind, LedgerKind::kSqlite);
  EXPECT_EQ(cfg->ledger.path, "rightsize.db");
  EXPECT_EQ(cfg->limits.kind, LimitsKind::kMemory);
}

TEST(EmbeddedDefaults, JoinDataDirWithOrWithoutTrailingSlash) {
  auto slash = embeddedDefaults("data/");
  ASSERT_TRUE(slash) << slash.error().message;
  EXPECT_EQ(slash->providers.at("replay").data, "data/replay/mt_bench_replay.jsonl.gz");
  auto empty = embeddedDefaults("");
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_EQ(empty->providers.at("replay").data, "./replay/mt_bench_replay.jsonl.gz");
}

TEST(EmbeddedDefaults, IgnoreTheProcessEnvironment) {
  // A data dir that looks like a variable reference is taken literally, not expanded again.
  auto cfg = embeddedDefaults("/x/${HOME}");
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->providers.at("replay").data, "/x/${HOME}/replay/mt_bench_replay.jsonl.gz");
}

}  // namespace
}  // namespace rightsize::config
