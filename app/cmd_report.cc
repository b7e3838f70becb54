// `rightsize report`: model mix, spend, savings and latency from the ledger.
#include <chrono>
#include <iostream>

#include "app/commands.h"
#include "config/config.h"
#include "ledger/report.h"

namespace rightsize::app {

namespace {

struct ReportCliOptions {
  std::string config_path;
  std::string db_path;
  std::string dsn;
  std::string since;
  std::string until;
  std::string by = "route";
  bool json = false;
};

int runReport(const ReportCliOptions& opt) {
  std::string db_path = opt.db_path;
  std::string dsn = opt.dsn;
  if (!db_path.empty() && !dsn.empty()) {
    std::cerr << "rightsize report: give --db PATH or --dsn DSN, not both\n";
    return 2;
  }
  if (db_path.empty() && dsn.empty()) {
    if (opt.config_path.empty()) {
      std::cerr << "rightsize report: give --config FILE (its ledger), --db PATH or --dsn DSN\n";
      return 2;
    }
    auto cfg = config::loadConfigFile(opt.config_path, config::processEnv());
    if (!cfg) {
      std::cerr << "rightsize report: invalid configuration: " << cfg.error().message << "\n";
      return 2;
    }
    if (cfg->ledger.kind == config::LedgerKind::kOff) {
      std::cerr << "rightsize report: the configuration's ledger.kind is 'off': no ledger to report on "
                   "(use --db PATH or --dsn DSN to name one)\n";
      return 2;
    }
    if (cfg->ledger.path == ":memory:") {
      std::cerr << "rightsize report: the configuration's ledger is in memory (ledger.path ':memory:'); "
                   "nothing to report\n";
      return 2;
    }
    if (cfg->ledger.kind == config::LedgerKind::kPostgres) dsn = cfg->ledger.dsn;
    else db_path = cfg->ledger.path;
  }
  ledger::ReportOptions ro;
  auto by = ledger::parseReportGrouping(opt.by);
  if (!by) {
    std::cerr << "rightsize report: " << by.error().message << "\n";
    return 2;
  }
  ro.by = *by;
  auto now = std::chrono::system_clock::now();
  if (!opt.since.empty()) {
    auto t = ledger::parseReportTime(opt.since, now);
    if (!t) {
      std::cerr << "rightsize report: --since: " << t.error().message << "\n";
      return 2;
    }
    ro.since_us = *t;
  }
  if (!opt.until.empty()) {
    auto t = ledger::parseReportTime(opt.until, now);
    if (!t) {
      std::cerr << "rightsize report: --until: " << t.error().message << "\n";
      return 2;
    }
    ro.until_us = *t;
  }
  auto report = dsn.empty() ? ledger::buildReport(db_path, ro) : ledger::buildReportPostgres(dsn, ro);
  if (!report) {
    std::cerr << "rightsize report: " << report.error().message << "\n";
    return 2;
  }
  std::cout << (opt.json ? ledger::formatReportJson(*report) : ledger::formatReportText(*report));
  return 0;
}

}  // namespace

void addReportCommand(CLI::App& root, int& exit_code) {
  auto opt = std::make_shared<ReportCliOptions>();
  auto* cmd = root.add_subcommand("report", "Model mix, spend, savings and latency per route/key/day/model, from "
                                            "the ledger (SQLite or PostgreSQL)");
  cmd->add_option("--config,-c", opt->config_path, "YAML configuration file (the report reads its ledger)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--db", opt->db_path, "SQLite ledger file (instead of the configuration's)");
  cmd->add_option("--dsn", opt->dsn, "PostgreSQL ledger, e.g. postgresql://user@host/db (instead of the "
                                     "configuration's)");
  cmd->add_option("--since", opt->since, "Start (inclusive): 2026-11-22, 2026-11-22T10:00:00Z, or 30m/24h/7d ago");
  cmd->add_option("--until", opt->until, "End (exclusive), same forms as --since");
  cmd->add_option("--by", opt->by, "Group by route, key, day (UTC) or model")->default_val("route");
  cmd->add_flag("--json", opt->json, "Print one JSON object instead of a table");
  cmd->callback([opt, &exit_code] { exit_code = runReport(*opt); });
}

}  // namespace rightsize::app
