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

// Which experiment settings a command reads. A setting flag the command would not read is refused
// (exit 2) rather than accepted and ignored: `eval --epochs=5` changes nothing, so it says so.
struct SettingScope {
  // State-table groups read: "data", "model", "training", "method", ... (a method's own group, "qreg" ...,
  // through `methods`).
  std::vector<std::string_view> groups;
  // Single settings read outside those groups ("seed" draws toy data).
  std::vector<std::string_view> keys;
  // Settings the command's own flags replace, with what to use instead ("use --sweep_weight_bits").
  std::vector<std::pair<std::string_view, std::string_view>> replaced;
  // The methods whose knobs are read (the experiment's method, compare's list).
  std::vector<std::string> methods;
  // Settings this command reads only in some experiments: eval reads training images only to calibrate
  // quantized activations, so --train_limit counts only then.
  struct Condition {
    std::string_view key;
    bool (*reads)(const Experiment&);
    std::string_view otherwise;  // why it would change nothing otherwise
  };
  std::vector<Condition> conditions;
};
// The first setting given on the command line that `command` would not read: outside `scope`, or one that
// does not apply in `context`, the experiment the command runs (--momentum with optimizer adam).
Status check_settings_are_read(const std::string& command, const ParsedCommandLine& parsed,
                               const Experiment& context, const SettingScope& scope);

// Parses a bit-width list: "2-8", "2,4,8", "4,6,8,float" (float = 0).
Result<std::vector<int>> parse_bit_list(const std::string& text, int min_bits, const std::string& flag_name);

// compare's lists (its methods are the lab's: parse_method_list): FGSM attack sizes ("0.02,0.05" from 0 to
// 1, or "none"), seeds (a count 1..100 meaning 1..N, or a list by --seed's rule).
Result<std::vector<double>> parse_epsilons(const std::string& text);
Result<std::vector<int64_t>> parse_seeds(const std::string& text);

// A command flag holding an integer or a number within [min, max] (no spaces, no trailing text); the message
// names the flag and the range.
Result<long> parse_integer_flag(const ParsedCommandLine& parsed, const std::string& name, long min, long max);
Result<double> parse_number_flag(const ParsedCommandLine& parsed, const std::string& name, double min,
                                 double max);
// "a,b,c" -> {"a", "b", "c"}; "" -> {""}.
std::vector<std::string> split_list(const std::string& text);

std::string describe_command_flags(const std::vector<CommandFlag>& flags);

}  // namespace qplay::cli
