// The subcommands of qplay-cli. Each takes its arguments (after the command name) and returns
// the process exit code: 0 success, 1 the work failed (e.g. training diverged), 2 bad input
// (unknown flag, bad value, missing or corrupt file).
#pragma once

#include <string>
#include <vector>

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

}  // namespace qplay::cli
