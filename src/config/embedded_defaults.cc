#include <optional>
#include <string>

#include "config/config.h"

namespace rightsize::config {
namespace {

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

}  // namespace

Result<Config> embeddedDefaults(const std::string& data_dir) {
  std::string dir = data_dir.empty() ? std::string(".") : data_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const EnvLookup only_data_dir = [&dir](const std::string& name) -> std::optional<std::string> {
    if (name == kDataDirVariable) return dir;
    return std::nullopt;
  };
  return parseConfig(kEmbeddedYaml, kEmbeddedSource, only_data_dir, "");
}

}  // namespace rightsize::config
