#include "config/config_builder.h"

#include <cctype>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "common/strings.h"

namespace rightsize::config::detail {
namespace {

// Keys that only make sense for an HTTP provider (openai, anthropic) or only for replay.
constexpr std::string_view kHttpOnlyProviderKeys[] = {"base_url", "api_key", "headers", "connect_timeout_ms",
                                                      "max_idle_connections", "tls_ca_file"};
constexpr std::string_view kReplayOnlyProviderKeys[] = {"data", "latency_ms", "chunk_interval_ms"};

// An HTTP header name is an RFC 9110 token.
bool isHeaderName(std::string_view name) {
  static constexpr std::string_view kTokenPunct = "!#$%&'*+-.^_`|~";
  if (name.empty()) return false;
  for (char ch : name) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (!std::isalnum(c) && kTokenPunct.find(ch) == std::string_view::npos) return false;
  }
  return true;
}

// Values that end up in an HTTP header line must not be able to start a new one.
bool hasLineBreakOrNul(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) != s.npos; }

}  // namespace

Status ConfigBuilder::readBaseUrl(const Entry& e, std::string_view path, std::string& out) const {
  if (auto st = readString(e, path, out); !st) return st;
  std::string_view rest;
  if (startsWith(out, "http://")) {
    rest = std::string_view(out).substr(7);
  } else if (startsWith(out, "https://")) {
    rest = std::string_view(out).substr(8);
  } else {
    return fail(errorAt(e.line, path, "must start with http:// or https://"));
  }
  if (rest.empty() || rest.front() == '/') return fail(errorAt(e.line, path, "has no host after the scheme"));
  if (hasWhitespace(out)) return fail(errorAt(e.line, path, "must not contain whitespace"));
  if (out.back() == '/') out.pop_back();
  return {};
}

// A string that is sent in an HTTP header, so it must not be able to start another header.
Status ConfigBuilder::readHeaderValue(const Entry& e, std::string_view path, std::string& out) const {
  auto st = readString(e, path, out);
  if (st && hasLineBreakOrNul(out)) return fail(errorAt(e.line, path, "must not contain line breaks"));
  return st;
}

Status ConfigBuilder::readHeaders(const Entry& e, const std::string& path, std::map<std::string, std::string>& out) const {
  auto entries = entriesOf(e.value, path, e.line, {});
  if (!entries) return fail(entries.error());
  std::set<std::string> seen_lower;  // header names are case-insensitive
  for (const Entry& h : *entries) {
    const std::string p = child(path, h.key);
    if (!isHeaderName(h.key)) return fail(errorAt(h.line, p, "not a valid HTTP header name"));
    if (!seen_lower.insert(toLower(h.key)).second) {
      return fail(errorAt(h.line, p, "header given twice (names are case-insensitive)"));
    }
    if (auto st = readHeaderValue(h, p, out[h.key]); !st) return st;
  }
  return {};
}

Status ConfigBuilder::readRetry(const Entry& section, const std::string& path, RetryConfig& r) const {
  const std::vector<Field> fields = {
      {"max_attempts", integer(r.max_attempts, 1, 100)},
      {"base_backoff_ms", millis(r.base_backoff, 0)},
      {"max_backoff_ms", millis(r.max_backoff, 0)},
      {"max_retry_after_ms", millis(r.max_retry_after, 0)},  // 0: never wait for Retry-After
  };
  auto entries = readSection(section, path, fields);
  if (!entries) return fail(entries.error());
  if (r.max_backoff < r.base_backoff) {
    const Entry* at = find(*entries, "max_backoff_ms");
    if (at == nullptr) at = find(*entries, "base_backoff_ms");  // defaults alone are consistent
    return fail(errorAt(at->line, path,
                        fmt::format("max_backoff_ms ({}) must be >= base_backoff_ms ({})", r.max_backoff.count(),
                                    r.base_backoff.count())));
  }
  return {};
}

Status ConfigBuilder::readBreaker(const Entry& section, const std::string& path, BreakerConfig& b) const {
  const std::vector<Field> fields = {
      {"failure_threshold", integer(b.failure_threshold, 1, 1'000'000)},
      {"open_for_ms", millis(b.open_for, 1)},
  };
  auto entries = readSection(section, path, fields);
  if (!entries) return fail(entries.error());
  return {};
}

Status ConfigBuilder::readProvider(const Entry& named, const std::string& path, ProviderConfig& pc) const {
  std::string kind;
  std::string locality = "remote";
  const std::vector<Field> fields = {
      {"kind", alreadyRead()},
      {"base_url", [&](const Entry& e, const std::string& p) { return readBaseUrl(e, p, pc.base_url); }},
      {"api_key", [&](const Entry& e, const std::string& p) { return readHeaderValue(e, p, pc.api_key); }},
      {"locality", oneOf(locality, {"remote", "on_prem"})},
      {"headers", [&](const Entry& e, const std::string& p) { return readHeaders(e, p, pc.headers); }},
      {"tls_ca_file", filePath(pc.tls_ca_file)},
      {"connect_timeout_ms", millis(pc.connect_timeout, 1)},
      {"first_byte_timeout_ms", millis(pc.first_byte_timeout, 1)},
      {"idle_timeout_ms", millis(pc.idle_timeout, 1)},
      {"max_idle_connections", integer(pc.max_idle_connections, 0, kMaxUint32)},  // 0: no keep-alive pool
      {"max_response_bytes", integer(pc.max_response_bytes, 1, kMaxInt64)},
      {"retry", [&](const Entry& e, const std::string& p) { return readRetry(e, p, pc.retry); }},
      {"breaker", [&](const Entry& e, const std::string& p) { return readBreaker(e, p, pc.breaker); }},
      {"data", filePath(pc.data)},
      {"latency_ms", millis(pc.replay_latency, 0)},
      {"chunk_interval_ms", millis(pc.replay_chunk_interval, 0)},
  };
  auto entries = entriesOf(named.value, path, named.line, keysOf(fields));
  if (!entries) return fail(entries.error());

  const Entry* kind_entry = find(*entries, "kind");
  if (kind_entry == nullptr) {
    return fail(errorAt(named.line, path, "missing required key 'kind' (openai, anthropic, replay)"));
  }
  if (auto st = readEnum(*kind_entry, child(path, "kind"), {"openai", "anthropic", "replay"}, kind); !st) return st;
  pc.kind = kind == "openai"      ? ProviderKind::kOpenAI
            : kind == "anthropic" ? ProviderKind::kAnthropic
                                  : ProviderKind::kReplay;
  const bool replay = pc.kind == ProviderKind::kReplay;
  const Keys foreign = replay ? Keys(kHttpOnlyProviderKeys) : Keys(kReplayOnlyProviderKeys);
  for (const Entry& e : *entries) {
    if (contains(foreign, e.key)) {
      return fail(errorAt(e.line, path,
                          fmt::format("'{}' is not valid for kind {} (only for {})", e.key, kind,
                                      replay ? "openai and anthropic" : "replay")));
    }
  }

  if (auto st = readEntries(*entries, path, fields); !st) return st;
  pc.locality = locality == "on_prem" ? Locality::kOnPrem : Locality::kRemote;
  if (replay && pc.data.empty()) {
    return fail(errorAt(named.line, path, "missing required key 'data' (the replay outcomes file)"));
  }
  if (pc.kind == ProviderKind::kAnthropic && pc.base_url.empty()) pc.base_url = "https://api.anthropic.com";
  if (!replay && pc.base_url.empty()) {
    return fail(errorAt(named.line, path, fmt::format("missing required key 'base_url' for kind {}", kind)));
  }
  return {};
}

Status ConfigBuilder::readProviders(const Entry& section, const std::string& path, Config& cfg) const {
  return forEachNamed(section, path, [&](const Entry& n, const std::string& np) -> Status {
    ProviderConfig pc;
    pc.name = n.key;
    if (auto st = readProvider(n, np, pc); !st) return st;
    cfg.providers.emplace(n.key, std::move(pc));
    return {};
  });
}

Status ConfigBuilder::readModel(const Entry& named, const std::string& path, const Config& cfg, ModelConfig& m) const {
  double input = 0, output = 0;
  std::optional<double> cached, cache_write;
  const auto read_provider = [&](const Entry& e, const std::string& p) -> Status {
    if (auto st = readNonEmptyString(e, p, m.provider); !st) return st;
    return checkProviderExists(cfg, m.provider, e.line, p);
  };
  const auto read_max_output = [&](const Entry& e, const std::string& p) -> Status {
    auto v = parseInt(e, p, 1, kMaxUint32);
    if (!v) return fail(v.error());
    m.max_output_tokens = static_cast<uint32_t>(*v);
    return {};
  };
  const std::vector<Field> fields = {
      {"provider", read_provider},
      {"id", nonEmptyText(m.id)},
      {"input_usd_per_mtok", price(input)},
      {"cached_input_usd_per_mtok", price(cached)},
      {"cache_write_usd_per_mtok", price(cache_write)},
      {"output_usd_per_mtok", price(output)},
      {"max_output_tokens", read_max_output},
  };
  auto entries = readSection(named, path, fields);
  if (!entries) return fail(entries.error());
  if (m.provider.empty()) return fail(errorAt(named.line, path, "missing required key 'provider'"));
  // Unset cache prices follow the input price: a cache read at the input price (providers
  // without caching), a cache write at 1.25 × (Anthropic's 5-minute cache).
  m.prices.input = TokenPrice::fromUsdPerMtok(input);
  m.prices.cached_input = TokenPrice::fromUsdPerMtok(cached.value_or(input));
  m.prices.cache_write = TokenPrice::fromUsdPerMtok(cache_write.value_or(input * 1.25));
  m.prices.output = TokenPrice::fromUsdPerMtok(output);
  return {};
}

Status ConfigBuilder::readModels(const Entry& section, const std::string& path, Config& cfg) const {
  return forEachNamed(section, path, [&](const Entry& n, const std::string& np) -> Status {
    ModelConfig m;
    m.name = n.key;
    m.id = n.key;
    if (auto st = readModel(n, np, cfg, m); !st) return st;
    cfg.models.emplace(n.key, std::move(m));
    return {};
  });
}

// The model names of a list, each checked to exist and to appear once.
Status ConfigBuilder::readModelList(const Entry& e, std::string_view path, const Config& cfg, std::vector<std::string>& out) const {
  if (!e.value.IsSequence()) {
    return fail(errorAt(e.line, path, fmt::format("expected a list of model names, got {}", describeNode(e.value))));
  }
  std::set<std::string> seen;
  size_t index = 0;
  for (auto it = e.value.begin(); it != e.value.end(); ++it) {
    const YAML::Node item = *it;
    const std::string item_path = fmt::format("{}[{}]", path, index++);
    const int line = lineOf(item);
    auto name = scalarText(item, line, item_path, "a model name");
    if (!name) return fail(name.error());
    if (auto st = checkModelExists(cfg, *name, line, item_path); !st) return st;
    if (!seen.insert(*name).second) {
      return fail(errorAt(line, item_path, fmt::format("model '{}' is listed twice", *name)));
    }
    out.push_back(std::move(*name));
  }
  return {};
}

}  // namespace rightsize::config::detail
