// Command-line parsing for qplay-cli: `--key=value` or `--key value`. Experiment settings come
// from the state table (so every setting is a flag with the same name and range everywhere);
// each command adds its own few flags (--model, --out, --csv, ...). Every flag is validated with a
// message that says what is allowed.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/experiment/experiment.h"

namespace qplay::cli {

struct CommandFlag {
  std::string name;
  std::string help;
  std::string default_value;  // empty: no default (optional, or required when `required`)
  bool required = false;
};

struct ParsedCommandLine {
  std::map<std::string, std::string> command_flags;           // the command's own flags, defaults filled in
  std::vector<std::pair<std::string, std::string>> settings;  // experiment settings, in order given
  bool help = false;

  const std::string& flag(const std::string& name) const { return command_flags.at(name); }
  bool has(const std::string& name) const {
    auto it = command_flags.find(name);
    return it != command_flags.end() && !it->second.empty();
  }
};

Result<ParsedCommandLine> parse_command_line(const std::vector<std::string>& arguments,
                                             const std::vector<CommandFlag>& command_flags);

// Applies the parsed settings to an experiment (after --experiment=<file> was loaded, if given).
Status apply_settings(const ParsedCommandLine& parsed, Experiment& experiment);

// Parses a bit-width list: "2-8", "2,4,8", "4,6,8,float" (float = 0).
Result<std::vector<int>> parse_bit_list(const std::string& text, int min_bits, const std::string& flag_name);

std::string describe_command_flags(const std::vector<CommandFlag>& flags);

}  // namespace qplay::cli
