#include "config/config_builder.h"

#include <fstream>
#include <sstream>
#include <utility>

#include <fmt/format.h>

namespace rightsize::config::detail {

Status ConfigBuilder::readCascadeCheck(const Entry& item, const std::string& path, const Config& cfg, CascadeCheck& c) const {
  std::string kind;
  std::string schema_file;
  const auto read_judge = [&](const Entry& e, const std::string& p) -> Status {
    if (auto st = readNonEmptyString(e, p, c.judge_model); !st) return st;
    return checkModelExists(cfg, c.judge_model, e.line, p);
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
  if (auto st = checkKeysAllowed(*entries, path, allowed.at(kind), fmt::format("kind {}", kind)); !st) return st;
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

Status ConfigBuilder::readCascadeStage(const Entry& item, const std::string& path, const Config& cfg, CascadeStage& s) const {
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
  if (auto st = checkKeysAllowed(*entries, path, allowed.at(kind), fmt::format("stage kind {}", kind)); !st) {
    return st;
  }
  if (auto st = readEntries(*entries, path, fields); !st) return st;
  s.line = item.line;
  if (kind == "model") {
    s.kind = CascadeStage::Kind::kModel;
    const Entry* m = find(*entries, "model");
    if (m == nullptr) return fail(errorAt(item.line, path, "missing required key 'model' for stage kind model"));
    if (auto st = readNonEmptyString(*m, child(path, "model"), model); !st) return st;
    if (auto st = checkModelExists(cfg, model, m->line, child(path, "model")); !st) return st;
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

Status ConfigBuilder::readPreRoute(const Entry& section, const std::string& path, CascadePreRoute& pr) const {
  const auto read_probability = [&](std::optional<double>& out) -> FieldReader {
    return [this, &out](const Entry& e, const std::string& p) -> Status {
      auto v = parseNumber(e, p);
      if (!v) return fail(v.error());
      if (!(*v >= 0 && *v <= 1)) return fail(errorAt(e.line, p, fmt::format("must be a probability in [0, 1], got {}", *v)));
      out = *v;
      return {};
    };
  };
  const std::vector<Field> fields = {
      {"router", filePath(pr.router)},
      {"direct_above", read_probability(pr.direct_above)},
      {"escalate_below", read_probability(pr.escalate_below)},
  };
  auto entries = readSection(section, path, fields);
  if (!entries) return fail(entries.error());
  pr.line = section.line;
  if (pr.router.empty()) return fail(errorAt(section.line, path, "missing required key 'router'"));
  if (pr.direct_above && pr.escalate_below && !(*pr.direct_above > *pr.escalate_below)) {
    return fail(errorAt(section.line, path, fmt::format("direct_above ({}) must be greater than escalate_below ({})",
                                                        *pr.direct_above, *pr.escalate_below)));
  }
  return {};
}

Status ConfigBuilder::readCascade(const Entry& section, const std::string& path, const Config& cfg, CascadeConfig& c) const {
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
      {"pre_route",
       [&](const Entry& e, const std::string& p) {
         CascadePreRoute pr;
         if (auto st = readPreRoute(e, p, pr); !st) return st;
         c.pre_route = std::move(pr);
         return Status{};
       }},
  };
  auto entries = readSection(section, path, fields);
  if (!entries) return fail(entries.error());
  if (c.pre_route && c.stages.empty()) {
    return fail(errorAt(c.pre_route->line, child(path, "pre_route"), "pre_route needs 'stages' (a staged cascade)"));
  }
  return {};
}

Status ConfigBuilder::readRuleMatch(const Entry& section, const std::string& path, RuleMatch& m) const {
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

Status ConfigBuilder::readRule(const Entry& item, const std::string& path, const Config& cfg, const RouteConfig& r,
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
  return checkRuleModel(cfg, r, rule, *entries, path);
}

Status ConfigBuilder::readBudget(const Entry& section, const std::string& path, BudgetCaps& b) const {
  const std::vector<Field> fields = {
      {"max_completion_tokens", optionalInt(b.max_completion_tokens, 1, kMaxUint32)},
      {"reasoning_effort", oneOf(b.reasoning_effort, {"minimal", "low", "medium", "high"})},
  };
  auto entries = readSection(section, path, fields);
  if (!entries) return fail(entries.error());
  return {};
}

Status ConfigBuilder::readModelBudgets(const Entry& section, const std::string& path, const Config& cfg, const RouteConfig& r,
                                       std::map<std::string, BudgetCaps>& out) const {
  return forEachNamed(section, path, [&](const Entry& n, const std::string& np) -> Status {
    if (cfg.models.count(n.key) == 0) return fail(errorAt(n.line, np, "unknown model"));
    (void)r;
    return readBudget(n, np, out[n.key]);
  });
}

Status ConfigBuilder::readShadowGrade(const Entry& section, const std::string& path, const Config& cfg,
                                      ShadowGradeConfig& g) const {
  std::string kind;
  const auto read_judge = [&](const Entry& e, const std::string& p) -> Status {
    if (auto st = readNonEmptyString(e, p, g.judge_model); !st) return st;
    return checkModelExists(cfg, g.judge_model, e.line, p);
  };
  const std::vector<Field> fields = {
      {"kind", alreadyRead()},
      {"extract", nonEmptyText(g.extract)},
      {"model", read_judge},
  };
  auto entries = entriesOf(section.value, path, section.line, keysOf(fields));
  if (!entries) return fail(entries.error());
  const Entry* kind_entry = find(*entries, "kind");
  if (kind_entry == nullptr) return fail(errorAt(section.line, path, "missing required key 'kind' (agree, judge)"));
  if (auto st = readEnum(*kind_entry, child(path, "kind"), {"agree", "judge"}, kind); !st) return st;
  const std::map<std::string, Choices> allowed = {{"agree", {"kind", "extract"}}, {"judge", {"kind", "model"}}};
  if (auto st = checkKeysAllowed(*entries, path, allowed.at(kind), fmt::format("kind {}", kind)); !st) return st;
  if (auto st = readEntries(*entries, path, fields); !st) return st;
  g.line = section.line;
  g.kind = kind == "judge" ? ShadowGradeConfig::Kind::kJudge : ShadowGradeConfig::Kind::kAgree;
  if (g.kind == ShadowGradeConfig::Kind::kJudge && g.judge_model.empty()) {
    return fail(errorAt(section.line, path, "missing required key 'model' for kind judge"));
  }
  return {};
}

Status ConfigBuilder::readShadow(const Entry& section, const std::string& path, const Config& cfg,
                                 ShadowConfig& sh) const {
  bool has_sample = false, has_cap = false;
  const auto read_sample = [&](const Entry& e, const std::string& p) -> Status {
    auto v = parseNumber(e, p);
    if (!v) return fail(v.error());
    if (!(*v >= 0 && *v <= 1)) return fail(errorAt(e.line, p, fmt::format("must be in [0, 1], got {}", *v)));
    sh.sample = *v;
    has_sample = true;
    return {};
  };
  const auto read_model = [&](const Entry& e, const std::string& p) -> Status {
    if (auto st = readNonEmptyString(e, p, sh.model); !st) return st;
    return checkModelExists(cfg, sh.model, e.line, p);
  };
  const auto read_cap = [&](const Entry& e, const std::string& p) -> Status {
    auto v = parseNumber(e, p);
    if (!v) return fail(v.error());
    if (!(*v >= 0 && *v <= 1e6)) return fail(errorAt(e.line, p, fmt::format("must be in [0, 1000000], got {}", *v)));
    sh.usd_per_day = usdToNanos(*v);
    has_cap = true;
    return {};
  };
  const std::vector<Field> fields = {
      {"sample", read_sample},
      {"model", read_model},
      {"grade", [&](const Entry& e, const std::string& p) { return readShadowGrade(e, p, cfg, sh.grade); }},
      {"usd_per_day", read_cap},
  };
  auto entries = readSection(section, path, fields);
  if (!entries) return fail(entries.error());
  // Both are required: a shadow that spends money without a stated cap or rate is a surprise.
  if (!has_sample) return fail(errorAt(section.line, path, "missing required key 'sample' (0..1)"));
  if (!has_cap) return fail(errorAt(section.line, path, "missing required key 'usd_per_day' (the daily shadow spend cap)"));
  sh.line = section.line;
  return {};
}

Status ConfigBuilder::readRoute(const Entry& named, const std::string& path, const Config& cfg, RouteConfig& r) const {
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
    return checkModelExists(cfg, r.reference, e.line, p);
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
      {"shadow",
       [&](const Entry& e, const std::string& p) { return readShadow(e, p, cfg, r.shadow.emplace()); }},
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
  if (r.shadow && r.shadow->model.empty()) r.shadow->model = r.reference;  // the yardstick's default
  return checkStagesAreCandidates(r, path);
}

Status ConfigBuilder::readRoutes(const Entry& section, const std::string& path, Config& cfg) const {
  auto st = forEachNamed(section, path, [&](const Entry& n, const std::string& route_path) -> Status {
    if (auto ns = checkRouteNameIsFree(cfg, n, route_path); !ns) return ns;
    RouteConfig r;
    r.name = n.key;
    if (auto rs = readRoute(n, route_path, cfg, r); !rs) return rs;
    cfg.routes.emplace(n.key, std::move(r));
    return {};
  });
  if (!st) return st;
  return checkRuleHops(cfg, path);
}

}  // namespace rightsize::config::detail
