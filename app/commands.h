#pragma once
// Each subcommand lives in its own file and registers itself on the root CLI11 app.
// The callbacks set the process exit code through the returned int reference.

#include <CLI/CLI.hpp>

namespace rightsize::app {

// Each add* registers one subcommand; when it runs, its callback stores the process exit
// code in `exit_code`.
void addServeCommand(CLI::App& root, int& exit_code);
void addRouterCommands(CLI::App& root, int& exit_code);   // train, decide, score, simulate
void addRouteCommand(CLI::App& root, int& exit_code);     // route (explain one decision)
void addReportCommand(CLI::App& root, int& exit_code);    // report (spend and savings from the ledger)
void addExportOutcomesCommand(CLI::App& root, int& exit_code);  // export-outcomes (feedback -> outcomes)
void addEvalCommand(CLI::App& root, int& exit_code);      // eval (run a suite, write outcomes and a report)
void addKeysCommand(CLI::App& root, int& exit_code);      // keys create|list|revoke (virtual API keys)
void addPlanCommand(CLI::App& root, int& exit_code);      // plan (cheapest policy keeping the reference's quality)

}  // namespace rightsize::app
