// The `rightsize` binary: thin subcommands over the libraries.
#include <cstdio>

#include "app/commands.h"

int main(int argc, char** argv) {
  CLI::App root{"rightsize — a self-hosted LLM gateway that routes each request to the cheapest model that will "
                "answer well enough"};
  root.require_subcommand(1);
  root.set_version_flag("--version", "rightsize 0.1.0");
  int exit_code = 0;
  rightsize::app::addServeCommand(root, exit_code);
  rightsize::app::addRouterCommands(root, exit_code);
  rightsize::app::addRouteCommand(root, exit_code);
  rightsize::app::addReportCommand(root, exit_code);
  rightsize::app::addExportOutcomesCommand(root, exit_code);
  rightsize::app::addEvalCommand(root, exit_code);
  rightsize::app::addKeysCommand(root, exit_code);
  rightsize::app::addPlanCommand(root, exit_code);
  try {
    root.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return root.exit(e);
  }
  return exit_code;
}
