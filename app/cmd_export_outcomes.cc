// `rightsize export-outcomes`: POST /v1/feedback scores -> an outcome file for `rightsize train`.
#include <iostream>

#include "app/commands.h"
#include "config/config.h"
#include "ledger/outcome_export.h"

namespace rightsize::app {

namespace {

struct ExportCliOptions {
  std::string config_path;
  std::string db_path;
  std::string dsn;
  std::string out;
};

int runExport(const ExportCliOptions& opt) {
  ledger::LedgerSource src;
  if (!opt.db_path.empty() && !opt.dsn.empty()) {
    std::cerr << "rightsize export-outcomes: give --db PATH or --dsn DSN, not both\n";
    return 2;
  }
  if (!opt.db_path.empty()) {
    src.location = opt.db_path;
  } else if (!opt.dsn.empty()) {
    src.kind = ledger::LedgerSource::Kind::kPostgres;
    src.location = opt.dsn;
  } else {
    if (opt.config_path.empty()) {
      std::cerr << "rightsize export-outcomes: give --config FILE (its ledger), --db PATH or --dsn DSN\n";
      return 2;
    }
    auto cfg = config::loadConfigFile(opt.config_path, config::processEnv());
    if (!cfg) {
      std::cerr << "rightsize export-outcomes: invalid configuration: " << cfg.error().message << "\n";
      return 2;
    }
    if (cfg->ledger.kind == config::LedgerKind::kOff || (cfg->ledger.kind == config::LedgerKind::kSqlite && cfg->ledger.path == ":memory:")) {
      std::cerr << "rightsize export-outcomes: the configuration keeps no ledger to export from\n";
      return 2;
    }
    if (cfg->ledger.kind == config::LedgerKind::kPostgres) {
      src.kind = ledger::LedgerSource::Kind::kPostgres;
      src.location = cfg->ledger.dsn;
    } else {
      src.location = cfg->ledger.path;
    }
  }
  auto sum = ledger::exportOutcomes(src, opt.out);
  if (!sum) {
    std::cerr << "rightsize export-outcomes: " << sum.error().message << "\n";
    return 2;
  }
  std::cerr << "rightsize export-outcomes: " << sum->written << " outcome(s) written to " << opt.out << " from "
            << sum->requests_with_feedback << " request(s) with feedback; skipped " << sum->unknown_request
            << " unknown request id(s), " << sum->no_prompt << " without a stored prompt (ledger.store_prompts), "
            << sum->failed_request << " failed request(s); " << sum->shadow_written
            << " shadow-graded request(s) written, " << sum->shadow_skipped
            << " shadow grade(s) skipped (error, or sensitive: no prompt)\n";
  return 0;
}

}  // namespace

void addExportOutcomesCommand(CLI::App& root, int& exit_code) {
  auto opt = std::make_shared<ExportCliOptions>();
  auto* cmd = root.add_subcommand("export-outcomes", "Turn POST /v1/feedback scores stored in the ledger into an "
                                                     "outcome file for `rightsize train`");
  cmd->add_option("--config,-c", opt->config_path, "YAML configuration file (reads its ledger)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--db", opt->db_path, "SQLite ledger file (instead of the configuration's)");
  cmd->add_option("--dsn", opt->dsn, "PostgreSQL ledger (instead of the configuration's)");
  cmd->add_option("--out,-o", opt->out, "Outcome file to write (gzip when it ends in .gz)")->required();
  cmd->callback([opt, &exit_code] { exit_code = runExport(*opt); });
}

}  // namespace rightsize::app
