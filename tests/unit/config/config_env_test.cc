// ${VAR} expansion in config values, with an injected environment.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "config/config.h"
#include "unit/config/config_test_util.h"

namespace rightsize::config {
namespace {

using testing::errorOf;
using testing::kMinimalModels;
using testing::parse;
using ::testing::StartsWith;

// Line 2 holds the value under test (providers.up.api_key).
std::string withApiKey(const std::string& value) {
  return "providers:\n  up: {kind: openai, base_url: \"https://x.test\", api_key: \"" + value +
         "\"}\nmodels:\n  m: {provider: up}\n";
}

std::string apiKeyOf(const Result<Config>& cfg) { return cfg ? cfg->providers.at("up").api_key : cfg.error().message; }

TEST(ConfigEnv, SubstitutesVariablesAnywhereInsideAString) {
  EXPECT_EQ(apiKeyOf(parse(withApiKey("pre-${A}-mid-${B}-post"), {{"A", "1"}, {"B", "2"}})), "pre-1-mid-2-post");
}

TEST(ConfigEnv, UsesDefaultOnlyWhenVariableIsUnsetOrEmpty) {
  EXPECT_EQ(apiKeyOf(parse(withApiKey("${KEY:-fallback}"))), "fallback");
  EXPECT_EQ(apiKeyOf(parse(withApiKey("${KEY:-fallback}"), {{"KEY", ""}})), "fallback");
  EXPECT_EQ(apiKeyOf(parse(withApiKey("${KEY:-fallback}"), {{"KEY", "real"}})), "real");
  EXPECT_EQ(apiKeyOf(parse(withApiKey("${KEY:-}"))), "");
}

TEST(ConfigEnv, SetButEmptyVariableWithoutDefaultExpandsToEmpty) {
  EXPECT_EQ(apiKeyOf(parse(withApiKey("x${KEY}y"), {{"KEY", ""}})), "xy");
}

TEST(ConfigEnv, RejectsMissingVariableNamingItAndTheLine) {
  EXPECT_EQ(errorOf(withApiKey("${OPENAI_API_KEY}")),
            "config.yaml:2: providers.up.api_key: environment variable OPENAI_API_KEY is not set "
            "(use ${OPENAI_API_KEY:-default} for a default)");
}

TEST(ConfigEnv, ReportsTheLineOfAMissingVariableDeepInTheFile) {
  EXPECT_THAT(errorOf(std::string(kMinimalModels) + "ledger:\n  kind: sqlite\n  path: \"${STATE_DIR}/rs.db\"\n"),
              StartsWith("config.yaml:8: ledger.path: environment variable STATE_DIR is not set"));
}

TEST(ConfigEnv, TreatsDollarDollarBraceAsLiteral) {
  EXPECT_EQ(apiKeyOf(parse(withApiKey("a$${KEY}b"), {{"KEY", "no"}})), "a${KEY}b");
  EXPECT_EQ(apiKeyOf(parse(withApiKey("$5 and $$"))), "$5 and $$");
}

TEST(ConfigEnv, DoesNotExpandTheValueOfAVariableAgain) {
  EXPECT_EQ(apiKeyOf(parse(withApiKey("${A}"), {{"A", "${B}"}})), "${B}");
}

TEST(ConfigEnv, RejectsUnterminatedOrInvalidReference) {
  EXPECT_EQ(errorOf(withApiKey("${KEY")),
            "config.yaml:2: providers.up.api_key: unterminated '${' (write '$${' for a literal '${')");
  EXPECT_EQ(errorOf(withApiKey("${1X}")),
            "config.yaml:2: providers.up.api_key: invalid environment variable name '1X' in '${1X}'");
  EXPECT_EQ(errorOf(withApiKey("${}")),
            "config.yaml:2: providers.up.api_key: invalid environment variable name '' in '${}'");
}

TEST(ConfigEnv, SubstitutesBeforeCheckingNumbers) {
  auto cfg = parse(std::string(kMinimalModels) + "server:\n  threads: ${THREADS:-3}\n  max_connections: ${MAXC}\n",
                   {{"MAXC", "12"}});
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->server.threads, 3);
  EXPECT_EQ(cfg->server.max_connections, 12u);
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "server:\n  threads: ${THREADS}\n", {{"THREADS", "many"}}),
            "config.yaml:7: server.threads: expected an integer, got 'many'");
}

TEST(ConfigEnv, RejectsVariableThatInjectsALineBreakIntoAnApiKey) {
  EXPECT_EQ(errorOf(withApiKey("${KEY}"), {{"KEY", "sk\r\nX-Evil: 1"}}),
            "config.yaml:2: providers.up.api_key: must not contain line breaks");
}

TEST(ConfigEnv, ProcessEnvReadsTheRealEnvironment) {
  const EnvLookup env = processEnv();
  ASSERT_EQ(::setenv("RIGHTSIZE_CONFIG_TEST_VAR", "v42", 1), 0);
  EXPECT_EQ(env("RIGHTSIZE_CONFIG_TEST_VAR"), std::optional<std::string>("v42"));
  ASSERT_EQ(::unsetenv("RIGHTSIZE_CONFIG_TEST_VAR"), 0);
  EXPECT_EQ(env("RIGHTSIZE_CONFIG_TEST_VAR"), std::nullopt);
}

}  // namespace
}  // namespace rightsize::config
