// Fuzzes the qplay-cli command line up to where a command starts its work. The input is split at newlines
// into arguments; the first names the command (native/cli/commands.h; inputs naming none are dropped). Then,
// as the commands do: parse_command_line with the command's flag table, the settings applied to an
// experiment (apply_settings: set_setting per flag, validate_experiment), check_settings_are_read, and every
// command flag's value through the list parsers (bit-widths, methods, seeds, FGSM sizes). Files are not
// read: --experiment and --model name paths, and the readers behind them have their own targets
// (fuzz_experiment_json, fuzz_model_file); nothing is trained.
// Properties: no crash or leak; every refusal has a message; required flags are present after a parse; an
// accepted command line gives an experiment that passes check_settings; a scope that reads every group
// refuses only a setting that does not apply or belongs to another method, a scope that reads nothing
// refuses any setting; the list parsers give values in their ranges.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine/experiment/state_table.h"
#include "core/engine/lab/lab_state.h"
#include "native/cli/command_line.h"
#include "native/cli/commands.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace qplay;
using namespace qplay::cli;

constexpr size_t kMaxArguments = 64;

std::vector<std::string> split_arguments(std::string_view text) {
  std::vector<std::string> arguments;
  size_t start = 0;
  while (start <= text.size() && arguments.size() < kMaxArguments) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    arguments.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return arguments;
}

void check_list_parsers(const std::string& name, const std::string& value) {
  if (Result<std::vector<int>> bits = parse_bit_list(value, 1, name); bits.ok()) {
    for (int b : *bits) FUZZ_CHECK(b >= 0 && b <= 8, name + "=" + value);
  } else {
    FUZZ_CHECK(!bits.status().message().empty());
  }
  if (Result<std::vector<std::string>> methods = parse_method_list(value); methods.ok()) {
    FUZZ_CHECK(!methods->empty());
    for (const std::string& method : *methods) {
      Experiment probe;
      FUZZ_CHECK(set_setting(probe, "method", method).ok(), method);
    }
  }
  if (Result<std::vector<int64_t>> seeds = parse_seeds(value); seeds.ok()) {
    FUZZ_CHECK(!seeds->empty());
    for (int64_t seed : *seeds) FUZZ_CHECK(seed >= 0 && seed <= 4294967295LL, value);
  }
  if (Result<std::vector<double>> epsilons = parse_epsilons(value); epsilons.ok()) {
    for (double epsilon : *epsilons) FUZZ_CHECK(epsilon >= 0 && epsilon <= 1, value);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> arguments =
      split_arguments(std::string_view(reinterpret_cast<const char*>(data), size));
  const Command* command = nullptr;
  for (const Command& known : commands())
    if (known.name == arguments.front()) command = &known;
  if (command == nullptr) return 0;
  arguments.erase(arguments.begin());

  Result<ParsedCommandLine> parsed = parse_command_line(arguments, *command->flags);
  if (!parsed.ok()) {
    FUZZ_CHECK(!parsed.status().message().empty());
    return 0;
  }
  if (!parsed->help)
    for (const CommandFlag& flag : *command->flags)
      if (flag.required) FUZZ_CHECK(parsed->has(flag.name), "missing --" + flag.name + " was accepted");

  Experiment experiment;
  const Status applied = apply_settings(*parsed, experiment);
  if (applied.ok()) {
    const Status settings = check_settings(experiment);
    FUZZ_CHECK(settings.ok(), "accepted, but check_settings says: " + settings.message());
    const std::string name(command->name);
    const SettingScope everything = {{"data", "model", "training", "method", "quantization", "compute"},
                                     {},
                                     {},
                                     {std::string(choice_name(experiment.method))},
                                     {}};
    const Status read_all = check_settings_are_read(name, *parsed, experiment, everything);
    FUZZ_CHECK(read_all.ok() || read_all.message().find("applies only") != std::string::npos ||
                   read_all.message().find("is a setting of method") != std::string::npos,
               read_all.message());
    const Status read_none = check_settings_are_read(name, *parsed, experiment, SettingScope{});
    FUZZ_CHECK(read_none.ok() == parsed->settings.empty(), read_none.message());
  } else {
    FUZZ_CHECK(!applied.message().empty());
  }
  for (const auto& [name, value] : parsed->command_flags)
    if (!value.empty()) check_list_parsers(name, value);
  return 0;
}
