// policy: rules — ordered rules over request facts; the first rule that matches names a
// candidate model or another route. No match: the first available candidate.
#include <memory>

#include <fmt/format.h>
#include <re2/re2.h>

#include "routing/policy.h"

namespace rightsize::routing {

namespace {

struct CompiledRule {
  const config::RouteRule* rule = nullptr;
  std::unique_ptr<re2::RE2> ask;  // null when the rule has no ask pattern
  size_t model_index = 0;         // into the route's candidates, when rule->model is set
};

bool valueMatches(std::string_view want, std::string_view got) { return want == "*" || want == got; }

bool matches(const CompiledRule& cr, const DecisionInput& in) {
  const config::RuleMatch& w = cr.rule->when;
  const RequestFacts* f = in.facts;
  for (const auto& [key, want] : w.metadata) {
    if (!f) return false;
    bool found = false;
    for (const auto& [k, v] : f->metadata) {
      if (k == key) {
        found = valueMatches(want, v);
        break;
      }
    }
    if (!found) return false;
  }
  for (const auto& [name, want] : w.headers) {
    if (!f || !f->header) return false;
    auto got = f->header(name);
    if (!got || !valueMatches(want, *got)) return false;
  }
  if (w.user && (!f || !f->user || !valueMatches(*w.user, *f->user))) return false;
  if (w.sensitive && (f ? f->sensitive : false) != *w.sensitive) return false;
  if (w.min_tokens || w.max_tokens) {
    const int64_t t = f ? f->prompt_tokens : static_cast<int64_t>((in.ask.size() + 3) / 4);
    if (w.min_tokens && t < *w.min_tokens) return false;
    if (w.max_tokens && t > *w.max_tokens) return false;
  }
  if (cr.ask && !re2::RE2::PartialMatch(re2::StringPiece(in.ask.data(), in.ask.size()), *cr.ask)) return false;
  return true;
}

class RulesPolicy final : public Policy {
 public:
  explicit RulesPolicy(std::vector<CompiledRule> rules) : rules_(std::move(rules)) {}

  Result<Decision> decide(const DecisionInput& in) const override {
    Decision d;
    for (size_t i = 0; i < rules_.size(); ++i) {
      const CompiledRule& cr = rules_[i];
      if (!matches(cr, in)) continue;
      if (!cr.rule->route.empty()) {
        d.route = cr.rule->route;
        d.reason = fmt::format("rules: rule {} -> route {}", i, cr.rule->route);
        return d;
      }
      if (cr.model_index < in.candidates.size() && in.candidates[cr.model_index].available) {
        d.order.push_back(cr.model_index);
        for (size_t j = 0; j < in.candidates.size(); ++j)
          if (j != cr.model_index && in.candidates[j].available) d.order.push_back(j);
        d.reason = fmt::format("rules: rule {} -> {}", i, cr.rule->model);
        return d;
      }
      // The rule's model is unavailable (circuit open, over the cost cap): try later rules.
    }
    for (size_t j = 0; j < in.candidates.size(); ++j)
      if (in.candidates[j].available) d.order.push_back(j);
    if (d.order.empty()) return fail(ErrorCode::kUnavailable, "no candidate available (all circuits open)");
    d.reason = "rules: no rule matched; first available candidate";
    return d;
  }
  std::string_view name() const override { return "rules"; }

 private:
  std::vector<CompiledRule> rules_;
};

}  // namespace

Result<std::unique_ptr<Policy>> makeRulesPolicy(const PolicyContext& ctx) {
  const config::RouteConfig& r = ctx.route;
  if (r.rules.empty())
    return fail(ErrorCode::kInvalidArgument, fmt::format("route '{}': policy rules needs a 'rules' list", r.name));
  std::vector<CompiledRule> rules;
  for (size_t i = 0; i < r.rules.size(); ++i) {
    const config::RouteRule& rule = r.rules[i];
    CompiledRule cr;
    cr.rule = &rule;
    if (!rule.when.ask.empty()) {
      re2::RE2::Options opts;
      opts.set_log_errors(false);
      cr.ask = std::make_unique<re2::RE2>(rule.when.ask, opts);
      if (!cr.ask->ok())
        return fail(ErrorCode::kInvalidArgument, fmt::format("{}:{}: routes.{}.rules[{}].when.ask: bad pattern: {}",
                                                             ctx.config.source, rule.line, r.name, i, cr.ask->error()));
    }
    if (!rule.model.empty()) {
      for (size_t j = 0; j < r.candidates.size(); ++j)
        if (r.candidates[j] == rule.model) cr.model_index = j;
    }
    rules.push_back(std::move(cr));
  }
  return std::unique_ptr<Policy>(std::make_unique<RulesPolicy>(std::move(rules)));
}

}  // namespace rightsize::routing
