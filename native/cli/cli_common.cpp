#include "native/cli/cli_common.h"

#include <cstdio>

#include "core/engine/experiment/state_table.h"
#include "core/engine/io/file_util.h"
#include "core/engine/lab/lab_state.h"
#include "native/cli/commands.h"
#include "native/cli/progress_bar.h"

namespace qplay::cli {

namespace {

// --experiment=F replaces `experiment` with F's settings, then the flags given override both.
Status apply_experiment_file_and_flags(const ParsedCommandLine& parsed, Experiment& experiment) {
  if (parsed.has("experiment")) {
    Result<Experiment> loaded = load_experiment_file(parsed.flag("experiment"));
    if (!loaded) return loaded.status();
    experiment = std::move(loaded).value();
  }
  return apply_settings(parsed, experiment);
}

}  // namespace

Result<Experiment> experiment_from_command_line(const ParsedCommandLine& parsed) {
  Experiment experiment;
  if (Status status = apply_experiment_file_and_flags(parsed, experiment); !status) return status;
  return experiment;
}

void mention_leftovers(const std::string& command, const std::string& path) {
  for (const std::string& orphan : orphaned_temporaries(path))
    std::fprintf(stderr, "qplay-cli %s: removing %s, left by an interrupted save\n", command.c_str(),
                 orphan.c_str());
}

Status write_report_files(const std::string& command, const std::vector<ReportFile>& files) {
  for (const ReportFile& file : files) {
    if (file.path.empty()) continue;
    mention_leftovers(command, file.path);
    if (Status status = write_text_file_atomically(file.path, file.text); !status) return status;
    std::printf("wrote %s\n", file.path.c_str());
  }
  return {};
}

std::string describe_quantization(const Experiment& e, int weight_bits, int activation_bits) {
  auto bits = [](int b) { return b == 0 ? std::string("float") : std::to_string(b) + "-bit"; };
  std::string text = bits(weight_bits) + " weights, " + bits(activation_bits) + " activations";
  if (activation_bits > 0) text += " (calibrated on " + std::to_string(e.calibration_samples) + " samples)";
  text += ", " + std::string(choice_name(e.granularity)) + " " + std::string(choice_name(e.symmetry)) + ", ";
  text += e.range_method == RangeMethod::percentile ? "percentile " + format_json_number(e.percentile)
                                                    : std::string(choice_name(e.range_method));
  return text + " ranges";
}

std::string describe_run(const Run& run) {
  const Dataset& d = *run.dataset;
  const Experiment& e = run.experiment;
  char line[512];
  std::snprintf(
      line, sizeof line,
      "%s: %zu train / %zu test samples, %d inputs, %d classes | %s (%zu parameters) | %s lr %g, %s, "
      "%d epochs, batch %d, seed %lld | kernels %s x%d",
      d.name.c_str(), d.train_size(), d.test_size(), d.sample_size(), d.num_classes, e.architecture.c_str(),
      run.network->parameter_count(), std::string(choice_name(e.optimizer)).c_str(), e.learning_rate,
      std::string(choice_name(e.schedule)).c_str(), e.epochs, e.batch_size, static_cast<long long>(e.seed),
      run.network->kernels().name.c_str(), run.network->kernels().threads);
  std::string text = line;
  if (e.method == MethodKind::qreg) {
    text += " | qreg: QAT weights " + std::to_string(e.methods.qreg.training.weights.bits) +
            " bits, activations " +
            (e.methods.qreg.training.activations.bits
                 ? std::to_string(e.methods.qreg.training.activations.bits) + " bits"
                 : "float") +
            (e.methods.qreg.mode == QregMode::uniform_noise ? " (uniform-noise ablation)" : "");
  } else if (e.method != MethodKind::baseline) {
    text += " | method " + std::string(choice_name(e.method));
  }
  return text;
}

Status train_with_progress(Run& run, bool quiet) {
  Trainer& trainer = *run.trainer;
  ProgressBar bar("training", !quiet);
  size_t printed = 0;
  const int epochs = trainer.settings().epochs;
  while (!trainer.finished()) {
    trainer.advance(100.0);
    const auto& history = trainer.history();
    for (; printed < history.size(); ++printed) {
      const EpochMetrics& m = history[printed];
      if (!quiet) {
        std::fprintf(stderr, "%s", "\r");
        // A regularized method's objective is cross-entropy plus its penalty: both, and their sum.
        char penalty[64] = "";
        if (m.train_penalty != 0)
          std::snprintf(penalty, sizeof penalty, " + penalty %.4f = %.4f", m.train_penalty,
                        m.train_loss + m.train_penalty);
        std::printf(
            "epoch %3d/%d  train loss %.4f%s acc %5.1f%%  test loss %.4f acc %5.1f%%  lr %.4g  %.2fs\n",
            m.epoch, epochs, m.train_loss, penalty, 100 * m.train_accuracy, m.test_loss,
            100 * m.test_accuracy, m.learning_rate, m.seconds);
        std::fflush(stdout);
      }
    }
    double done =
        (trainer.completed_epochs() + (trainer.finished() ? 0.0 : trainer.epoch_fraction())) / epochs;
    std::string status = "epoch " + std::to_string(std::min(trainer.completed_epochs() + 1, epochs)) + "/" +
                         std::to_string(epochs);
    if (!history.empty()) {
      char accuracy[64];
      std::snprintf(accuracy, sizeof accuracy, "  test acc %.1f%%", 100 * history.back().test_accuracy);
      status += accuracy;
    }
    bar.update(done, status);
  }
  if (!trainer.status().ok()) return trainer.status();
  bar.finish("");
  return {};
}

Result<LoadedModel> load_model_for_command(const ParsedCommandLine& parsed) {
  Result<ModelFile> file = load_model_file(parsed.flag("model"));
  if (!file) return file.status();  // its messages start with the path
  // Kernel flags apply before the network is built, so read them through a scratch experiment.
  Result<Json> metadata = parse_json(file->metadata_json);
  Experiment stored;
  if (metadata) {
    Result<Experiment> parsed_experiment = experiment_from_json(*metadata);
    if (parsed_experiment) stored = std::move(parsed_experiment).value();
  }
  // The model's own experiment, unless an experiment file replaces it; flags override either.
  Experiment experiment = stored;
  if (Status status = apply_experiment_file_and_flags(parsed, experiment); !status) return status;
  Result<std::shared_ptr<const KernelTable>> kernels = make_kernels(experiment);
  if (!kernels) return kernels.status();
  Result<SavedModel> saved = model_from_file(*file, std::move(kernels).value());
  if (!saved) return saved.status().with_context(parsed.flag("model"));

  LoadedModel loaded;
  loaded.experiment = experiment;
  loaded.network = std::move(saved->network);
  Result<Dataset> dataset = make_dataset(experiment);
  if (!dataset) return dataset.status();
  if (Status status = check_model_matches_dataset(*loaded.network, *dataset); !status) return status;
  loaded.dataset = std::make_shared<const Dataset>(std::move(dataset).value());
  return loaded;
}

std::optional<ParsedCommandLine> parse_command(const std::string& command, const std::string& summary,
                                               const std::vector<CommandFlag>& flags,
                                               const std::vector<std::string>& arguments, int& exit_code) {
  Result<ParsedCommandLine> parsed = parse_command_line(arguments, flags);
  if (!parsed) {
    exit_code = report_bad_input(command, parsed.status());
    return std::nullopt;
  }
  if (parsed->help) {
    print_command_help(command, summary, flags);
    exit_code = kExitSuccess;
    return std::nullopt;
  }
  return std::move(parsed).value();
}

int report_bad_input(const std::string& command, const Status& status) {
  std::fprintf(stderr, "qplay-cli %s: %s\n", command.c_str(), status.message().c_str());
  return kExitBadInput;
}

void print_command_help(const std::string& command, const std::string& summary,
                        const std::vector<CommandFlag>& flags) {
  std::printf("usage: qplay-cli %s [--flag=value ...]\n\n%s\n\n", command.c_str(), summary.c_str());
  if (!flags.empty()) std::printf("  %s flags:\n%s", command.c_str(), describe_command_flags(flags).c_str());
  std::printf("\n  experiment settings (any command; also the keys of an experiment JSON file):%s",
              describe_settings().c_str());
}

int write_command_output(const std::string& command, const std::string& path, std::string_view bytes) {
  if (path.empty()) {
    std::fwrite(bytes.data(), 1, bytes.size(), stdout);
    return kExitSuccess;
  }
  mention_leftovers(command, path);
  if (Status status = write_text_file_atomically(path, bytes); !status)
    return report_bad_input(command, status);
  std::fprintf(stderr, "wrote %s\n", path.c_str());
  return kExitSuccess;
}

Result<std::vector<int>> parse_layer_weight_bits(const std::string& text, const Architecture& architecture) {
  if (text.empty()) return std::vector<int>{};
  // The lab's form (lab/lab_state.h), so a link's value works on the command line too.
  Result<std::vector<int>> bits = parse_layer_bits("layer_weight_bits", text);
  if (!bits) return Status::error("--" + bits.status().message());
  std::vector<int> per_layer(architecture.layers.size(), -1);
  size_t next = 0;
  for (size_t layer = 0; layer < architecture.layers.size(); ++layer) {
    if (!architecture.layers[layer].has_parameters()) continue;
    if (next < bits->size()) per_layer[layer] = (*bits)[next];
    ++next;
  }
  if (bits->size() != next) {
    return Status::error("--layer_weight_bits: " + architecture.spec + " has " + std::to_string(next) +
                         " weighted layers, the list gives " + std::to_string(bits->size()) + " bit-widths");
  }
  return per_layer;
}

}  // namespace qplay::cli
