#pragma once
// Helpers shared by the config unit tests: parse YAML text with a fake environment.

#include <map>
#include <optional>
#include <string>

#include "config/config.h"

namespace rightsize::config::testing {

// An EnvLookup over a fixed map: no real environment involved.
inline EnvLookup fakeEnv(std::map<std::string, std::string> vars = {}) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// Parses `yaml` as "config.yaml" with `vars` as the environment.
inline Result<Config> parse(const std::string& yaml, std::map<std::string, std::string> vars = {},
                            const std::string& base_dir = "") {
  return parseConfig(yaml, "config.yaml", fakeEnv(std::move(vars)), base_dir);
}

// The error message of parsing `yaml`, or "<parsed without error>" so a test expecting an
// error fails with a readable message instead of crashing.
inline std::string errorOf(const std::string& yaml, std::map<std::string, std::string> vars = {}) {
  auto cfg = parse(yaml, std::move(vars));
  if (cfg) return "<parsed without error>";
  return cfg.error().message;
}

// A valid provider+model block to append sections to.
inline const char* kMinimalModels = R"(providers:
  up: {kind: openai, base_url: "https://example.test/v1"}
models:
  small: {provider: up}
  big: {provider: up}
)";

// kMinimalModels with a `routes:` section.
inline std::string withRoutes(const std::string& routes) { return std::string(kMinimalModels) + "routes:\n" + routes; }

}  // namespace rightsize::config::testing
