// `rightsize keys create|list|revoke`: manage virtual API keys in the store the config names
// (limits.kind memory: limits.keys_file; redis: limits.url). A running gateway picks changes
// up within a second.
#include <chrono>
#include <iostream>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "app/commands.h"
#include "config/config.h"
#include "limits/key_store.h"
#include "limits/keys.h"

namespace rightsize::app {

namespace {

struct KeysOptions {
  std::string config_path;
  std::string name;
  double usd_per_day = 0, usd_per_month = 0;
  int64_t requests_per_minute = 0, tokens_per_minute = 0, requests_per_day = 0;
  std::string id;
  bool json = false;
};

Result<limits::OpenedStore> openStore(const KeysOptions& o) {
  // stdout carries only the command's result (the key, for `create`): library logs go to stderr.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("rightsize-keys"));
  spdlog::set_level(spdlog::level::warn);
  Result<config::Config> cfg = config::Config{};
  if (!o.config_path.empty()) cfg = config::loadConfigFile(o.config_path, config::processEnv());
  if (!cfg) return fail(cfg.error());
  return limits::openKeyStore(cfg->limits);
}

int fatal(const Error& e) {
  std::cerr << "rightsize keys: " << e.message << "\n";
  return e.code == ErrorCode::kInvalidArgument ? 2 : 1;
}

int runCreate(const KeysOptions& o) {
  limits::KeyLimits l;
  auto d = limits::usdLimitToNanos(o.usd_per_day, "--usd-per-day");
  auto m = limits::usdLimitToNanos(o.usd_per_month, "--usd-per-month");
  if (!d) return fatal(d.error());
  if (!m) return fatal(m.error());
  l.usd_per_day = *d;
  l.usd_per_month = *m;
  l.requests_per_minute = o.requests_per_minute;
  l.tokens_per_minute = o.tokens_per_minute;
  l.requests_per_day = o.requests_per_day;
  auto store = openStore(o);
  if (!store) return fatal(store.error());
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto k = limits::generateKey(o.name, l, now);
  if (!k) return fatal(k.error());
  if (auto st = store->store->add(k->record); !st) return fatal(st.error());
  if (o.json) {
    std::string body = limits::keyToJson(k->record, false);
    body.insert(1, "\"key\":\"" + k->secret_key + "\",");
    std::cout << body << "\n";
  } else {
    std::cout << k->secret_key << "\n";
    std::cerr << fmt::format("created key {} ({}). It is shown only this once: store it now.\n", k->record.id,
                             k->record.name);
  }
  return 0;
}

std::string limitText(const limits::KeyLimits& l) {
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : ", ") + s; };
  if (l.usd_per_day) add(fmt::format("${}/day", static_cast<double>(l.usd_per_day) / 1e9));
  if (l.usd_per_month) add(fmt::format("${}/month", static_cast<double>(l.usd_per_month) / 1e9));
  if (l.requests_per_day) add(fmt::format("{} req/day", l.requests_per_day));
  if (l.requests_per_minute) add(fmt::format("{} req/min", l.requests_per_minute));
  if (l.tokens_per_minute) add(fmt::format("{} tok/min", l.tokens_per_minute));
  return out.empty() ? "unlimited" : out;
}

int runList(const KeysOptions& o) {
  auto store = openStore(o);
  if (!store) return fatal(store.error());
  auto keys = store->store->list();
  if (!keys) return fatal(keys.error());
  if (o.json) {
    std::string out = "[";
    for (size_t i = 0; i < keys->size(); ++i) out += (i ? "," : "") + limits::keyToJson((*keys)[i], false);
    std::cout << out << "]\n";
    return 0;
  }
  std::cout << fmt::format("{:<14} {:<24} {:<8} {:<20} {}\n", "ID", "NAME", "STATUS", "CREATED (UTC)", "LIMITS");
  for (const auto& k : *keys) {
    const std::time_t t = static_cast<std::time_t>(k.created_unix);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    std::cout << fmt::format("{:<14} {:<24} {:<8} {:<20} {}\n", k.id, k.name, k.revoked ? "revoked" : "active", when,
                             limitText(k.limits));
  }
  return 0;
}

int runRevoke(const KeysOptions& o) {
  auto store = openStore(o);
  if (!store) return fatal(store.error());
  auto r = store->store->revoke(o.id);
  if (!r) return fatal(r.error());
  if (!*r) {
    std::cerr << "rightsize keys: no key with id " << o.id << "\n";
    return 1;
  }
  std::cout << "revoked " << o.id << "\n";
  return 0;
}

}  // namespace

void addKeysCommand(CLI::App& root, int& exit_code) {
  auto opt = std::make_shared<KeysOptions>();
  auto* keys = root.add_subcommand("keys", "Manage virtual API keys (stored hashed; see docs/limits.md)");
  keys->require_subcommand(1);
  auto add_config = [&](CLI::App* c) {
    c->add_option("--config,-c", opt->config_path,
                  "YAML configuration whose limits section names the key store (default: the keys file "
                  "rightsize-keys.json in the current directory)")
        ->check(CLI::ExistingFile);
    c->add_flag("--json", opt->json, "Print JSON");
  };

  auto* create = keys->add_subcommand("create", "Create a key and print it (shown only once)");
  add_config(create);
  create->add_option("--name", opt->name, "A label for the key (who or what uses it)")->required();
  create->add_option("--usd-per-day", opt->usd_per_day, "Budget in USD per UTC day (0: none)")->check(CLI::NonNegativeNumber);
  create->add_option("--usd-per-month", opt->usd_per_month, "Budget in USD per UTC month (0: none)")
      ->check(CLI::NonNegativeNumber);
  create->add_option("--requests-per-day", opt->requests_per_day, "Budget in successful requests per UTC day (0: none)")
      ->check(CLI::NonNegativeNumber);
  create->add_option("--rpm,--requests-per-minute", opt->requests_per_minute, "Rate limit in requests per minute (0: none)")
      ->check(CLI::NonNegativeNumber);
  create->add_option("--tpm,--tokens-per-minute", opt->tokens_per_minute, "Rate limit in tokens per minute (0: none)")
      ->check(CLI::NonNegativeNumber);
  create->callback([opt, &exit_code] { exit_code = runCreate(*opt); });

  auto* list = keys->add_subcommand("list", "List keys (ids, names, limits; never the keys)");
  add_config(list);
  list->callback([opt, &exit_code] { exit_code = runList(*opt); });

  auto* revoke = keys->add_subcommand("revoke", "Revoke a key by id");
  add_config(revoke);
  revoke->add_option("id", opt->id, "The key's id (the 12 hex characters after rsk_)")->required();
  revoke->callback([opt, &exit_code] { exit_code = runRevoke(*opt); });
}

}  // namespace rightsize::app
