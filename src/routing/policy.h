#pragma once
// Routing policies: given the human's ask and a route's candidates, choose the model to call
// and the order in which to try the rest. Pure: no I/O on the decision path, thread-safe
// (decide() is const and may run concurrently on every io thread).
//
// A new policy is a new .cc file defining a factory plus one registration line in
// policy_registry.cc.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "config/config.h"

namespace rightsize::routing {

struct CandidateState {
  const config::ModelConfig* model = nullptr;  // never null; owned by the Config snapshot
  bool available = true;                       // false when its provider's circuit is open
  bool on_prem = false;
  // Estimated cost of this request on this model (routing/cost_estimate.h estimateCost).
  Nanos est_cost = 0;
};

// What the rules policy may match on besides the ask. All views live as long as the request.
struct RequestFacts {
  std::span<const std::pair<std::string, std::string>> metadata;  // body "metadata" (string values)
  std::optional<std::string_view> user;        // body "user"
  bool sensitive = false;                      // rightsize.sensitive / x-rightsize-sensitive
  int64_t prompt_tokens = 0;                   // estimated
  // A request header by lower-case name; nullopt when absent. May be empty (no headers).
  std::function<std::optional<std::string_view>(std::string_view)> header;
};

struct DecisionInput {
  std::string_view ask;                        // system prompt + last user turn (see api::humanAsk)
  std::span<const CandidateState> candidates;  // in the route's configured order
  std::optional<double> quality;               // per-request target (rightsize.quality), in (0, 1]
  const RequestFacts* facts = nullptr;         // null: no request facts (CLI); rules then match on the ask only
};

struct Decision {
  // Indices into DecisionInput::candidates: order[0] is the chosen model; the rest are
  // tried next if it fails (the route's `fallback` list comes after these). Never empty on success,
  // unless `route` is set.
  std::vector<size_t> order;
  double knob = -1;                            // learned: the knob used; -1 when not applicable
  // Predicted success probability per candidate (same indexing), empty when not applicable.
  std::vector<double> predicted_quality;
  std::string reason;                          // one line for logs and `rightsize route`
  // rules: the request goes to this route instead (its own policy decides); empty otherwise.
  std::string route;
};

class Policy {
 public:
  virtual ~Policy() = default;
  // Chooses among the available candidates. Fails with kUnavailable when no candidate is
  // available.
  virtual Result<Decision> decide(const DecisionInput& in) const = 0;
  virtual std::string_view name() const = 0;
};

// What a factory gets to build a policy for one route. References live as long as the
// Config snapshot the route belongs to.
struct PolicyContext {
  const config::Config& config;
  const config::RouteConfig& route;
};

using PolicyFactory = std::function<Result<std::unique_ptr<Policy>>(const PolicyContext&)>;

// Builds the policy named by route.policy. kInvalidArgument for an unknown name; factories
// report their own failures (e.g. a bad router file is kCorruptData).
Result<std::unique_ptr<Policy>> makePolicy(const PolicyContext& ctx);

// Names of the registered policies, for error messages and --help.
std::vector<std::string> policyNames();

// Helper shared by policies: indices of available candidates, cheapest estimated cost
// first (ties keep configured order).
std::vector<size_t> availableByCost(std::span<const CandidateState> candidates);

}  // namespace rightsize::routing
