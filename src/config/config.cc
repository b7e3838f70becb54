#include "config/config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <span>
#include <sstream>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "common/strings.h"

namespace rightsize::config {
namespace {

// Every duration fits an int32 of milliseconds (~24.8 days): generous for any timeout, and
// safe to hand to timers, sockets and arithmetic on time points without overflow.
constexpr int64_t kMaxMillis = std::numeric_limits<int32_t>::max();
constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();
constexpr int64_t kMaxUint32 = std::numeric_limits<uint32_t>::max();
// Prices become integer nano-dollars per million tokens (common/money.h); this bound keeps them, and
// their products with token counts, far from int64 / int128 overflow.
constexpr double kMaxUsdPerMtok = 1'000'000;

constexpr const char* kEmbeddedSource = "<embedded defaults>";
constexpr const char* kDataDirVariable = "RIGHTSIZE_DATA_DIR";

// Parsed through parseConfig like any file, so the defaults obey every rule a user's file does.
// ${RIGHTSIZE_DATA_DIR} is supplied by embeddedDefaults() itself, never by the process environment.
constexpr const char* kEmbeddedYaml = R"yaml(server:
  listen: "127.0.0.1:8080"
providers:
  replay:
    kind: replay
    data: "${RIGHTSIZE_DATA_DIR}/replay/mt_bench_replay.jsonl.gz"
models:
  gpt-4:
    provider: replay
    id: gpt-4-1106-preview
    input_usd_per_mtok: 10
    output_usd_per_mtok: 30
  mixtral-8x7b:
    provider: replay
    id: mistralai/Mixtral-8x7B-Instruct-v0.1
    input_usd_per_mtok: 0.6
    output_usd_per_mtok: 0.6
routes:
  auto:
    policy: learned
    router: "${RIGHTSIZE_DATA_DIR}/routers/mt_bench.rsr"
    quality: 0.95
    candidates: [mixtral-8x7b, gpt-4]
    reference: gpt-4
    fallback: [gpt-4]
  cheap:
    policy: cheapest
    candidates: [mixtral-8x7b, gpt-4]
    reference: gpt-4
    fallback: [gpt-4]
  best:
    policy: fixed
    candidates: [gpt-4]
ledger:
  kind: sqlite
  path: rightsize.db
limits:
  kind: memory
)yaml";

using Status = Result<void>;
using Keys = std::span<const std::string_view>;
// Values an enumerated key accepts. Owned (not an initializer_list) so readers may keep it.
using Choices = std::vector<std::string_view>;

// Keys that only make sense for an HTTP provider (openai, anthropic) or only for replay.
constexpr std::string_view kHttpOnlyProviderKeys[] = {"base_url", "api_key", "headers", "connect_timeout_ms",
                                                      "max_idle_connections", "tls_ca_file"};
constexpr std::string_view kReplayOnlyProviderKeys[] = {"data", "latency_ms", "chunk_interval_ms"};

template <typename Range>
bool contains(const Range& keys, std::string_view key) {
  for (std::string_view k : keys)
    if (k == key) return true;
  return false;
}

template <typename Range>
std::string joinKeys(const Range& keys) {
  std::string out;
  for (std::string_view k : keys) {
    if (!out.empty()) out += ", ";
    out += k;
  }
  return out;
}

const char* describeNode(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Null: return "null (no value)";
    case YAML::NodeType::Undefined: return "nothing";
  }
  return "nothing";
}

// 1-based line of `node`; nodes without a position (an empty document) count as line 1.
int lineOf(const YAML::Node& node) {
  const int line = node.Mark().line;
  return line < 0 ? 1 : line + 1;
}

// One key/value pair of a YAML mapping. `line` is where the key was written: a value's own
// mark can point past blank lines (an empty value) so the key's line is what users recognise.
struct Entry {
  std::string key;
  YAML::Node value;
  int line = 1;
};

bool isVariableName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    const bool ok = c == '_' || std::isalpha(c) || (i > 0 && std::isdigit(c));
    if (!ok) return false;
  }
  return true;
}

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

bool hasWhitespace(std::string_view s) {
  for (char c : s)
    if (std::isspace(static_cast<unsigned char>(c))) return true;
  return false;
}

bool startsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Reads one key's value into its destination; `path` names the key in messages ("server.threads").
using FieldReader = std::function<Status(const Entry& e, const std::string& path)>;

// One key a section accepts and how its value is read. A section's table is also its list of
// known keys, in the order messages list them.
struct Field {
  std::string_view key;
  FieldReader read;
};

// Builds a Config from a parsed YAML tree. Each method validates one section and fails with
// the first problem found, as "<source>:<line>: <what and where>".
class ConfigBuilder {
 public:
  ConfigBuilder(const std::string& source, const EnvLookup& env, const std::string& base_dir)
      : source_(source), env_(env), base_dir_(base_dir) {}

  Result<Config> build(const YAML::Node& root) {
    Config cfg;
    cfg.source = source_;
    // Table order is also the reading order, whatever the file's order: models need
    // providers, routes need models.
    const std::vector<Field> sections = {
        {"server", [&](const Entry& e, const std::string& p) { return readServer(e, p, cfg.server); }},
        {"providers", [&](const Entry& e, const std::string& p) { return readProviders(e, p, cfg); }},
        {"models", [&](const Entry& e, const std::string& p) { return readModels(e, p, cfg); }},
        {"routes", [&](const Entry& e, const std::string& p) { return readRoutes(e, p, cfg); }},
        {"ledger", [&](const Entry& e, const std::string& p) { return readLedger(e, p, cfg.ledger); }},
        {"limits", [&](const Entry& e, const std::string& p) { return readLimits(e, p, cfg.limits); }},
        {"privacy", [&](const Entry& e, const std::string& p) { return readPrivacy(e, p, cfg.privacy); }},
        {"sessions", [&](const Entry& e, const std::string& p) { return readSessions(e, p, cfg.sessions); }},
    };
    auto top = entriesOf(root, "", lineOf(root), keysOf(sections));
    if (!top) return fail(top.error());
    for (const Field& section : sections) {
      if (const Entry* e = find(*top, section.key)) {
        if (auto st = section.read(*e, e->key); !st) return fail(st.error());
      }
    }
    if (cfg.models.empty()) {
      const Entry* models = find(*top, "models");
      return fail(errorAt(models ? models->line : 1, "models", "at least one model is required"));
    }
    // Also applied to the default path, so a config file's ledger lives beside it either way.
    if (cfg.ledger.kind == LedgerKind::kSqlite && cfg.ledger.path != ":memory:") cfg.ledger.path = resolvePath(cfg.ledger.path);
    if (cfg.ledger.kind == LedgerKind::kPostgres && cfg.ledger.spill_path.empty()) cfg.ledger.spill_path = "rightsize-ledger.spill.jsonl";
    if (!cfg.ledger.spill_path.empty()) cfg.ledger.spill_path = resolvePath(cfg.ledger.spill_path);
    cfg.limits.keys_file = resolvePath(cfg.limits.keys_file);
    return cfg;
  }

 private:
  Error errorAt(int line, std::string_view path, std::string_view what) const {
    std::string msg = fmt::format("{}:{}: ", source_, line);
    if (!path.empty()) msg += fmt::format("{}: ", path);
    msg += what;
    return Error{ErrorCode::kInvalidArgument, std::move(msg)};
  }

  static std::string child(std::string_view path, std::string_view key) {
    return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
  }

  static std::vector<std::string_view> keysOf(const std::vector<Field>& fields) {
    std::vector<std::string_view> keys;
    for (const Field& f : fields) keys.push_back(f.key);
    return keys;
  }

  static const Entry* find(const std::vector<Entry>& entries, std::string_view key) {
    for (const Entry& e : entries)
      if (e.key == key) return &e;
    return nullptr;
  }

  // The entries of a mapping in document order. A null node (a key with no value) is an empty
  // mapping. Fails on anything else that is not a mapping, on non-scalar, empty or repeated
  // keys, and, when `known` is non-empty, on keys outside `known`. `line` locates `node`.
  Result<std::vector<Entry>> entriesOf(const YAML::Node& node, std::string_view path, int line, Keys known) const {
    std::vector<Entry> out;
    if (node.IsNull() || !node.IsDefined()) return out;
    if (!node.IsMap()) return fail(errorAt(line, path, fmt::format("expected a map, got {}", describeNode(node))));
    const std::string where = path.empty() ? std::string("at top level") : fmt::format("in {}", path);
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node key = it->first;  // a copy: `it->` yields a temporary proxy
      const int key_line = lineOf(key);
      if (!key.IsScalar()) {
        return fail(errorAt(key_line, path, fmt::format("keys must be plain names, got {}", describeNode(key))));
      }
      const std::string& name = key.Scalar();
      if (!known.empty() && !contains(known, name)) {
        return fail(
            errorAt(key_line, "", fmt::format("unknown key '{}' {} (known: {})", name, where, joinKeys(known))));
      }
      if (name.empty()) return fail(errorAt(key_line, path, "empty name"));
      if (!seen.insert(name).second) {
        return fail(errorAt(key_line, "", fmt::format("duplicate key '{}' {}", name, where)));
      }
      out.push_back(Entry{name, it->second, key_line});
    }
    return out;
  }

  // Calls each entry's reader, in document order. Every entry's key must be in `fields`.
  static Status readEntries(const std::vector<Entry>& entries, std::string_view path,
                            const std::vector<Field>& fields) {
    for (const Entry& e : entries) {
      for (const Field& f : fields) {
        if (f.key != e.key) continue;
        if (auto st = f.read(e, child(path, e.key)); !st) return st;
      }
    }
    return {};
  }

  // A whole section: its keys must be those of `fields`; each present one is read.
  Result<std::vector<Entry>> readSection(const Entry& section, std::string_view path,
                                         const std::vector<Field>& fields) const {
    auto entries = entriesOf(section.value, path, section.line, keysOf(fields));
    if (!entries) return entries;
    if (auto st = readEntries(*entries, path, fields); !st) return fail(st.error());
    return entries;
  }

  // ${VAR} -> value, ${VAR:-default} -> value unless unset or empty, $${ -> literal "${".
  // Expanded text is not expanded again.
  Result<std::string> expandEnv(std::string_view text, int line, std::string_view path) const {
    std::string out;
    out.reserve(text.size());
    size_t i = 0;
    while (i < text.size()) {
      if (text.compare(i, 3, "$${") == 0) {
        out += "${";
        i += 3;
        continue;
      }
      if (text.compare(i, 2, "${") != 0) {
        out += text[i++];
        continue;
      }
      const size_t close = text.find('}', i + 2);
      if (close == std::string_view::npos) {
        return fail(errorAt(line, path, "unterminated '${' (write '$${' for a literal '${')"));
      }
      const std::string_view inner = text.substr(i + 2, close - i - 2);
      const size_t sep = inner.find(":-");
      const std::string name(inner.substr(0, sep));
      if (!isVariableName(name)) {
        return fail(
            errorAt(line, path, fmt::format("invalid environment variable name '{}' in '${{{}}}'", name, inner)));
      }
      std::optional<std::string> value = env_ ? env_(name) : std::nullopt;
      if (sep != std::string_view::npos && (!value || value->empty())) value = std::string(inner.substr(sep + 2));
      if (!value) {
        return fail(errorAt(
            line, path,
            fmt::format("environment variable {} is not set (use ${{{}:-default}} for a default)", name, name)));
      }
      out += *value;
      i = close + 1;
    }
    return out;
  }

  // The text of a scalar after ${VAR} expansion. Fails on maps, lists and null.
  Result<std::string> scalarText(const YAML::Node& node, int line, std::string_view path,
                                 std::string_view expected) const {
    if (!node.IsScalar()) {
      return fail(errorAt(line, path, fmt::format("expected {}, got {}", expected, describeNode(node))));
    }
    return expandEnv(node.Scalar(), line, path);
  }

  Status readString(const Entry& e, std::string_view path, std::string& out) const {
    auto text = scalarText(e.value, e.line, path, "a string");
    if (!text) return fail(text.error());
    out = std::move(*text);
    return {};
  }

  Status readNonEmptyString(const Entry& e, std::string_view path, std::string& out) const {
    auto st = readString(e, path, out);
    if (st && out.empty()) return fail(errorAt(e.line, path, "must not be empty"));
    return st;
  }

  // A string that is sent in an HTTP header, so it must not be able to start another header.
  Status readHeaderValue(const Entry& e, std::string_view path, std::string& out) const {
    auto st = readString(e, path, out);
    if (st && hasLineBreakOrNul(out)) return fail(errorAt(e.line, path, "must not contain line breaks"));
    return st;
  }

  // A file path; relative ones are taken relative to base_dir_ when it is set.
  Status readPath(const Entry& e, std::string_view path, std::string& out) const {
    auto st = readNonEmptyString(e, path, out);
    if (st) out = resolvePath(out);
    return st;
  }

  std::string resolvePath(const std::string& p) const {
    if (base_dir_.empty() || std::filesystem::path(p).is_absolute()) return p;
    return (std::filesystem::path(base_dir_) / p).string();
  }

  Status readEnum(const Entry& e, std::string_view path, const Choices& allowed, std::string& out) const {
    auto text = scalarText(e.value, e.line, path, "a string");
    if (!text) return fail(text.error());
    if (!contains(allowed, *text)) {
      return fail(errorAt(e.line, path, fmt::format("must be one of {}; got '{}'", joinKeys(allowed), *text)));
    }
    out = std::move(*text);
    return {};
  }

  // Decimal integers only: no signs other than '-', no hex, no fractions, no exponents.
  Result<int64_t> parseInt(const Entry& e, std::string_view path, int64_t min, int64_t max) const {
    auto text = scalarText(e.value, e.line, path, "an integer");
    if (!text) return fail(text.error());
    int64_t value = 0;
    const char* first = text->data();
    const char* last = first + text->size();
    const auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec == std::errc::result_out_of_range) {
      return fail(errorAt(e.line, path, fmt::format("integer '{}' is out of range (at most {})", *text, max)));
    }
    if (ec != std::errc() || ptr != last || text->empty()) {
      return fail(errorAt(e.line, path, fmt::format("expected an integer, got '{}'", *text)));
    }
    if (value < min) return fail(errorAt(e.line, path, fmt::format("must be >= {}, got {}", min, value)));
    if (value > max) return fail(errorAt(e.line, path, fmt::format("must be <= {}, got {}", max, value)));
    return value;
  }

  Result<double> parseNumber(const Entry& e, std::string_view path) const {
    auto text = scalarText(e.value, e.line, path, "a number");
    if (!text) return fail(text.error());
    double value = 0;
    const char* first = text->data();
    const char* last = first + text->size();
    const auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec != std::errc() || ptr != last || text->empty() || !std::isfinite(value)) {
      return fail(errorAt(e.line, path, fmt::format("expected a number, got '{}'", *text)));
    }
    return value;
  }

  // --- FieldReader factories: each binds a destination and its rules. ---

  FieldReader text(std::string& out) const {
    return [this, &out](const Entry& e, const std::string& p) { return readString(e, p, out); };
  }

  FieldReader nonEmptyText(std::string& out) const {
    return [this, &out](const Entry& e, const std::string& p) { return readNonEmptyString(e, p, out); };
  }

  FieldReader filePath(std::string& out) const {
    return [this, &out](const Entry& e, const std::string& p) { return readPath(e, p, out); };
  }

  FieldReader oneOf(std::string& out, Choices allowed) const {
    return [this, &out, allowed = std::move(allowed)](const Entry& e, const std::string& p) {
      return readEnum(e, p, allowed, out);
    };
  }

  template <typename T>
  FieldReader integer(T& out, int64_t min, int64_t max) const {
    return [this, &out, min, max](const Entry& e, const std::string& p) -> Status {
      auto v = parseInt(e, p, min, max);
      if (!v) return fail(v.error());
      out = static_cast<T>(*v);
      return {};
    };
  }

  // Durations are written as integer milliseconds under a `_ms` key.
  FieldReader millis(Millis& out, int64_t min) const {
    return [this, &out, min](const Entry& e, const std::string& p) -> Status {
      auto v = parseInt(e, p, min, kMaxMillis);
      if (!v) return fail(v.error());
      out = Millis(*v);
      return {};
    };
  }

  template <class Out>  // double or std::optional<double>
  FieldReader price(Out& out) const {
    return [this, &out](const Entry& e, const std::string& p) -> Status {
      auto v = parseNumber(e, p);
      if (!v) return fail(v.error());
      if (*v < 0) return fail(errorAt(e.line, p, fmt::format("must be >= 0, got {}", *v)));
      if (*v > kMaxUsdPerMtok)
        return fail(errorAt(e.line, p, fmt::format("must be <= {}, got {}", kMaxUsdPerMtok, *v)));
      out = *v;
      return {};
    };
  }

  // For a key read before the others because their rules depend on it.
  static FieldReader alreadyRead() {
    return [](const Entry&, const std::string&) -> Status { return {}; };
  }

  // --- Sections ---

  Status readListen(const Entry& e, std::string_view path, ServerConfig& s) const {
    std::string listen;
    if (auto st = readString(e, path, listen); !st) return st;
    auto bad = [&](std::string_view why) {
      return fail(errorAt(
          e.line, path, fmt::format("'{}': {} (expected host:port, e.g. 127.0.0.1:8080 or [::1]:8080)", listen, why)));
    };
    const std::string_view view = listen;
    std::string_view host;
    std::string_view port;
    if (startsWith(view, "[")) {
      const size_t close = view.find(']');
      if (close == std::string_view::npos) return bad("unclosed '['");
      if (view.substr(close + 1, 1) != ":") return bad("missing ':port' after ']'");
      host = view.substr(1, close - 1);
      port = view.substr(close + 2);
    } else {
      const size_t colon = view.rfind(':');
      if (colon == std::string_view::npos) return bad("missing ':port'");
      host = view.substr(0, colon);
      port = view.substr(colon + 1);
      if (host.find(':') != std::string_view::npos) return bad("an IPv6 address must be in brackets");
    }
    if (host.empty()) return bad("empty host");
    if (hasWhitespace(host)) return bad("host contains whitespace");
    uint32_t port_value = 0;
    const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), port_value);
    if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || port_value > 65535) {
      return bad("port must be an integer from 0 to 65535");
    }
    s.listen_host = std::string(host);
    s.listen_port = static_cast<uint16_t>(port_value);
    return {};
  }

  Status readServer(const Entry& section, const std::string& path, ServerConfig& s) const {
    const std::vector<Field> fields = {
        {"listen", [&](const Entry& e, const std::string& p) { return readListen(e, p, s); }},
        {"threads", integer(s.threads, 0, 1024)},
        {"max_body_bytes", integer(s.max_body_bytes, 1, kMaxInt64)},
        {"max_header_bytes", integer(s.max_header_bytes, 1, kMaxUint32)},
        {"header_timeout_ms", millis(s.header_timeout, 1)},
        {"read_timeout_ms", millis(s.read_timeout, 1)},
        {"idle_timeout_ms", millis(s.idle_timeout, 1)},
        {"write_timeout_ms", millis(s.write_timeout, 1)},
        {"drain_timeout_ms", millis(s.drain_timeout, 0)},  // 0: stop at once
        {"max_connections", integer(s.max_connections, 1, kMaxUint32)},
        {"log_level", oneOf(s.log_level, {"trace", "debug", "info", "warn", "error", "off"})},
    };
    auto entries = readSection(section, path, fields);
    if (!entries) return fail(entries.error());
    return {};
  }

  Status readBaseUrl(const Entry& e, std::string_view path, std::string& out) const {
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

  Status readHeaders(const Entry& e, const std::string& path, std::map<std::string, std::string>& out) const {
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

  Status readRetry(const Entry& section, const std::string& path, RetryConfig& r) const {
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

  Status readBreaker(const Entry& section, const std::string& path, BreakerConfig& b) const {
    const std::vector<Field> fields = {
        {"failure_threshold", integer(b.failure_threshold, 1, 1'000'000)},
        {"open_for_ms", millis(b.open_for, 1)},
    };
    auto entries = readSection(section, path, fields);
    if (!entries) return fail(entries.error());
    return {};
  }

  Status readProvider(const Entry& named, const std::string& path, ProviderConfig& pc) const {
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

  Status readProviders(const Entry& section, const std::string& path, Config& cfg) const {
    auto named = entriesOf(section.value, path, section.line, {});
    if (!named) return fail(named.error());
    for (const Entry& n : *named) {
      ProviderConfig pc;
      pc.name = n.key;
      if (auto st = readProvider(n, child(path, n.key), pc); !st) return st;
      cfg.providers.emplace(n.key, std::move(pc));
    }
    return {};
  }

  Status readModel(const Entry& named, const std::string& path, const Config& cfg, ModelConfig& m) const {
    double input = 0, output = 0;
    std::optional<double> cached, cache_write;
    const auto read_provider = [&](const Entry& e, const std::string& p) -> Status {
      if (auto st = readNonEmptyString(e, p, m.provider); !st) return st;
      if (cfg.providers.count(m.provider) == 0) {
        return fail(errorAt(e.line, p, fmt::format("unknown provider '{}'", m.provider)));
      }
      return {};
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

  Status readModels(const Entry& section, const std::string& path, Config& cfg) const {
    auto named = entriesOf(section.value, path, section.line, {});
    if (!named) return fail(named.error());
    for (const Entry& n : *named) {
      ModelConfig m;
      m.name = n.key;
      m.id = n.key;
      if (auto st = readModel(n, child(path, n.key), cfg, m); !st) return st;
      cfg.models.emplace(n.key, std::move(m));
    }
    return {};
  }

  // The model names of a list, each checked to exist and to appear once.
  Status readModelList(const Entry& e, std::string_view path, const Config& cfg, std::vector<std::string>& out) const {
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
      if (cfg.models.count(*name) == 0) {
        return fail(errorAt(line, item_path, fmt::format("unknown model '{}'", *name)));
      }
      if (!seen.insert(*name).second) {
        return fail(errorAt(line, item_path, fmt::format("model '{}' is listed twice", *name)));
      }
      out.push_back(std::move(*name));
    }
    return {};
  }

  // --- Route sub-sections and the privacy/sessions sections (docs/routing-policies.md) ---

  Status readBool(const Entry& e, std::string_view path, bool& out) const {
    auto text = scalarText(e.value, e.line, path, "true or false");
    if (!text) return fail(text.error());
    if (*text == "true") out = true;
    else if (*text == "false") out = false;
    else return fail(errorAt(e.line, path, fmt::format("expected true or false, got '{}'", *text)));
    return {};
  }

  FieldReader boolean(bool& out) const {
    return [this, &out](const Entry& e, const std::string& p) { return readBool(e, p, out); };
  }

  FieldReader optionalBool(std::optional<bool>& out) const {
    return [this, &out](const Entry& e, const std::string& p) -> Status {
      bool b = false;
      if (auto st = readBool(e, p, b); !st) return st;
      out = b;
      return {};
    };
  }

  FieldReader optionalInt(std::optional<int64_t>& out, int64_t min, int64_t max) const {
    return [this, &out, min, max](const Entry& e, const std::string& p) -> Status {
      auto v = parseInt(e, p, min, max);
      if (!v) return fail(v.error());
      out = *v;
      return {};
    };
  }

  // A map of plain strings (rules' metadata and headers). `lower_keys` folds names to lower case.
  Status readStringMap(const Entry& e, const std::string& path, bool lower_keys,
                       std::map<std::string, std::string>& out) const {
    auto entries = entriesOf(e.value, path, e.line, {});
    if (!entries) return fail(entries.error());
    for (const Entry& kv : *entries) {
      const std::string key = lower_keys ? toLower(kv.key) : kv.key;
      if (out.count(key) != 0) return fail(errorAt(kv.line, child(path, kv.key), "given twice"));
      if (auto st = readString(kv, child(path, kv.key), out[key]); !st) return st;
    }
    return {};
  }

  // Runs `read` on each item of a list, as an Entry whose line is the item's.
  Status forEachItem(const Entry& e, const std::string& path, std::string_view what,
                     const std::function<Status(const Entry&, const std::string&)>& read) const {
    if (!e.value.IsSequence()) {
      return fail(errorAt(e.line, path, fmt::format("expected a list of {}, got {}", what, describeNode(e.value))));
    }
    size_t index = 0;
    for (auto it = e.value.begin(); it != e.value.end(); ++it) {
      const YAML::Node item = *it;
      Entry ie{std::string(), item, lineOf(item)};
      if (auto st = read(ie, fmt::format("{}[{}]", path, index++)); !st) return st;
    }
    return {};
  }

  Status readCascadeCheck(const Entry& item, const std::string& path, const Config& cfg, CascadeCheck& c) const {
    std::string kind;
    std::string schema_file;
    const auto read_judge = [&](const Entry& e, const std::string& p) -> Status {
      if (auto st = readNonEmptyString(e, p, c.judge_model); !st) return st;
      if (cfg.models.count(c.judge_model) == 0) {
        return fail(errorAt(e.line, p, fmt::format("unknown model '{}'", c.judge_model)));
      }
      return {};
    };
    const auto read_unit = [&](double& out) -> FieldReader {
      return [this, &out](const Entry& e, const std::string& p) -> Status {
        auto v = parseNumber(e, p);
        if (!v) return fail(v.error());
        if (!(*v >= 0 && *v <= 1)) return fail(errorAt(e.line, p, fmt::format("must be in [0, 1], got {}", *v)));
        out = *v;
        return {};
      };
    };
    const auto read_logprob = [&](const Entry& e, const std::string& p) -> Status {
      auto v = parseNumber(e, p);
      if (!v) return fail(v.error());
      if (*v > 0) return fail(errorAt(e.line, p, fmt::format("a log probability is <= 0, got {}", *v)));
      c.min_mean_logprob = *v;
      return {};
    };
    const std::vector<Field> fields = {
        {"kind", alreadyRead()},
        {"schema", text(c.schema)},
        {"schema_file", filePath(schema_file)},
        {"pattern", nonEmptyText(c.pattern)},
        {"min_mean_logprob", read_logprob},
        {"model", read_judge},
        {"min_score", read_unit(c.min_score)},
    };
    auto entries = entriesOf(item.value, path, item.line, keysOf(fields));
    if (!entries) return fail(entries.error());
    const Entry* kind_entry = find(*entries, "kind");
    if (kind_entry == nullptr) {
      return fail(errorAt(item.line, path, "missing required key 'kind' (json_schema, regex, not_refusal, logprob, judge)"));
    }
    if (auto st = readEnum(*kind_entry, child(path, "kind"), {"json_schema", "regex", "not_refusal", "logprob", "judge"},
                           kind);
        !st)
      return st;
    // Which keys each kind takes.
    const std::map<std::string, Choices> allowed = {
        {"json_schema", {"kind", "schema", "schema_file"}}, {"regex", {"kind", "pattern"}},
        {"not_refusal", {"kind"}}, {"logprob", {"kind", "min_mean_logprob"}},
        {"judge", {"kind", "model", "min_score"}}};
    for (const Entry& e : *entries) {
      if (!contains(allowed.at(kind), e.key)) {
        return fail(errorAt(e.line, path, fmt::format("'{}' is not valid for kind {} (valid: {})", e.key, kind,
                                                      joinKeys(allowed.at(kind)))));
      }
    }
    if (auto st = readEntries(*entries, path, fields); !st) return st;
    c.line = item.line;
    c.kind = kind == "json_schema" ? CascadeCheck::Kind::kJsonSchema
             : kind == "regex"     ? CascadeCheck::Kind::kRegex
             : kind == "logprob"   ? CascadeCheck::Kind::kLogprob
             : kind == "judge"     ? CascadeCheck::Kind::kJudge
                                   : CascadeCheck::Kind::kNotRefusal;
    if (!schema_file.empty()) {
      if (!c.schema.empty()) return fail(errorAt(item.line, path, "give 'schema' or 'schema_file', not both"));
      std::ifstream in(schema_file, std::ios::binary);
      if (!in) return fail(errorAt(item.line, path, fmt::format("cannot read schema_file '{}'", schema_file)));
      std::ostringstream buf;
      buf << in.rdbuf();
      c.schema = buf.str();
    }
    if (c.kind == CascadeCheck::Kind::kRegex && c.pattern.empty()) {
      return fail(errorAt(item.line, path, "missing required key 'pattern' for kind regex"));
    }
    if (c.kind == CascadeCheck::Kind::kJudge && c.judge_model.empty()) {
      return fail(errorAt(item.line, path, "missing required key 'model' for kind judge"));
    }
    return {};
  }

  Status readCascadeStage(const Entry& item, const std::string& path, const Config& cfg, CascadeStage& s) const {
    std::string kind;
    std::string model;
    const std::vector<Field> fields = {
        {"kind", alreadyRead()},
        {"model", alreadyRead()},
        {"models", [&](const Entry& e, const std::string& p) { return readModelList(e, p, cfg, s.models); }},
        {"min_votes", integer(s.min_votes, 1, 100)},
        {"extract", nonEmptyText(s.extract)},
    };
    auto entries = entriesOf(item.value, path, item.line, keysOf(fields));
    if (!entries) return fail(entries.error());
    const Entry* kind_entry = find(*entries, "kind");
    if (kind_entry == nullptr) return fail(errorAt(item.line, path, "missing required key 'kind' (model, agree)"));
    if (auto st = readEnum(*kind_entry, child(path, "kind"), {"model", "agree"}, kind); !st) return st;
    const std::map<std::string, Choices> allowed = {{"model", {"kind", "model"}},
                                                    {"agree", {"kind", "models", "min_votes", "extract"}}};
    for (const Entry& e : *entries) {
      if (!contains(allowed.at(kind), e.key)) {
        return fail(errorAt(e.line, path, fmt::format("'{}' is not valid for stage kind {} (valid: {})", e.key, kind,
                                                      joinKeys(allowed.at(kind)))));
      }
    }
    if (auto st = readEntries(*entries, path, fields); !st) return st;
    s.line = item.line;
    if (kind == "model") {
      s.kind = CascadeStage::Kind::kModel;
      const Entry* m = find(*entries, "model");
      if (m == nullptr) return fail(errorAt(item.line, path, "missing required key 'model' for stage kind model"));
      if (auto st = readNonEmptyString(*m, child(path, "model"), model); !st) return st;
      if (cfg.models.count(model) == 0) return fail(errorAt(m->line, child(path, "model"), fmt::format("unknown model '{}'", model)));
      s.models = {model};
      return {};
    }
    s.kind = CascadeStage::Kind::kAgree;
    if (s.models.size() < 2) return fail(errorAt(item.line, path, "an agree stage needs 'models' with at least two models"));
    if (s.extract.empty()) return fail(errorAt(item.line, path, "missing required key 'extract' for stage kind agree"));
    if (s.min_votes > s.models.size()) {
      return fail(errorAt(item.line, path, fmt::format("min_votes {} is more than the stage's {} models", s.min_votes,
                                                       s.models.size())));
    }
    return {};
  }

  Status readCascade(const Entry& section, const std::string& path, const Config& cfg, CascadeConfig& c) const {
    const auto read_checks = [&](const Entry& e, const std::string& p) -> Status {
      return forEachItem(e, p, "checks", [&](const Entry& item, const std::string& ip) -> Status {
        CascadeCheck check;
        if (auto st = readCascadeCheck(item, ip, cfg, check); !st) return st;
        c.checks.push_back(std::move(check));
        return {};
      });
    };
    const auto read_stages = [&](const Entry& e, const std::string& p) -> Status {
      return forEachItem(e, p, "stages", [&](const Entry& item, const std::string& ip) -> Status {
        CascadeStage stage;
        if (auto st = readCascadeStage(item, ip, cfg, stage); !st) return st;
        c.stages.push_back(std::move(stage));
        return {};
      });
    };
    const std::vector<Field> fields = {
        {"checks", read_checks},
        {"max_attempts", integer(c.max_attempts, 0, 100)},
        {"stages", read_stages},
    };
    auto entries = readSection(section, path, fields);
    if (!entries) return fail(entries.error());
    return {};
  }

  Status readRuleMatch(const Entry& section, const std::string& path, RuleMatch& m) const {
    const auto read_user = [&](const Entry& e, const std::string& p) -> Status {
      std::string u;
      if (auto st = readString(e, p, u); !st) return st;
      m.user = std::move(u);
      return {};
    };
    const std::vector<Field> fields = {
        {"metadata", [&](const Entry& e, const std::string& p) { return readStringMap(e, p, false, m.metadata); }},
        {"headers", [&](const Entry& e, const std::string& p) { return readStringMap(e, p, true, m.headers); }},
        {"user", read_user},
        {"sensitive", optionalBool(m.sensitive)},
        {"min_tokens", optionalInt(m.min_tokens, 0, kMaxInt64)},
        {"max_tokens", optionalInt(m.max_tokens, 0, kMaxInt64)},
        {"ask", nonEmptyText(m.ask)},
    };
    auto entries = readSection(section, path, fields);
    if (!entries) return fail(entries.error());
    if (m.min_tokens && m.max_tokens && *m.min_tokens > *m.max_tokens) {
      return fail(errorAt(section.line, path, "min_tokens must be <= max_tokens"));
    }
    return {};
  }

  Status readRule(const Entry& item, const std::string& path, const Config& cfg, const RouteConfig& r,
                  RouteRule& rule) const {
    const std::vector<Field> fields = {
        {"when", [&](const Entry& e, const std::string& p) { return readRuleMatch(e, p, rule.when); }},
        {"model", nonEmptyText(rule.model)},
        {"route", nonEmptyText(rule.route)},
    };
    auto entries = readSection(item, path, fields);
    if (!entries) return fail(entries.error());
    rule.line = item.line;
    if (rule.model.empty() == rule.route.empty()) {
      return fail(errorAt(item.line, path, "a rule names exactly one target: 'model' or 'route'"));
    }
    if (!rule.model.empty() && std::find(r.candidates.begin(), r.candidates.end(), rule.model) == r.candidates.end()) {
      const bool is_model = cfg.models.count(rule.model) != 0;
      return fail(errorAt(find(*entries, "model")->line, child(path, "model"),
                          fmt::format("'{}' is not {} of this route's candidates", rule.model,
                                      is_model ? "one" : "a model, nor one")));
    }
    return {};
  }

  Status readBudget(const Entry& section, const std::string& path, BudgetCaps& b) const {
    const std::vector<Field> fields = {
        {"max_completion_tokens", optionalInt(b.max_completion_tokens, 1, kMaxUint32)},
        {"reasoning_effort", oneOf(b.reasoning_effort, {"minimal", "low", "medium", "high"})},
    };
    auto entries = readSection(section, path, fields);
    if (!entries) return fail(entries.error());
    return {};
  }

  Status readModelBudgets(const Entry& section, const std::string& path, const Config& cfg, const RouteConfig& r,
                          std::map<std::string, BudgetCaps>& out) const {
    auto named = entriesOf(section.value, path, section.line, {});
    if (!named) return fail(named.error());
    for (const Entry& n : *named) {
      if (cfg.models.count(n.key) == 0) return fail(errorAt(n.line, child(path, n.key), "unknown model"));
      (void)r;
      if (auto st = readBudget(n, child(path, n.key), out[n.key]); !st) return st;
    }
    return {};
  }

  Status readPrivacy(const Entry& section, const std::string& path, PrivacyConfig& p) const {
    static const Choices kKinds = {"email", "phone", "payment_card", "iban", "national_id", "secret"};
    const auto read_kinds = [&](const Entry& e, const std::string& kp) -> Status {
      return forEachItem(e, kp, "detector kinds", [&](const Entry& item, const std::string& ip) -> Status {
        std::string k;
        if (auto st = readEnum(item, ip, kKinds, k); !st) return st;
        p.kinds.push_back(std::move(k));
        return {};
      });
    };
    const std::vector<Field> fields = {
        {"pii_detection", boolean(p.pii_detection)},
        {"kinds", read_kinds},
    };
    auto entries = readSection(section, path, fields);
    if (!entries) return fail(entries.error());
    return {};
  }

  Status readSessions(const Entry& section, const std::string& path, SessionsConfig& s) const {
    const std::vector<Field> fields = {
        {"ttl_ms", millis(s.ttl, 1)},
        {"use_openai_user", boolean(s.use_openai_user)},
        {"max_entries", integer(s.max_entries, 1, kMaxUint32)},
    };
    auto entries = readSection(section, path, fields);
    if (!entries) return fail(entries.error());
    return {};
  }

  Status readRoute(const Entry& named, const std::string& path, const Config& cfg, RouteConfig& r) const {
    const auto read_candidates = [&](const Entry& e, const std::string& p) -> Status {
      if (auto st = readModelList(e, p, cfg, r.candidates); !st) return st;
      if (r.candidates.empty()) return fail(errorAt(e.line, p, "must list at least one model"));
      return {};
    };
    const auto read_quality = [&](const Entry& e, const std::string& p) -> Status {
      auto q = parseNumber(e, p);
      if (!q) return fail(q.error());
      if (!(*q > 0 && *q <= 1)) return fail(errorAt(e.line, p, fmt::format("must be in (0, 1], got {}", *q)));
      r.quality = *q;
      return {};
    };
    const auto read_reference = [&](const Entry& e, const std::string& p) -> Status {
      if (auto st = readNonEmptyString(e, p, r.reference); !st) return st;
      if (cfg.models.count(r.reference) == 0) {
        return fail(errorAt(e.line, p, fmt::format("unknown model '{}'", r.reference)));
      }
      return {};
    };
    const std::vector<Field> fields = {
        {"candidates", read_candidates},
        {"policy", nonEmptyText(r.policy)},  // the routing layer checks the name
        {"router", filePath(r.router)},
        {"quality", read_quality},
        {"reference", read_reference},
        {"fallback", [&](const Entry& e, const std::string& p) { return readModelList(e, p, cfg, r.fallback); }},
        {"cascade", [&](const Entry& e, const std::string& p) { return readCascade(e, p, cfg, r.cascade); }},
        {"rules", alreadyRead()},  // after candidates, whatever the order in the file
        {"budget", [&](const Entry& e, const std::string& p) { return readBudget(e, p, r.budget); }},
        {"model_budgets",
         [&](const Entry& e, const std::string& p) { return readModelBudgets(e, p, cfg, r, r.model_budgets); }},
        {"pii_detection", optionalBool(r.pii_detection)},
        {"pin_sessions", boolean(r.pin_sessions)},
    };
    auto entries = readSection(named, path, fields);
    if (!entries) return fail(entries.error());
    if (r.candidates.empty()) return fail(errorAt(named.line, path, "missing required key 'candidates'"));
    if (const Entry* rules = find(*entries, "rules")) {
      const std::string rp = child(path, "rules");
      auto st = forEachItem(*rules, rp, "rules", [&](const Entry& item, const std::string& ip) -> Status {
        RouteRule rule;
        if (auto rs = readRule(item, ip, cfg, r, rule); !rs) return rs;
        r.rules.push_back(std::move(rule));
        return {};
      });
      if (!st) return st;
    }
    if (r.reference.empty()) r.reference = r.candidates.back();
    // A staged cascade calls only the route's candidates (so privacy and circuits filter them).
    for (size_t si = 0; si < r.cascade.stages.size(); ++si) {
      for (const std::string& m : r.cascade.stages[si].models) {
        if (!contains(r.candidates, m)) {
          return fail(errorAt(r.cascade.stages[si].line, fmt::format("{}.cascade.stages[{}]", path, si),
                              fmt::format("model '{}' is not a candidate of the route", m)));
        }
      }
    }
    return {};
  }

  Status readRoutes(const Entry& section, const std::string& path, Config& cfg) const {
    auto named = entriesOf(section.value, path, section.line, {});
    if (!named) return fail(named.error());
    for (const Entry& n : *named) {
      const std::string route_path = child(path, n.key);
      // Clients name a model or a route in the same `model` field: one name, one meaning.
      if (cfg.models.count(n.key) != 0) {
        return fail(errorAt(n.line, route_path, fmt::format("route name '{}' is also a model name", n.key)));
      }
      RouteConfig r;
      r.name = n.key;
      if (auto st = readRoute(n, route_path, cfg, r); !st) return st;
      cfg.routes.emplace(n.key, std::move(r));
    }
    // A rule may hand a request to another route, one hop: the target must exist and not be
    // a rules route itself (so no cycles).
    for (const auto& [name, r] : cfg.routes) {
      for (size_t i = 0; i < r.rules.size(); ++i) {
        const RouteRule& rule = r.rules[i];
        if (rule.route.empty()) continue;
        const std::string rp = fmt::format("{}.{}.rules[{}].route", path, name, i);
        auto target = cfg.routes.find(rule.route);
        if (target == cfg.routes.end()) return fail(errorAt(rule.line, rp, fmt::format("unknown route '{}'", rule.route)));
        if (!target->second.rules.empty() || target->second.policy == "rules") {
          return fail(errorAt(rule.line, rp, fmt::format("route '{}' is itself a rules route (one hop only)", rule.route)));
        }
      }
    }
    return {};
  }

  // `kind` is read first: which other keys are allowed depends on it. `off` accepts and
  // ignores both, so a ledger can be switched off by editing one line.
  Status readLedger(const Entry& section, const std::string& path, LedgerConfig& l) const {
    const std::vector<Field> fields = {
        {"kind", alreadyRead()},
        {"path", nonEmptyText(l.path)},  // resolved against base_dir at the end, default included
        {"dsn", nonEmptyText(l.dsn)},
        {"store_prompts", boolean(l.store_prompts)},
        {"spill_path", nonEmptyText(l.spill_path)},
        {"store_responses", boolean(l.store_responses)},
        {"response_retention_days", integer(l.response_retention_days, 1, 3650)},
        {"retention_days", integer(l.retention_days, 0, 36500)},
    };
    auto entries = entriesOf(section.value, path, section.line, keysOf(fields));
    if (!entries) return fail(entries.error());
    if (const Entry* kind = find(*entries, "kind")) {
      std::string name;
      if (auto st = readEnum(*kind, child(path, "kind"), {"sqlite", "postgres", "off"}, name); !st) return st;
      l.kind = name == "sqlite" ? LedgerKind::kSqlite : name == "postgres" ? LedgerKind::kPostgres : LedgerKind::kOff;
    }
    for (const Entry& e : *entries) {
      if ((e.key == "dsn" && l.kind == LedgerKind::kSqlite) || (e.key == "path" && l.kind == LedgerKind::kPostgres)) {
        return fail(errorAt(e.line, path, fmt::format("'{}' is not valid for kind {}", e.key, ledgerKindName(l.kind))));
      }
    }
    if (auto st = readEntries(*entries, path, fields); !st) return st;
    if (l.kind == LedgerKind::kPostgres && l.dsn.empty()) {
      return fail(errorAt(section.line, path, "missing required key 'dsn' for kind postgres"));
    }
    return {};
  }

  Status readLimits(const Entry& section, const std::string& path, LimitsConfig& l) const {
    const auto read_url = [&](const Entry& e, const std::string& p) -> Status {
      if (auto st = readNonEmptyString(e, p, l.url); !st) return st;
      if (!startsWith(l.url, "redis://") && !startsWith(l.url, "rediss://")) {
        return fail(errorAt(e.line, p, "must start with redis:// or rediss://"));
      }
      return {};
    };
    const std::vector<Field> fields = {
        {"kind", alreadyRead()},
        {"url", read_url},
        {"keys_file", nonEmptyText(l.keys_file)},  // resolved against base_dir at the end
        {"on_error", oneOf(l.on_error, {"open", "closed"})},
        {"timeout_ms", millis(l.timeout, 1)},
    };
    auto entries = entriesOf(section.value, path, section.line, keysOf(fields));
    if (!entries) return fail(entries.error());
    if (const Entry* kind = find(*entries, "kind")) {
      std::string name;
      if (auto st = readEnum(*kind, child(path, "kind"), {"memory", "redis"}, name); !st) return st;
      l.kind = name == "redis" ? LimitsKind::kRedis : LimitsKind::kMemory;
    }
    if (const Entry* url = find(*entries, "url"); url != nullptr && l.kind != LimitsKind::kRedis) {
      return fail(errorAt(url->line, path, "'url' is only valid for kind redis"));
    }
    if (auto st = readEntries(*entries, path, fields); !st) return st;
    if (l.kind == LimitsKind::kRedis && l.url.empty()) {
      return fail(errorAt(section.line, path, "missing required key 'url' for kind redis"));
    }
    return {};
  }

  const std::string& source_;
  const EnvLookup& env_;
  const std::string& base_dir_;
};

}  // namespace

EnvLookup processEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

namespace {

// Counts the documents of a YAML stream (and where the second starts) without building them.
// Not YAML::LoadAll: yaml-cpp 0.7 loops forever, allocating a null document per turn, on a stray
// ',' at the top level (",", "{a: 1},": jbeder/yaml-cpp#1040, fixed upstream in #1319; found by
// fuzz/config_fuzzer.cc). A document whose first node does not advance past the previous one's
// is that loop: reported as a syntax error.
struct YamlDocs {
  int count = 0;
  int second_line = 1;
  bool stuck = false;
  int stuck_line = 1;
};
YamlDocs countYamlDocuments(const std::string& text) {
  struct Counter final : YAML::EventHandler {
    int first_pos = -1, first_line = 0;
    void node(const YAML::Mark& m) {
      if (first_pos < 0) { first_pos = m.pos; first_line = m.line < 0 ? 1 : m.line + 1; }
    }
    void OnDocumentStart(const YAML::Mark&) override { first_pos = -1; }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& m, YAML::anchor_t) override { node(m); }
    void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { node(m); }
    void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t, const std::string&) override { node(m); }
    void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override { node(m); }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override { node(m); }
    void OnMapEnd() override {}
  } counter;
  std::istringstream in(text);
  YAML::Parser parser(in);
  YamlDocs docs;
  int last_pos = -1;
  while (parser.HandleNextDocument(counter)) {
    if (docs.count > 0 && counter.first_pos <= last_pos) {
      docs.stuck = true;
      docs.stuck_line = counter.first_line;
      return docs;
    }
    last_pos = counter.first_pos;
    if (++docs.count == 2) docs.second_line = counter.first_line;
  }
  return docs;
}

}  // namespace

Result<Config> parseConfig(const std::string& yaml_text, const std::string& source, const EnvLookup& env,
                           const std::string& base_dir) {
  // yaml-cpp reports through exceptions; none may leave this function.
  try {
    const YamlDocs docs = countYamlDocuments(yaml_text);
    if (docs.stuck) return fail(ErrorCode::kInvalidArgument, fmt::format("{}:{}: YAML syntax error: unexpected ','", source, docs.stuck_line));
    if (docs.count > 1) {
      return fail(ErrorCode::kInvalidArgument, fmt::format("{}:{}: a config file holds one YAML document, found {}",
                                                           source, docs.second_line, docs.count));
    }
    return ConfigBuilder(source, env, base_dir).build(docs.count == 0 ? YAML::Node() : YAML::Load(yaml_text));
  } catch (const YAML::Exception& e) {
    const int line = e.mark.line < 0 ? 1 : e.mark.line + 1;
    return fail(ErrorCode::kInvalidArgument, fmt::format("{}:{}: YAML syntax error: {}", source, line, e.msg));
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInternal, fmt::format("{}: cannot parse config: {}", source, e.what()));
  }
}

Result<Config> loadConfigFile(const std::string& path, const EnvLookup& env) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return fail(ErrorCode::kIo, fmt::format("cannot read config file '{}': it is a directory", path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(ErrorCode::kIo, fmt::format("cannot read config file '{}': {}", path, std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return fail(ErrorCode::kIo, fmt::format("cannot read config file '{}': read failed", path));
  return parseConfig(text.str(), path, env, std::filesystem::path(path).parent_path().string());
}

Result<Config> embeddedDefaults(const std::string& data_dir) {
  std::string dir = data_dir.empty() ? std::string(".") : data_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const EnvLookup only_data_dir = [&dir](const std::string& name) -> std::optional<std::string> {
    if (name == kDataDirVariable) return dir;
    return std::nullopt;
  };
  return parseConfig(kEmbeddedYaml, kEmbeddedSource, only_data_dir, "");
}

const char* ledgerKindName(LedgerKind k) {
  switch (k) {
    case LedgerKind::kSqlite: return "sqlite";
    case LedgerKind::kPostgres: return "postgres";
    case LedgerKind::kOff: return "off";
  }
  return "unknown";
}

const char* limitsKindName(LimitsKind k) {
  switch (k) {
    case LimitsKind::kMemory: return "memory";
    case LimitsKind::kRedis: return "redis";
  }
  return "unknown";
}

const char* providerKindName(ProviderKind k) {
  switch (k) {
    case ProviderKind::kOpenAI: return "openai";
    case ProviderKind::kAnthropic: return "anthropic";
    case ProviderKind::kReplay: return "replay";
  }
  return "unknown";
}

}  // namespace rightsize::config
