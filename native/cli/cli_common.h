// What several qplay-cli commands share: building the experiment from --experiment and flags,
// training a Run with a progress bar, and loading a saved model with its data set.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/experiment/run.h"
#include "core/engine/experiment/saved_model.h"
#include "native/cli/command_line.h"

namespace qplay::cli {

// Defaults, then the --experiment file (if given), then the settings flags.
Result<Experiment> experiment_from_command_line(const ParsedCommandLine& parsed);

// Trains to the end, printing one line per epoch and a progress bar with ETA.
Status train_with_progress(Run& run, bool quiet);

// The quantization a command applies, in words: "3-bit weights, 8-bit activations (calibrated on 512
// samples), per-tensor symmetric, percentile 99.9 ranges".
std::string describe_quantization(const Experiment& experiment, int weight_bits, int activation_bits);

// A one-line description of a run: data, model size, optimizer, kernels.
std::string describe_run(const Run& run);

struct LoadedModel {
  Experiment experiment;  // the stored experiment with the command line's settings applied on top
  std::unique_ptr<Network<float>> network;
  std::shared_ptr<const Dataset> dataset;
};
// Loads --model, applies setting flags (e.g. --weight_bits, --kernels), rebuilds the data set.
Result<LoadedModel> load_model_for_command(const ParsedCommandLine& parsed);

// Parses a command's arguments. Returns nothing after printing the command's help (exit_code 0) or a
// message for bad flags (exit_code 2): the caller returns exit_code.
std::optional<ParsedCommandLine> parse_command(const std::string& command, const std::string& summary,
                                               const std::vector<CommandFlag>& flags,
                                               const std::vector<std::string>& arguments, int& exit_code);

// Prints "qplay-cli <command>: <message>" to stderr and returns the exit code for bad input.
int report_bad_input(const std::string& command, const Status& status);
// Says which files of interrupted saves to `path` the next save will remove (write_file_atomically
// removes them): "qplay-cli train: removing m.qmodel.tmp-4242-0, left by an interrupted save".
void mention_leftovers(const std::string& command, const std::string& path);

// Writes each file with a non-empty path (atomically, mentioning leftovers of interrupted saves) and prints
// "wrote <path>" for each; stops at the first failure.
struct ReportFile {
  std::string path, text;  // an empty path is not written
};
Status write_report_files(const std::string& command, const std::vector<ReportFile>& files);

// Writes a command's output (JSON text or a binary model) to `path`, atomically, or to stdout when path is
// empty; returns the exit code.
int write_command_output(const std::string& command, const std::string& path, std::string_view bytes);

// --layer_weight_bits: one bit-width per weighted layer in order ("8,4,8"; "float" keeps a layer
// float), as QuantizationSetting::weight_bits_per_layer (indexed by layer). Empty text: no override.
Result<std::vector<int>> parse_layer_weight_bits(const std::string& text, const Architecture& architecture);

// Usage text for a command: its flags, then every experiment setting.
void print_command_help(const std::string& command, const std::string& summary,
                        const std::vector<CommandFlag>& flags);

}  // namespace qplay::cli
