#include <map>

#include "routing/policy.h"

namespace rightsize::routing {

// Factories, one per policy file.
Result<std::unique_ptr<Policy>> makeFixedPolicy(const PolicyContext& ctx);
Result<std::unique_ptr<Policy>> makeCheapestPolicy(const PolicyContext& ctx);
Result<std::unique_ptr<Policy>> makeLearnedPolicy(const PolicyContext& ctx);

namespace {

const std::map<std::string, PolicyFactory>& registry() {
  static const std::map<std::string, PolicyFactory> kRegistry = {
      {"fixed", makeFixedPolicy},
      {"cheapest", makeCheapestPolicy},
      {"learned", makeLearnedPolicy},
  };
  return kRegistry;
}

}  // namespace

Result<std::unique_ptr<Policy>> makePolicy(const PolicyContext& ctx) {
  auto it = registry().find(ctx.route.policy);
  if (it == registry().end()) {
    std::string names;
    for (const auto& n : policyNames()) names += (names.empty() ? "" : ", ") + n;
    return fail(ErrorCode::kInvalidArgument,
                "route '" + ctx.route.name + "': unknown policy '" + ctx.route.policy + "' (known: " + names + ")");
  }
  return it->second(ctx);
}

std::vector<std::string> policyNames() {
  std::vector<std::string> out;
  for (const auto& [name, _] : registry()) out.push_back(name);
  return out;
}

}  // namespace rightsize::routing
