// The subcommands of qplay-cli. Each takes its arguments (after the command name) and returns
// the process exit code: 0 success, 1 the work failed (e.g. training diverged), 2 bad input
// (unknown flag, bad value, missing or corrupt file).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "native/cli/command_line.h"

namespace qplay::cli {

constexpr int kExitSuccess = 0;
constexpr int kExitFailure = 1;
constexpr int kExitBadInput = 2;

int train_command(const std::vector<std::string>& arguments);
int sweep_command(const std::vector<std::string>& arguments);
int eval_command(const std::vector<std::string>& arguments);
int grad_command(const std::vector<std::string>& arguments);
int export_command(const std::vector<std::string>& arguments);
int demo_command(const std::vector<std::string>& arguments);
int compare_command(const std::vector<std::string>& arguments);
int allocate_command(const std::vector<std::string>& arguments);

// Each command's own flags (beside the experiment settings), defined beside the command.
extern const std::vector<CommandFlag> kTrainFlags, kDemoFlags, kSweepFlags, kEvalFlags, kGradFlags,
    kExportFlags, kCompareFlags, kAllocateFlags;

struct Command {
  std::string_view name;
  const std::vector<CommandFlag>* flags;
  int (*run)(const std::vector<std::string>& arguments);
};
// Every command, in the order `qplay-cli help` lists them.
const std::vector<Command>& commands();

}  // namespace qplay::cli
