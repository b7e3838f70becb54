#include <map>

#include "routing/policy.h"

namespace rightsize::routing {

// Factories, one per policy file.
Result<std::unique_ptr<Policy>> makeFixedPolicy(const PolicyContext& ctx);
Result<std::unique_ptr<Policy>> makeCheapestPolicy(const PolicyContext& ctx);
Result<std::unique_ptr<Policy>> makeLearnedPolicy(const PolicyContext& ctx);
Result<std::unique_ptr<Policy>> makeCascadePolicy(const PolicyContext& ctx);
Result<std::unique_ptr<Policy>> makeRulesPolicy(const PolicyContext& ctx);

namespace {

const std::map<std::string, PolicyFactory>& registry() {
  static const std::map<std::string, PolicyFactory> kRegistry = {
      {"fixed", makeFixedPolicy},
      {"cheapest", makeCheapestPolicy},
      {"learned", makeLearnedPolicy},
      {"cascade", makeCascadePolicy},
      {"rules", makeRulesPolicy},
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
  // Settings of one policy on a route with another are mistakes, not options to ignore.
  if (!ctx.route.cascade.checks.empty() && ctx.route.policy != "cascade")
    return fail(ErrorCode::kInvalidArgument, "route '" + ctx.route.name + "': 'cascade' is set but the policy is '" +
                                                 ctx.route.policy + "' (use policy: cascade)");
  if (!ctx.route.rules.empty() && ctx.route.policy != "rules")
    return fail(ErrorCode::kInvalidArgument, "route '" + ctx.route.name + "': 'rules' is set but the policy is '" +
                                                 ctx.route.policy + "' (use policy: rules)");
  return it->second(ctx);
}

std::vector<std::string> policyNames() {
  std::vector<std::string> out;
  for (const auto& [name, _] : registry()) out.push_back(name);
  return out;
}

}  // namespace rightsize::routing
