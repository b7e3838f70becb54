// Fuzzes configuration loading: parseConfig on arbitrary YAML text (unknown keys, wrong types,
// ${VAR} expansion with a fixed fake environment, cross references). Any input must end in a
// Config or an error naming the source; never a crash, an exception escaping, or a sanitizer report.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string yaml(reinterpret_cast<const char*>(data), size);
  rightsize::config::EnvLookup env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "RS_FUZZ_KEY") return std::string("sk-fuzz");
    if (name == "EMPTY") return std::string();
    return std::nullopt;
  };
  auto cfg = rightsize::config::parseConfig(yaml, "fuzz.yaml", env, "");
  if (!cfg) {
    if (cfg.error().message.find("fuzz.yaml") == std::string::npos) std::abort();  // errors name the source
    return 0;
  }
  // A valid config's cross references hold.
  for (const auto& [name, m] : cfg->models)
    if (!cfg->providers.count(m.provider)) std::abort();
  for (const auto& [name, r] : cfg->routes) {
    if (r.candidates.empty()) std::abort();
    for (const auto& c : r.candidates)
      if (!cfg->models.count(c)) std::abort();
  }
  return 0;
}
