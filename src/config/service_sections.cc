#include "config/config_builder.h"

#include <utility>

#include <fmt/format.h>

namespace rightsize::config::detail {

// `kind` is read first: which other keys are allowed depends on it. `off` accepts and
// ignores both, so a ledger can be switched off by editing one line.
Status ConfigBuilder::readLedger(const Entry& section, const std::string& path, LedgerConfig& l) const {
  const std::vector<Field> fields = {
      {"kind", alreadyRead()},
      {"path", nonEmptyText(l.path)},  // resolved against base_dir at the end, default included
      {"dsn", nonEmptyText(l.dsn)},
      {"store_prompts", boolean(l.store_prompts)},
      {"spill_path", nonEmptyText(l.spill_path)},
      {"store_responses", boolean(l.store_responses)},
      {"response_retention_days", integer(l.response_retention_days, 1, 3650)},
      {"retention_days", integer(l.retention_days, 0, 36500)},
  };
  auto entries = entriesOf(section.value, path, section.line, keysOf(fields));
  if (!entries) return fail(entries.error());
  if (const Entry* kind = find(*entries, "kind")) {
    std::string name;
    if (auto st = readEnum(*kind, child(path, "kind"), {"sqlite", "postgres", "off"}, name); !st) return st;
    l.kind = name == "sqlite" ? LedgerKind::kSqlite : name == "postgres" ? LedgerKind::kPostgres : LedgerKind::kOff;
  }
  for (const Entry& e : *entries) {
    if ((e.key == "dsn" && l.kind == LedgerKind::kSqlite) || (e.key == "path" && l.kind == LedgerKind::kPostgres)) {
      return fail(errorAt(e.line, path, fmt::format("'{}' is not valid for kind {}", e.key, ledgerKindName(l.kind))));
    }
  }
  if (auto st = readEntries(*entries, path, fields); !st) return st;
  if (l.kind == LedgerKind::kPostgres && l.dsn.empty()) {
    return fail(errorAt(section.line, path, "missing required key 'dsn' for kind postgres"));
  }
  return {};
}

Status ConfigBuilder::readLimits(const Entry& section, const std::string& path, LimitsConfig& l) const {
  const auto read_url = [&](const Entry& e, const std::string& p) -> Status {
    if (auto st = readNonEmptyString(e, p, l.url); !st) return st;
    if (!startsWith(l.url, "redis://") && !startsWith(l.url, "rediss://")) {
      return fail(errorAt(e.line, p, "must start with redis:// or rediss://"));
    }
    return {};
  };
  const std::vector<Field> fields = {
      {"kind", alreadyRead()},
      {"url", read_url},
      {"keys_file", nonEmptyText(l.keys_file)},  // resolved against base_dir at the end
      {"on_error", oneOf(l.on_error, {"open", "closed"})},
      {"timeout_ms", millis(l.timeout, 1)},
  };
  auto entries = entriesOf(section.value, path, section.line, keysOf(fields));
  if (!entries) return fail(entries.error());
  if (const Entry* kind = find(*entries, "kind")) {
    std::string name;
    if (auto st = readEnum(*kind, child(path, "kind"), {"memory", "redis"}, name); !st) return st;
    l.kind = name == "redis" ? LimitsKind::kRedis : LimitsKind::kMemory;
  }
  if (const Entry* url = find(*entries, "url"); url != nullptr && l.kind != LimitsKind::kRedis) {
    return fail(errorAt(url->line, path, "'url' is only valid for kind redis"));
  }
  if (auto st = readEntries(*entries, path, fields); !st) return st;
  if (l.kind == LimitsKind::kRedis && l.url.empty()) {
    return fail(errorAt(section.line, path, "missing required key 'url' for kind redis"));
  }
  return {};
}

Status ConfigBuilder::readPrivacy(const Entry& section, const std::string& path, PrivacyConfig& p) const {
  static const Choices kKinds = {"email", "phone", "payment_card", "iban", "national_id", "secret"};
  const auto read_kinds = [&](const Entry& e, const std::string& kp) -> Status {
    return forEachItem(e, kp, "detector kinds", [&](const Entry& item, const std::string& ip) -> Status {
      std::string k;
      if (auto st = readEnum(item, ip, kKinds, k); !st) return st;
      p.kinds.push_back(std::move(k));
      return {};
    });
  };
  const std::vector<Field> fields = {
      {"pii_detection", boolean(p.pii_detection)},
      {"kinds", read_kinds},
  };
  auto entries = readSection(section, path, fields);
  if (!entries) return fail(entries.error());
  return {};
}

Status ConfigBuilder::readSessions(const Entry& section, const std::string& path, SessionsConfig& s) const {
  const std::vector<Field> fields = {
      {"ttl_ms", millis(s.ttl, 1)},
      {"use_openai_user", boolean(s.use_openai_user)},
      {"max_entries", integer(s.max_entries, 1, kMaxUint32)},
  };
  auto entries = readSection(section, path, fields);
  if (!entries) return fail(entries.error());
  return {};
}

}  // namespace rightsize::config::detail
