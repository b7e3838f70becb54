#pragma once
// Internal to src/config: ConfigBuilder turns a parsed YAML tree into a Config. Its methods are
// defined one file per section group:
//   config.cc            build(): the top-level table, reading order, final path resolution
//   server_section.cc    server
//   provider_sections.cc providers (with retry, breaker, headers) and models
//   route_sections.cc    routes (cascade checks and stages, rules, budgets)
//   service_sections.cc  ledger, limits, privacy, sessions
//   cross_checks.cc      references between sections (models, routes, candidates)
// The YAML kit it reads with is its base (yaml_kit.h).

#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/result.h"
#include "config/config.h"
#include "config/yaml_kit.h"

namespace rightsize::config::detail {

// Builds a Config from a parsed YAML tree. Each method validates one section and fails with
// the first problem found, as "<source>:<line>: <what and where>".
class ConfigBuilder : YamlKit {
 public:
  ConfigBuilder(const std::string& source, const EnvLookup& env, const std::string& base_dir)
      : YamlKit(source, env, base_dir) {}

  Result<Config> build(const YAML::Node& root);

 private:
  // server_section.cc
  Status readListen(const Entry& e, std::string_view path, ServerConfig& s) const;
  Status readServer(const Entry& section, const std::string& path, ServerConfig& s) const;

  // provider_sections.cc
  Status readBaseUrl(const Entry& e, std::string_view path, std::string& out) const;
  Status readHeaderValue(const Entry& e, std::string_view path, std::string& out) const;
  Status readHeaders(const Entry& e, const std::string& path, std::map<std::string, std::string>& out) const;
  Status readRetry(const Entry& section, const std::string& path, RetryConfig& r) const;
  Status readBreaker(const Entry& section, const std::string& path, BreakerConfig& b) const;
  Status readProvider(const Entry& named, const std::string& path, ProviderConfig& pc) const;
  Status readProviders(const Entry& section, const std::string& path, Config& cfg) const;
  Status readModel(const Entry& named, const std::string& path, const Config& cfg, ModelConfig& m) const;
  Status readModels(const Entry& section, const std::string& path, Config& cfg) const;
  Status readModelList(const Entry& e, std::string_view path, const Config& cfg, std::vector<std::string>& out) const;

  // route_sections.cc
  Status readCascadeCheck(const Entry& item, const std::string& path, const Config& cfg, CascadeCheck& c) const;
  Status readCascadeStage(const Entry& item, const std::string& path, const Config& cfg, CascadeStage& s) const;
  Status readPreRoute(const Entry& section, const std::string& path, CascadePreRoute& pr) const;
  Status readCascade(const Entry& section, const std::string& path, const Config& cfg, CascadeConfig& c) const;
  Status readRuleMatch(const Entry& section, const std::string& path, RuleMatch& m) const;
  Status readRule(const Entry& item, const std::string& path, const Config& cfg, const RouteConfig& r,
                  RouteRule& rule) const;
  Status readBudget(const Entry& section, const std::string& path, BudgetCaps& b) const;
  Status readModelBudgets(const Entry& section, const std::string& path, const Config& cfg, const RouteConfig& r,
                          std::map<std::string, BudgetCaps>& out) const;
  Status readShadowGrade(const Entry& section, const std::string& path, const Config& cfg, ShadowGradeConfig& g) const;
  Status readShadow(const Entry& section, const std::string& path, const Config& cfg, ShadowConfig& sh) const;
  Status readRoute(const Entry& named, const std::string& path, const Config& cfg, RouteConfig& r) const;
  Status readRoutes(const Entry& section, const std::string& path, Config& cfg) const;

  // service_sections.cc
  Status readLedger(const Entry& section, const std::string& path, LedgerConfig& l) const;
  Status readLimits(const Entry& section, const std::string& path, LimitsConfig& l) const;
  Status readPrivacy(const Entry& section, const std::string& path, PrivacyConfig& p) const;
  Status readSessions(const Entry& section, const std::string& path, SessionsConfig& s) const;

  // cross_checks.cc: each fails at `line`, naming `path`.
  // `name` is a configured model.
  Status checkModelExists(const Config& cfg, const std::string& name, int line, std::string_view path) const;
  // `name` is a configured provider.
  Status checkProviderExists(const Config& cfg, const std::string& name, int line, std::string_view path) const;
  // A route named `named.key` may be added: no model has that name.
  Status checkRouteNameIsFree(const Config& cfg, const Entry& named, std::string_view path) const;
  // A rule's `model` target (if any) is a candidate of route `r`; `entries` are the rule's.
  Status checkRuleModel(const Config& cfg, const RouteConfig& r, const RouteRule& rule,
                        const std::vector<Entry>& entries, const std::string& path) const;
  // Every model of `r`'s cascade stages is a candidate of `r`.
  Status checkStagesAreCandidates(const RouteConfig& r, const std::string& path) const;
  // Every rule's `route` target exists and is not a rules route. `path` is the routes section's.
  Status checkRuleHops(const Config& cfg, const std::string& path) const;
  // At least one model was read; `top` are the document's top-level entries.
  Status checkHasModels(const Config& cfg, const std::vector<Entry>& top) const;
};

}  // namespace rightsize::config::detail
