#include "config/config.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "config/config_builder.h"

namespace rightsize::config {

namespace detail {

Result<Config> ConfigBuilder::build(const YAML::Node& root) {
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
  if (auto st = checkHasModels(cfg, *top); !st) return fail(st.error());
  // Also applied to the default path, so a config file's ledger lives beside it either way.
  if (cfg.ledger.kind == LedgerKind::kSqlite && cfg.ledger.path != ":memory:") cfg.ledger.path = resolvePath(cfg.ledger.path);
  if (cfg.ledger.kind == LedgerKind::kPostgres && cfg.ledger.spill_path.empty()) cfg.ledger.spill_path = "rightsize-ledger.spill.jsonl";
  if (!cfg.ledger.spill_path.empty()) cfg.ledger.spill_path = resolvePath(cfg.ledger.spill_path);
  cfg.limits.keys_file = resolvePath(cfg.limits.keys_file);
  return cfg;
}

}  // namespace detail

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
    return detail::ConfigBuilder(source, env, base_dir).build(docs.count == 0 ? YAML::Node() : YAML::Load(yaml_text));
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
