#pragma once
// The validated configuration: plain structs built from YAML by loadConfig().
// Immutable after load; shared as std::shared_ptr<const Config>.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/money.h"
#include "common/result.h"

namespace rightsize::config {

using Millis = std::chrono::milliseconds;

struct ServerConfig {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8080;            // 0 = pick a free port (tests); the bound port is logged
  int threads = 0;                        // 0 = one per core
  uint64_t max_body_bytes = 8 * 1024 * 1024;
  uint32_t max_header_bytes = 16 * 1024;
  Millis header_timeout{10'000};          // whole request head must arrive within this
  Millis read_timeout{30'000};            // whole request body must arrive within this
  Millis idle_timeout{60'000};            // keep-alive connection with no request
  Millis write_timeout{30'000};           // one write to a slow reader
  Millis drain_timeout{30'000};           // SIGTERM: in-flight requests get this long
  uint32_t max_connections = 10'000;      // over this, new connections are closed at once
  std::string log_level = "info";         // trace|debug|info|warn|error|off
  // Shadow evaluation (docs/shadow.md): jobs waiting for the yardstick, over every route; a job
  // that finds the queue full is dropped and counted (rightsize_shadow_total{result="dropped"}).
  uint32_t shadow_queue = 256;
};

enum class ProviderKind { kOpenAI, kAnthropic, kReplay };
enum class Locality { kRemote, kOnPrem };
enum class LedgerKind { kSqlite, kPostgres, kOff };
enum class LimitsKind { kMemory, kRedis };

struct RetryConfig {
  int max_attempts = 3;                   // per provider, including the first try
  Millis base_backoff{100};               // exponential with full jitter
  Millis max_backoff{2'000};
  Millis max_retry_after{10'000};         // a longer Retry-After is not waited for: go to fallback
};

struct BreakerConfig {
  int failure_threshold = 5;              // consecutive failures that open the circuit
  Millis open_for{30'000};                // then one half-open probe is let through
};

struct ProviderConfig {
  std::string name;
  ProviderKind kind = ProviderKind::kOpenAI;
  std::string base_url;                   // openai: ".../v1"; anthropic: "https://api.anthropic.com"
  std::string api_key;                    // after ${VAR} expansion; never logged
  Locality locality = Locality::kRemote;
  std::map<std::string, std::string> headers;  // extra headers sent upstream
  std::string tls_ca_file;                // https: extra CA certificates (PEM) to trust, e.g. a private CA
  Millis connect_timeout{5'000};
  Millis first_byte_timeout{60'000};      // request sent -> response head
  Millis idle_timeout{60'000};            // gap between body bytes (streaming)
  uint32_t max_idle_connections = 64;     // keep-alive pool size per host
  uint64_t max_response_bytes = 64 * 1024 * 1024;
  RetryConfig retry;
  BreakerConfig breaker;
  // replay only
  std::string data;                       // outcomes file (.jsonl or .jsonl.gz)
  Millis replay_latency{0};               // simulated time to first byte
  Millis replay_chunk_interval{0};        // simulated gap between streamed chunks
};

struct ModelConfig {
  std::string name;                       // the name clients and the ledger use
  std::string provider;                   // key into Config::providers
  std::string id;                         // the provider's model id (sent upstream)
  // input_usd_per_mtok, cached_input_usd_per_mtok (default: the input price),
  // cache_write_usd_per_mtok (default: 1.25 × input, Anthropic's cache creation), output_usd_per_mtok.
  Prices prices;
  std::optional<uint32_t> max_output_tokens;  // cap applied on the way out (optional)
};

// One check of a cascade (policy: cascade). Where a check was written, for the messages of
// the routing layer, which compiles patterns and schemas.
struct CascadeCheck {
  enum class Kind { kJsonSchema, kRegex, kNotRefusal, kLogprob, kJudge };
  Kind kind = Kind::kNotRefusal;
  int line = 0;
  std::string schema;                     // json_schema: schema JSON text; empty = the request's response_format
                                          // json_schema if any, else "the answer is a JSON value"
  std::string pattern;                    // regex: RE2 pattern that must match somewhere in the answer
  double min_mean_logprob = -1.0;         // logprob: mean token logprob must be >= this (<= 0)
  std::string judge_model;                // judge: a configured model name
  double min_score = 0.7;                 // judge: score in [0, 1] must be >= this
};

// One stage of a staged cascade (cascade.stages). `model`: one model, accepted when its answer
// passes the route's checks. `agree`: the models are asked in parallel and an answer is accepted
// when at least min_votes of them agree on the value `extract` reads from it (routing/extract.h;
// the spec is compiled, and rejected with this line, by the routing layer).
struct CascadeStage {
  enum class Kind { kModel, kAgree };
  Kind kind = Kind::kModel;
  std::vector<std::string> models;        // model: exactly one; agree: two or more, cheapest first
  uint32_t min_votes = 2;                 // agree: 1..models.size()
  std::string extract;                    // agree: extractor spec
  int line = 0;
};

// Learned pre-routing of a staged cascade (cascade.pre_route): a router's pass probabilities let
// a request skip stages (routing/cascade_plan.h, decidePreRoute). Thresholds are probabilities in
// [0, 1]; absent = that branch is off; direct_above > escalate_below when both are given.
struct CascadePreRoute {
  std::string router;                     // path to the router file (resolved like learned routes')
  std::optional<double> direct_above;     // the first stage's cheapest model alone when p >= this
  std::optional<double> escalate_below;   // straight to the last stage when every earlier p < this
  int line = 0;
};

struct CascadeConfig {
  std::vector<CascadeCheck> checks;       // all must pass; empty = "not a refusal"
  uint32_t max_attempts = 0;              // 0 = every candidate (and fallback) may be tried
  // When non-empty, the cascade runs these stages in order instead of the candidates cheapest
  // first; every stage model must be a candidate of the route. max_attempts does not apply.
  std::vector<CascadeStage> stages;
  std::optional<CascadePreRoute> pre_route;  // only with stages
};

// policy: rules. Every present condition must hold.
struct RuleMatch {
  std::map<std::string, std::string> metadata;  // body metadata.<key> == value ("*" = present)
  std::map<std::string, std::string> headers;   // lower-case header name == value ("*" = present)
  std::optional<std::string> user;        // body "user" == value ("*" = present)
  std::optional<bool> sensitive;          // the request is sensitive (flagged, or PII detected)
  std::optional<int64_t> min_tokens;      // estimated prompt tokens >= this
  std::optional<int64_t> max_tokens;      // estimated prompt tokens <= this
  std::string ask;                        // RE2 pattern searched in the human's ask
};

struct RouteRule {
  RuleMatch when;
  std::string model;                      // a candidate of the route, or
  std::string route;                      // another route (not itself a rules route)
  int line = 0;                           // where the rule starts, for messages
};

// Caps applied to the request on its way to one model.
struct BudgetCaps {
  std::optional<int64_t> max_completion_tokens;  // lowers max_completion_tokens/max_tokens, adds one if absent
  std::string reasoning_effort;           // "", minimal, low, medium, high: lowers a higher one, adds one if absent
};

struct PrivacyConfig {
  bool pii_detection = true;              // scan requests for personal data (routes may override)
  std::vector<std::string> kinds;         // detector kinds to use; empty = all
};

struct SessionsConfig {
  Millis ttl{30 * 60 * 1000};             // a pin lives this long after its last use
  bool use_openai_user = false;           // the body's "user" field names a session when no other does
  uint32_t max_entries = 100'000;         // memory store bound (least recently used go first)
};

// How a shadowed answer is graded against the yardstick's (docs/shadow.md). `agree`: the two
// answers agree when `extract` (routing/extract.h; compiled, and rejected with this line, by the
// routing layer) reads the same value from both. `judge`: judge_model scores each answer 0-10.
struct ShadowGradeConfig {
  enum class Kind { kAgree, kJudge };
  Kind kind = Kind::kAgree;
  std::string extract = "text";           // agree: extractor spec
  std::string judge_model;                // judge: a configured model name
  int line = 0;
};

// routes.<name>.shadow: a share of a route's answered requests re-asked of a yardstick model
// after the client was answered, and graded (docs/shadow.md).
struct ShadowConfig {
  double sample = 0;                      // share of eligible requests shadowed, in [0, 1]
  std::string model;                      // the yardstick; default: the route's reference
  ShadowGradeConfig grade;
  Nanos usd_per_day = 0;                  // shadow spend cap per UTC day (yardstick + judge calls); 0: none allowed
  int line = 0;
};

struct RouteConfig {
  std::string name;
  std::vector<std::string> candidates;    // model names, non-empty
  std::string policy = "fixed";           // a registered policy name (fixed, cheapest, learned, ...)
  std::string router;                     // learned: path to the router file
  std::optional<double> quality;          // learned: target in (0, 1]
  std::string reference;                  // model savings are measured against; default: last candidate
  std::vector<std::string> fallback;      // tried in order after the chosen model fails
  // Policy-specific and per-route settings (docs/routing-policies.md).
  CascadeConfig cascade;                  // policy cascade: the checks an answer must pass
  std::vector<RouteRule> rules;           // policy rules: first match wins
  BudgetCaps budget;                      // caps for every candidate of this route
  std::map<std::string, BudgetCaps> model_budgets;  // per-model caps (override `budget` key by key)
  std::optional<bool> pii_detection;      // overrides privacy.pii_detection for this route
  bool pin_sessions = true;               // session pinning (sessions.*) applies to this route
  std::optional<ShadowConfig> shadow;     // shadow evaluation; none: this route is not shadowed
};

struct LedgerConfig {
  LedgerKind kind = LedgerKind::kSqlite;
  std::string path = "rightsize.db";
  std::string dsn;
  bool store_prompts = false;             // store the human's ask with each row (privacy: off)
  // Where rows the database cannot take go, replayed at the next start. Empty: "<path>.spill.jsonl"
  // for sqlite, "rightsize-ledger.spill.jsonl" beside the config for postgres. Give each replica
  // on one host its own.
  std::string spill_path;
  // POST /v1/responses answers kept for previous_response_id and GET /v1/responses/{id}, in this
  // database (docs/responses.md). Off, or with the ledger off, `previous_response_id` is a 400.
  bool store_responses = true;
  int64_t response_retention_days = 30;   // stored responses older than this are deleted
  // Request rows of whole UTC days older than this are rolled up into request_rollups (report
  // totals, spend, savings and model mix stay true) and deleted, at start and every hour
  // (docs/ledger.md "Retention"). 0 keeps every row.
  int64_t retention_days = 90;
};

struct LimitsConfig {
  LimitsKind kind = LimitsKind::kMemory;
  std::string url;
  // memory: where virtual keys are stored (resolved against the config file's directory).
  std::string keys_file = "rightsize-keys.json";
  // Redis unreachable: "open" admits requests without counting them; "closed" answers 503.
  std::string on_error = "open";
  Millis timeout{250};                    // redis: connect and per-command timeout
};

struct Config {
  ServerConfig server;
  std::map<std::string, ProviderConfig> providers;
  std::map<std::string, ModelConfig> models;
  std::map<std::string, RouteConfig> routes;
  LedgerConfig ledger;
  LimitsConfig limits;
  PrivacyConfig privacy;
  SessionsConfig sessions;
  std::string source;                     // file name or "<embedded defaults>", for messages
};

// Looks up an environment variable; returns nullopt when unset. Injected so tests need
// no real environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup processEnv();

// Parses and validates YAML text. `source` names it in error messages.
// Errors (kInvalidArgument) name the source and line: "config.yaml:12: unknown key 'polcy' in routes.auto".
// Checks: unknown keys, types and ranges, ${VAR} defined, every model's provider exists, every
// route candidate/fallback/reference is a model, route names don't collide with model names,
// replay providers have `data`, openai/anthropic have base_url with http:// or https://.
// Relative paths (replay data, router, sqlite path) are resolved against `base_dir` when non-empty.
Result<Config> parseConfig(const std::string& yaml_text, const std::string& source, const EnvLookup& env,
                           const std::string& base_dir = "");

// Reads `path` and parses it; relative paths inside resolve against the file's directory.
Result<Config> loadConfigFile(const std::string& path, const EnvLookup& env);

// The built-in defaults `rightsize serve` runs with when no --config is given: listen on
// 127.0.0.1:8080, the replay provider over the shipped MT-Bench answers, routes `auto`
// (learned, with the router the build trains on those answers), `cheap` (cheapest) and
// `best` (fixed), SQLite ledger, in-memory limits. `data_dir` holds replay/ and routers/.
Result<Config> embeddedDefaults(const std::string& data_dir);

const char* providerKindName(ProviderKind k);
const char* ledgerKindName(LedgerKind k);  // sqlite | postgres | off
const char* limitsKindName(LimitsKind k);  // memory | redis

}  // namespace rightsize::config
