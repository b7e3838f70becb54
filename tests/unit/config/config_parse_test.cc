// parseConfig(): values, defaults, and the line-numbered errors of every validation rule.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"
#include "unit/config/config_test_util.h"

namespace rightsize::config {
namespace {

using testing::errorOf;
using testing::kMinimalModels;
using testing::parse;
using ::testing::StartsWith;

// The spec's example, adapted: gpt-4o-mini is defined so the route's candidates all exist.
constexpr const char* kSpecExample =
    R"(server:   {listen: "127.0.0.1:8080", threads: 0, max_body_bytes: 8388608}   # threads 0 = one per core
providers:
  openai:    {kind: openai, base_url: "https://api.openai.com/v1", api_key: "${OPENAI_API_KEY}"}
  anthropic: {kind: anthropic, base_url: "https://api.anthropic.com", api_key: "${ANTHROPIC_API_KEY}"}
  local:     {kind: openai, base_url: "http://127.0.0.1:8000/v1", locality: on_prem}   # vLLM, llama-server, Ollama
  replay:    {kind: replay, data: "data/routing/routerbench/train.jsonl.gz"}         # recorded answers, no keys needed
models:
  gpt-4o:      {provider: openai, id: gpt-4o, input_usd_per_mtok: 2.5, output_usd_per_mtok: 10}
  gpt-4o-mini: {provider: openai, id: gpt-4o-mini, input_usd_per_mtok: 0.15, output_usd_per_mtok: 0.6}
  small-local: {provider: local, id: qwen3.5-9b, input_usd_per_mtok: 0.02, output_usd_per_mtok: 0.02}
routes:
  auto:
    candidates: [small-local, gpt-4o-mini, gpt-4o]
    policy: learned          # learned | cascade | rules | cheapest | fixed
    router: routers/auto.rsr
    quality: 0.95            # keep 95% of the best candidate's quality on the calibration data, at least cost
    reference: gpt-4o        # the model savings are measured against
    fallback: [gpt-4o-mini, gpt-4o]
ledger:   {kind: sqlite, path: "rightsize.db"}     # or {kind: postgres, dsn: "postgresql://..."}
limits:   {kind: memory}                           # or {kind: redis, url: "redis://127.0.0.1:6379"}
)";

TEST(ConfigParse, ParsesSpecExampleWithItsValues) {
  auto cfg = parse(kSpecExample, {{"OPENAI_API_KEY", "sk-openai"}, {"ANTHROPIC_API_KEY", "sk-ant"}});
  ASSERT_TRUE(cfg) << cfg.error().message;

  EXPECT_EQ(cfg->source, "config.yaml");
  EXPECT_EQ(cfg->server.listen_host, "127.0.0.1");
  EXPECT_EQ(cfg->server.listen_port, 8080);
  EXPECT_EQ(cfg->server.threads, 0);
  EXPECT_EQ(cfg->server.max_body_bytes, 8388608u);

  ASSERT_EQ(cfg->providers.size(), 4u);
  const ProviderConfig& openai = cfg->providers.at("openai");
  EXPECT_EQ(openai.name, "openai");
  EXPECT_EQ(openai.kind, ProviderKind::kOpenAI);
  EXPECT_EQ(openai.base_url, "https://api.openai.com/v1");
  EXPECT_EQ(openai.api_key, "sk-openai");
  EXPECT_EQ(openai.locality, Locality::kRemote);
  const ProviderConfig& anthropic = cfg->providers.at("anthropic");
  EXPECT_EQ(anthropic.kind, ProviderKind::kAnthropic);
  EXPECT_EQ(anthropic.base_url, "https://api.anthropic.com");
  EXPECT_EQ(anthropic.api_key, "sk-ant");
  const ProviderConfig& local = cfg->providers.at("local");
  EXPECT_EQ(local.locality, Locality::kOnPrem);
  EXPECT_EQ(local.api_key, "");
  const ProviderConfig& replay = cfg->providers.at("replay");
  EXPECT_EQ(replay.kind, ProviderKind::kReplay);
  EXPECT_EQ(replay.data, "data/routing/routerbench/train.jsonl.gz");

  ASSERT_EQ(cfg->models.size(), 3u);
  const ModelConfig& gpt4o = cfg->models.at("gpt-4o");
  EXPECT_EQ(gpt4o.name, "gpt-4o");
  EXPECT_EQ(gpt4o.provider, "openai");
  EXPECT_EQ(gpt4o.id, "gpt-4o");
  EXPECT_EQ(gpt4o.prices.input.nanos_per_mtok, 2'500'000'000);
  EXPECT_EQ(gpt4o.prices.output.nanos_per_mtok, 10'000'000'000);
  // Unset cache prices: a cache read at the input price, a cache write at 1.25 × input.
  EXPECT_EQ(gpt4o.prices.cached_input, gpt4o.prices.input);
  EXPECT_EQ(gpt4o.prices.cache_write.nanos_per_mtok, 3'125'000'000);
  EXPECT_FALSE(gpt4o.max_output_tokens.has_value());
  const ModelConfig& small = cfg->models.at("small-local");
  EXPECT_EQ(small.provider, "local");
  EXPECT_EQ(small.id, "qwen3.5-9b");
  EXPECT_EQ(small.prices.input.nanos_per_mtok, 20'000'000);

  ASSERT_EQ(cfg->routes.size(), 1u);
  const RouteConfig& route = cfg->routes.at("auto");
  EXPECT_EQ(route.name, "auto");
  EXPECT_EQ(route.candidates, (std::vector<std::string>{"small-local", "gpt-4o-mini", "gpt-4o"}));
  EXPECT_EQ(route.policy, "learned");
  EXPECT_EQ(route.router, "routers/auto.rsr");
  ASSERT_TRUE(route.quality.has_value());
  EXPECT_DOUBLE_EQ(*route.quality, 0.95);
  EXPECT_EQ(route.reference, "gpt-4o");
  EXPECT_EQ(route.fallback, (std::vector<std::string>{"gpt-4o-mini", "gpt-4o"}));

  EXPECT_EQ(cfg->ledger.kind, LedgerKind::kSqlite);
  EXPECT_EQ(cfg->ledger.path, "rightsize.db");
  EXPECT_EQ(cfg->limits.kind, LimitsKind::kMemory);
}

TEST(ConfigParse, ReadsCachePrices) {
  auto cfg = parse(std::string(kMinimalModels) +
                   "  cached: {provider: up, input_usd_per_mtok: 3, cached_input_usd_per_mtok: 0.3,\n"
                   "           cache_write_usd_per_mtok: 3.75, output_usd_per_mtok: 15}\n");
  ASSERT_TRUE(cfg) << cfg.error().message;
  const Prices& p = cfg->models.at("cached").prices;
  EXPECT_EQ(p.input.nanos_per_mtok, 3'000'000'000);
  EXPECT_EQ(p.cached_input.nanos_per_mtok, 300'000'000);
  EXPECT_EQ(p.cache_write.nanos_per_mtok, 3'750'000'000);
  EXPECT_EQ(p.output.nanos_per_mtok, 15'000'000'000);
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "  third: {provider: up, cached_input_usd_per_mtok: -1}\n"),
            "config.yaml:6: models.third.cached_input_usd_per_mtok: must be >= 0, got -1");
}

TEST(ConfigParse, AppliesDefaultsForOmittedKeys) {
  auto cfg = parse(std::string(kMinimalModels) + "routes:\n  r: {candidates: [small, big]}\n");
  ASSERT_TRUE(cfg) << cfg.error().message;
  const ServerConfig defaults;
  EXPECT_EQ(cfg->server.listen_host, defaults.listen_host);
  EXPECT_EQ(cfg->server.listen_port, defaults.listen_port);
  EXPECT_EQ(cfg->server.read_timeout, defaults.read_timeout);
  EXPECT_EQ(cfg->server.log_level, "info");
  const ProviderConfig& up = cfg->providers.at("up");
  EXPECT_EQ(up.locality, Locality::kRemote);
  EXPECT_EQ(up.retry.max_attempts, RetryConfig{}.max_attempts);
  EXPECT_EQ(up.breaker.failure_threshold, BreakerConfig{}.failure_threshold);
  EXPECT_EQ(cfg->models.at("small").id, "small");  // id defaults to the model name
  EXPECT_EQ(cfg->models.at("small").prices, Prices{});
  const RouteConfig& r = cfg->routes.at("r");
  EXPECT_EQ(r.policy, "fixed");
  EXPECT_EQ(r.reference, "big");  // the last candidate
  EXPECT_TRUE(r.fallback.empty());
  EXPECT_FALSE(r.quality.has_value());
  EXPECT_EQ(cfg->ledger.kind, LedgerKind::kSqlite);
  EXPECT_EQ(cfg->ledger.path, "rightsize.db");
  EXPECT_EQ(cfg->limits.kind, LimitsKind::kMemory);
}

TEST(ConfigParse, ReadsEveryServerKey) {
  auto cfg = parse(std::string(kMinimalModels) + R"(server:
  listen: "0.0.0.0:9090"
  threads: 4
  max_body_bytes: 1000
  max_header_bytes: 2000
  header_timeout_ms: 11
  read_timeout_ms: 12
  idle_timeout_ms: 13
  write_timeout_ms: 14
  drain_timeout_ms: 0
  max_connections: 7
  log_level: debug
)");
  ASSERT_TRUE(cfg) << cfg.error().message;
  const ServerConfig& s = cfg->server;
  EXPECT_EQ(s.listen_host, "0.0.0.0");
  EXPECT_EQ(s.listen_port, 9090);
  EXPECT_EQ(s.threads, 4);
  EXPECT_EQ(s.max_body_bytes, 1000u);
  EXPECT_EQ(s.max_header_bytes, 2000u);
  EXPECT_EQ(s.header_timeout, Millis(11));
  EXPECT_EQ(s.read_timeout, Millis(12));
  EXPECT_EQ(s.idle_timeout, Millis(13));
  EXPECT_EQ(s.write_timeout, Millis(14));
  EXPECT_EQ(s.drain_timeout, Millis(0));
  EXPECT_EQ(s.max_connections, 7u);
  EXPECT_EQ(s.log_level, "debug");
}

TEST(ConfigParse, ReadsEveryProviderKeyIncludingRetryAndBreaker) {
  auto cfg = parse(R"(providers:
  up:
    kind: anthropic
    base_url: "https://api.anthropic.com/"
    api_key: k
    locality: on_prem
    headers: {anthropic-version: "2023-06-01", X-Team: ml}
    connect_timeout_ms: 21
    first_byte_timeout_ms: 22
    idle_timeout_ms: 23
    max_idle_connections: 0
    max_response_bytes: 24
    retry: {max_attempts: 1, base_backoff_ms: 0, max_backoff_ms: 26, max_retry_after_ms: 27}
    breaker: {failure_threshold: 2, open_for_ms: 28}
  rp:
    kind: replay
    data: /d/x.jsonl
    latency_ms: 31
    chunk_interval_ms: 32
models:
  m: {provider: up, id: claude, max_output_tokens: 512}
)");
  ASSERT_TRUE(cfg) << cfg.error().message;
  const ProviderConfig& up = cfg->providers.at("up");
  EXPECT_EQ(up.kind, ProviderKind::kAnthropic);
  EXPECT_EQ(up.base_url, "https://api.anthropic.com");  // one trailing '/' stripped
  EXPECT_EQ(up.api_key, "k");
  EXPECT_EQ(up.locality, Locality::kOnPrem);
  EXPECT_EQ(up.headers, (std::map<std::string, std::string>{{"anthropic-version", "2023-06-01"}, {"X-Team", "ml"}}));
  EXPECT_EQ(up.connect_timeout, Millis(21));
  EXPECT_EQ(up.first_byte_timeout, Millis(22));
  EXPECT_EQ(up.idle_timeout, Millis(23));
  EXPECT_EQ(up.max_idle_connections, 0u);
  EXPECT_EQ(up.max_response_bytes, 24u);
  EXPECT_EQ(up.retry.max_attempts, 1);
  EXPECT_EQ(up.retry.base_backoff, Millis(0));
  EXPECT_EQ(up.retry.max_backoff, Millis(26));
  EXPECT_EQ(up.retry.max_retry_after, Millis(27));
  EXPECT_EQ(up.breaker.failure_threshold, 2);
  EXPECT_EQ(up.breaker.open_for, Millis(28));
  const ProviderConfig& rp = cfg->providers.at("rp");
  EXPECT_EQ(rp.data, "/d/x.jsonl");
  EXPECT_EQ(rp.replay_latency, Millis(31));
  EXPECT_EQ(rp.replay_chunk_interval, Millis(32));
  EXPECT_EQ(cfg->models.at("m").id, "claude");
  EXPECT_EQ(cfg->models.at("m").max_output_tokens, std::optional<uint32_t>(512));
}

TEST(ConfigParse, StripsOnlyOneTrailingSlashFromBaseUrl) {
  auto cfg = parse(R"(providers:
  up: {kind: openai, base_url: "http://h:1/v1//"}
models:
  m: {provider: up}
)");
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->providers.at("up").base_url, "http://h:1/v1/");
}

TEST(ConfigParse, AcceptsBracketedIpv6ListenAddressAndPortZero) {
  auto cfg = parse(std::string(kMinimalModels) + "server: {listen: \"[::1]:0\"}\n");
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->server.listen_host, "::1");
  EXPECT_EQ(cfg->server.listen_port, 0);
}

TEST(ConfigParse, RejectsMalformedListenAddressesWithLineNumber) {
  for (const char* listen : {"127.0.0.1", "127.0.0.1:", ":8080", "127.0.0.1:65536", "127.0.0.1:http", "::1:8080",
                             "[::1]8080", "[::1:8080", "127.0.0.1:-1"}) {
    SCOPED_TRACE(listen);
    const std::string msg = errorOf(std::string(kMinimalModels) + "server:\n  listen: \"" + listen + "\"\n");
    EXPECT_THAT(msg, StartsWith("config.yaml:7: server.listen: '" + std::string(listen) + "': "));
  }
}

TEST(ConfigParse, RejectsUnknownKeyWithLineNumber) {
  const std::string msg = errorOf(std::string(kMinimalModels) + R"(routes:
  auto:
    candidates: [small]
    polcy: cheapest
)");
  EXPECT_EQ(msg,
            "config.yaml:9: unknown key 'polcy' in routes.auto "
            "(known: candidates, policy, router, quality, reference, fallback, cascade, rules, budget, model_budgets, "
            "pii_detection, pin_sessions, shadow)");
}

TEST(ConfigParse, RejectsUnknownTopLevelKey) {
  const std::string msg = errorOf(std::string(kMinimalModels) + "serverr: {}\n");
  EXPECT_EQ(msg,
            "config.yaml:6: unknown key 'serverr' at top level "
            "(known: server, providers, models, routes, ledger, limits, privacy, sessions)");
}

TEST(ConfigParse, RejectsUnknownKeyInsideNestedRetryBlock) {
  const std::string msg = errorOf(R"(providers:
  up:
    kind: openai
    base_url: "https://x.test"
    retry:
      max_attempts: 2
      backoff_ms: 5
models:
  m: {provider: up}
)");
  EXPECT_THAT(msg, StartsWith("config.yaml:7: unknown key 'backoff_ms' in providers.up.retry (known: max_attempts,"));
}

TEST(ConfigParse, RejectsUnknownServerKey) {
  EXPECT_THAT(errorOf(std::string(kMinimalModels) + "server:\n  threads: 2\n  thread: 3\n"),
              StartsWith("config.yaml:8: unknown key 'thread' in server (known: listen, threads,"));
}

TEST(ConfigParse, RejectsDuplicateKeyWithLineOfSecondOccurrence) {
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "server:\n  threads: 2\n  threads: 3\n"),
            "config.yaml:8: duplicate key 'threads' in server");
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "models:\n  other: {provider: up}\n"),
            "config.yaml:6: duplicate key 'models' at top level");
}

TEST(ConfigParse, RejectsBaseUrlWithoutHttpScheme) {
  EXPECT_EQ(errorOf(R"(providers:
  local: {kind: openai, base_url: "http://127.0.0.1:8000/v1"}
  other: {kind: replay, data: x.jsonl}
  openai: {kind: openai, base_url: "api.openai.com/v1"}
models:
  m: {provider: openai}
)"),
            "config.yaml:4: providers.openai.base_url: must start with http:// or https://");
}

TEST(ConfigParse, RejectsBaseUrlWithoutHost) {
  EXPECT_EQ(errorOf("providers:\n  up: {kind: openai, base_url: \"https://\"}\nmodels:\n  m: {provider: up}\n"),
            "config.yaml:2: providers.up.base_url: has no host after the scheme");
}

TEST(ConfigParse, RejectsOpenAIProviderWithoutBaseUrl) {
  EXPECT_EQ(errorOf("providers:\n  o: {kind: openai}\nmodels:\n  m: {provider: o}\n"),
            "config.yaml:2: providers.o: missing required key 'base_url' for kind openai");
}

TEST(ConfigParse, AnthropicProviderDefaultsToTheAnthropicApi) {
  auto cfg = parse("providers:\n  a:\n    kind: anthropic\n    api_key: k\nmodels:\n  m: {provider: a}\n");
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->providers.at("a").base_url, "https://api.anthropic.com");
}

TEST(ConfigParse, RejectsProviderWithoutKindOrWithUnknownKind) {
  EXPECT_EQ(errorOf("providers:\n  up:\n    base_url: \"https://x.test\"\nmodels:\n  m: {provider: up}\n"),
            "config.yaml:2: providers.up: missing required key 'kind' (openai, anthropic, replay)");
  EXPECT_EQ(errorOf("providers:\n  up:\n    kind: vllm\nmodels:\n  m: {provider: up}\n"),
            "config.yaml:3: providers.up.kind: must be one of openai, anthropic, replay; got 'vllm'");
}

TEST(ConfigParse, RejectsReplayProviderWithoutData) {
  EXPECT_EQ(errorOf("providers:\n  rp: {kind: replay}\nmodels:\n  m: {provider: rp}\n"),
            "config.yaml:2: providers.rp: missing required key 'data' (the replay outcomes file)");
}

TEST(ConfigParse, RejectsReplayOnlyKeyOnOpenAIProvider) {
  EXPECT_EQ(errorOf(R"(providers:
  up:
    kind: openai
    base_url: "https://x.test"
    latency_ms: 5
models:
  m: {provider: up}
)"),
            "config.yaml:5: providers.up: 'latency_ms' is not valid for kind openai (only for replay)");
}

TEST(ConfigParse, RejectsHttpOnlyKeyOnReplayProvider) {
  EXPECT_EQ(errorOf(R"(providers:
  rp:
    kind: replay
    data: x.jsonl
    base_url: "https://x.test"
models:
  m: {provider: rp}
)"),
            "config.yaml:5: providers.rp: 'base_url' is not valid for kind replay (only for openai and anthropic)");
}

TEST(ConfigParse, RejectsInvalidLocality) {
  EXPECT_EQ(errorOf("providers:\n  up: {kind: replay, data: x, locality: cloud}\nmodels:\n  m: {provider: up}\n"),
            "config.yaml:2: providers.up.locality: must be one of remote, on_prem; got 'cloud'");
}

TEST(ConfigParse, RejectsInvalidHeaderNameAndLineBreakInHeaderValue) {
  EXPECT_EQ(errorOf(R"(providers:
  up:
    kind: openai
    base_url: "https://x.test"
    headers:
      "Bad Header": x
models:
  m: {provider: up}
)"),
            "config.yaml:6: providers.up.headers.Bad Header: not a valid HTTP header name");
  EXPECT_EQ(errorOf(R"(providers:
  up:
    kind: openai
    base_url: "https://x.test"
    headers:
      X-Ok: "a\r\nX-Injected: b"
models:
  m: {provider: up}
)"),
            "config.yaml:6: providers.up.headers.X-Ok: must not contain line breaks");
}

TEST(ConfigParse, RejectsHeaderGivenTwiceInDifferentCase) {
  EXPECT_EQ(errorOf(R"(providers:
  up:
    kind: openai
    base_url: "https://x.test"
    headers:
      X-Team: a
      x-team: b
models:
  m: {provider: up}
)"),
            "config.yaml:7: providers.up.headers.x-team: header given twice (names are case-insensitive)");
}

TEST(ConfigParse, RejectsMaxBackoffBelowBaseBackoff) {
  EXPECT_EQ(errorOf(R"(providers:
  up:
    kind: replay
    data: x
    retry:
      base_backoff_ms: 500
      max_backoff_ms: 100
models:
  m: {provider: up}
)"),
            "config.yaml:7: providers.up.retry: max_backoff_ms (100) must be >= base_backoff_ms (500)");
}

TEST(ConfigParse, RejectsZeroRetryAttemptsAndZeroBreakerThreshold) {
  EXPECT_EQ(
      errorOf("providers:\n  up: {kind: replay, data: x, retry: {max_attempts: 0}}\nmodels:\n  m: {provider: up}\n"),
      "config.yaml:2: providers.up.retry.max_attempts: must be >= 1, got 0");
  EXPECT_EQ(errorOf("providers:\n  up:\n    kind: replay\n    data: x\n    breaker:\n      failure_threshold: 0\n"
                    "models:\n  m: {provider: up}\n"),
            "config.yaml:6: providers.up.breaker.failure_threshold: must be >= 1, got 0");
}

TEST(ConfigParse, RejectsModelWithUnknownProvider) {
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "  third:\n    provider: nope\n"),
            "config.yaml:7: models.third.provider: unknown provider 'nope'");
}

TEST(ConfigParse, RejectsModelWithoutProvider) {
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "  third: {id: x}\n"),
            "config.yaml:6: models.third: missing required key 'provider'");
}

TEST(ConfigParse, RejectsNegativePriceAndZeroMaxOutputTokens) {
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "  third: {provider: up, input_usd_per_mtok: -1}\n"),
            "config.yaml:6: models.third.input_usd_per_mtok: must be >= 0, got -1");
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "  third: {provider: up, max_output_tokens: 0}\n"),
            "config.yaml:6: models.third.max_output_tokens: must be >= 1, got 0");
}

TEST(ConfigParse, RejectsConfigWithoutModels) {
  EXPECT_EQ(errorOf("server: {threads: 1}\n"), "config.yaml:1: models: at least one model is required");
  EXPECT_EQ(errorOf("server: {threads: 1}\nmodels: {}\n"), "config.yaml:2: models: at least one model is required");
  EXPECT_EQ(errorOf(""), "config.yaml:1: models: at least one model is required");
}

TEST(ConfigParse, RejectsRouteCandidateThatIsNotAModel) {
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "routes:\n  auto:\n    candidates:\n      - small\n      - gpt-5\n"),
            "config.yaml:10: routes.auto.candidates[1]: unknown model 'gpt-5'");
}

TEST(ConfigParse, RejectsDuplicateCandidate) {
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "routes:\n  auto:\n    candidates: [small, big, small]\n"),
            "config.yaml:8: routes.auto.candidates[2]: model 'small' is listed twice");
}

TEST(ConfigParse, RejectsMissingOrEmptyCandidates) {
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "routes:\n  auto:\n    policy: cheapest\n"),
            "config.yaml:7: routes.auto: missing required key 'candidates'");
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "routes:\n  auto:\n    candidates: []\n"),
            "config.yaml:8: routes.auto.candidates: must list at least one model");
}

TEST(ConfigParse, RejectsUnknownReferenceAndFallbackModels) {
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "routes:\n  auto:\n    candidates: [small]\n    reference: huge\n"),
            "config.yaml:9: routes.auto.reference: unknown model 'huge'");
  EXPECT_EQ(
      errorOf(std::string(kMinimalModels) + "routes:\n  auto:\n    candidates: [small]\n    fallback: [big, huge]\n"),
      "config.yaml:9: routes.auto.fallback[1]: unknown model 'huge'");
}

TEST(ConfigParse, RejectsRouteNamedLikeAModel) {
  EXPECT_EQ(
      errorOf(std::string(kMinimalModels) + "routes:\n  auto: {candidates: [small]}\n  big: {candidates: [small]}\n"),
      "config.yaml:8: routes.big: route name 'big' is also a model name");
}

TEST(ConfigParse, LeavesPolicyNameToTheRoutingLayer) {
  auto cfg = parse(std::string(kMinimalModels) + "routes:\n  auto: {candidates: [small], policy: no-such-policy}\n");
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->routes.at("auto").policy, "no-such-policy");
}

TEST(ConfigParse, AcceptsQualityInHalfOpenUnitIntervalOnly) {
  auto one = parse(std::string(kMinimalModels) + "routes:\n  auto: {candidates: [small], quality: 1}\n");
  ASSERT_TRUE(one) << one.error().message;
  EXPECT_DOUBLE_EQ(*one->routes.at("auto").quality, 1.0);
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "routes:\n  auto: {candidates: [small], quality: 0}\n"),
            "config.yaml:7: routes.auto.quality: must be in (0, 1], got 0");
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "routes:\n  auto: {candidates: [small], quality: 1.5}\n"),
            "config.yaml:7: routes.auto.quality: must be in (0, 1], got 1.5");
}

TEST(ConfigParse, RejectsListWhereNumberIsExpected) {
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "server:\n  threads: [1, 2]\n"),
            "config.yaml:7: server.threads: expected an integer, got a list");
}

TEST(ConfigParse, RejectsTextWhereIntegerIsExpected) {
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "server:\n  max_connections: abc\n"),
            "config.yaml:7: server.max_connections: expected an integer, got 'abc'");
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "server:\n  threads: 1.5\n"),
            "config.yaml:7: server.threads: expected an integer, got '1.5'");
}

TEST(ConfigParse, RejectsNegativeSizesAndTimeouts) {
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "server:\n  max_body_bytes: -1\n"),
            "config.yaml:7: server.max_body_bytes: must be >= 1, got -1");
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "server:\n  drain_timeout_ms: -5\n"),
            "config.yaml:7: server.drain_timeout_ms: must be >= 0, got -5");
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "server:\n  threads: -1\n"),
            "config.yaml:7: server.threads: must be >= 0, got -1");
}

TEST(ConfigParse, RejectsOutOfRangeIntegers) {
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "server:\n  max_header_bytes: 4294967296\n"),
            "config.yaml:7: server.max_header_bytes: must be <= 4294967295, got 4294967296");
  EXPECT_THAT(errorOf(std::string(kMinimalModels) + "server:\n  max_body_bytes: 99999999999999999999\n"),
              StartsWith("config.yaml:7: server.max_body_bytes: integer '99999999999999999999' is out of range"));
}

TEST(ConfigParse, RejectsMapOrNullWhereStringIsExpected) {
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "  third: {provider: {name: up}}\n"),
            "config.yaml:6: models.third.provider: expected a string, got a map");
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "server:\n  log_level:\n\n\n"),
            "config.yaml:7: server.log_level: expected a string, got null (no value)");
}

TEST(ConfigParse, RejectsScalarWhereSectionIsExpected) {
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "routes: auto\n"),
            "config.yaml:6: routes: expected a map, got a scalar");
  EXPECT_EQ(errorOf("- a\n- b\n"), "config.yaml:1: expected a map, got a list");
}

TEST(ConfigParse, RejectsUnknownLogLevel) {
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "server: {log_level: verbose}\n"),
            "config.yaml:6: server.log_level: must be one of trace, debug, info, warn, error, off; got 'verbose'");
}

TEST(ConfigParse, ReportsYamlSyntaxErrorWithItsLine) {
  const std::string msg = errorOf(std::string(kMinimalModels) + "routes:\n  auto:\n    candidates: [small\n");
  EXPECT_THAT(msg, StartsWith("config.yaml:9: YAML syntax error: "));
  const std::string bad_indent = errorOf("server:\n  threads: 1\n    listen: x\n");
  EXPECT_THAT(bad_indent, StartsWith("config.yaml:3: YAML syntax error: "));
}

TEST(ConfigParse, RejectsMoreThanOneYamlDocument) {
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "---\nserver: {}\n"),
            "config.yaml:7: a config file holds one YAML document, found 2");
}

TEST(ConfigParse, ReadsLedgerAndLimitsKinds) {
  auto cfg = parse(std::string(kMinimalModels) +
                   "ledger: {kind: postgres, dsn: \"postgresql://db/rs\"}\nlimits: {kind: redis, url: "
                   "\"redis://127.0.0.1:6379\"}\n");
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->ledger.kind, LedgerKind::kPostgres);
  EXPECT_EQ(cfg->ledger.dsn, "postgresql://db/rs");
  EXPECT_EQ(cfg->limits.kind, LimitsKind::kRedis);
  EXPECT_EQ(cfg->limits.url, "redis://127.0.0.1:6379");
}

TEST(ConfigParse, ReadsTheResponseStoreOfTheLedger) {
  auto defaults = parse(kMinimalModels);
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_TRUE(defaults->ledger.store_responses);
  EXPECT_EQ(defaults->ledger.response_retention_days, 30);
  auto cfg = parse(std::string(kMinimalModels) + "ledger: {store_responses: false, response_retention_days: 7}\n");
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_FALSE(cfg->ledger.store_responses);
  EXPECT_EQ(cfg->ledger.response_retention_days, 7);
  EXPECT_NE(errorOf(std::string(kMinimalModels) + "ledger: {response_retention_days: 0}\n").find("ledger.response_retention_days"),
            std::string::npos);
}

TEST(ConfigParse, ReadsTheRetentionOfTheLedger) {
  auto defaults = parse(kMinimalModels);
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_EQ(defaults->ledger.retention_days, 90);
  auto cfg = parse(std::string(kMinimalModels) + "ledger: {retention_days: 7}\n");
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->ledger.retention_days, 7);
  auto keep_all = parse(std::string(kMinimalModels) + "ledger: {retention_days: 0}\n");
  ASSERT_TRUE(keep_all) << keep_all.error().message;
  EXPECT_EQ(keep_all->ledger.retention_days, 0);
  EXPECT_NE(errorOf(std::string(kMinimalModels) + "ledger: {retention_days: -1}\n").find("ledger.retention_days"),
            std::string::npos);
  EXPECT_NE(errorOf(std::string(kMinimalModels) + "ledger: {retention_days: 3d}\n").find("ledger.retention_days"),
            std::string::npos);
}

TEST(ConfigParse, RejectsInconsistentLedgerAndLimits) {
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "ledger: {kind: mysql}\n"),
            "config.yaml:6: ledger.kind: must be one of sqlite, postgres, off; got 'mysql'");
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "ledger:\n  kind: postgres\n"),
            "config.yaml:6: ledger: missing required key 'dsn' for kind postgres");
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "ledger:\n  kind: sqlite\n  dsn: x\n"),
            "config.yaml:8: ledger: 'dsn' is not valid for kind sqlite");
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "limits:\n  kind: redis\n"),
            "config.yaml:6: limits: missing required key 'url' for kind redis");
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "limits:\n  url: \"redis://h\"\n"),
            "config.yaml:7: limits: 'url' is only valid for kind redis");
  EXPECT_EQ(errorOf(std::string(kMinimalModels) + "limits:\n  kind: redis\n  url: \"http://h\"\n"),
            "config.yaml:8: limits.url: must start with redis:// or rediss://");
}

TEST(ConfigParse, ErrorsUseInvalidArgumentAndTheGivenSourceName) {
  auto cfg = parseConfig("bogus: 1\n", "/etc/rightsize/prod.yaml", testing::fakeEnv());
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(cfg.error().message, StartsWith("/etc/rightsize/prod.yaml:1: unknown key 'bogus'"));
}

TEST(ConfigParse, NamesProviderKinds) {
  EXPECT_STREQ(providerKindName(ProviderKind::kOpenAI), "openai");
  EXPECT_STREQ(providerKindName(ProviderKind::kAnthropic), "anthropic");
  EXPECT_STREQ(providerKindName(ProviderKind::kReplay), "replay");
}

}  // namespace
}  // namespace rightsize::config
