#include "core/ui/playground_state.h"

#include "core/engine/experiment/saved_model.h"
#include "core/engine/io/json.h"
#include "core/ui/playground.h"

namespace qplay::ui {
namespace {

std::string join_warnings(const std::vector<std::string>& warnings) {
  std::string text;
  for (const std::string& w : warnings) text += (text.empty() ? "" : "; ") + w;
  return text;
}

}  // namespace

PlaygroundState::PlaygroundState(Platform& platform, std::string_view hash) : platform_(platform) {
  ParsedLabState parsed = lab_state_from_hash(hash);
  build_or_wait(parsed.state, "the shared link");
  if (!lab_ && !pending_) {
    // The link asked for something that cannot be built here (e.g. missing data): start from defaults.
    const StatusMessage why = status_;
    build_or_wait(default_lab_state(), "the default comparison");
    say(why.text + " (opened the default comparison instead)", true);
  }
  if (!parsed.warnings.empty()) say("link: " + join_warnings(parsed.warnings), true);
}

bool PlaygroundState::build_or_wait(const LabState& state, std::string_view what) {
  const Platform::DataStatus data = platform_.prepare_dataset(choice_name(state.experiment.dataset));
  if (!data.error.empty()) {
    say(data.error, true);
    return false;
  }
  if (!data.ready) {
    pending_ = std::make_unique<LabState>(state);
    pending_what_ = what;
    data_progress_ = data.progress;
    say("downloading " + std::string(choice_name(state.experiment.dataset)) + " ...");
    return true;
  }
  if (lab_) {
    const bool was_playing = lab_->playing();
    if (Status status = lab_->apply(state); !status) {
      say(std::string(what) + ": " + status.message(), true);
      return false;
    }
    if (!was_playing && lab_->trainer(0).steps_taken() == 0) lab_->play();
  } else {
    Result<std::unique_ptr<Lab>> made = Lab::create(state);
    if (!made) {
      say(std::string(what) + ": " + made.status().message(), true);
      return false;
    }
    lab_ = std::move(made).value();
    // The first lab trains itself, whether it opens at once or after its data downloaded (a link to
    // Fashion-MNIST): a comparison to look at without pressing anything.
    lab_->play();
  }
  if (selected_run >= lab_->run_count()) selected_run = 0;
  publish();
  return true;
}

void PlaygroundState::apply_setting(std::string_view key, std::string_view value) {
  // Refused settings are in the status bar already.
  (void)run_command("set", Json::object({{"key", Json(key)}, {"value", Json(value)}}));
}

void PlaygroundState::apply_state(const LabState& state, std::string_view what) {
  if (build_or_wait(state, what) && !pending_) say(std::string("loaded ") + std::string(what));
}

void PlaygroundState::apply_hash(std::string_view hash) {
  if (lab_) {
    // Skipped parts of the link are in the status bar already.
    (void)run_command("state", Json::object({{"hash", Json(hash)}}));
    return;
  }
  // No lab to command (none could be built, or its data set is downloading): build one from the link.
  ParsedLabState parsed = lab_state_from_hash(hash);
  apply_state(parsed.state, "the link");
  if (!parsed.warnings.empty()) say("link: " + join_warnings(parsed.warnings), true);
}

const LabState& PlaygroundState::state_to_change() const { return pending_ ? *pending_ : lab_->state(); }

Status PlaygroundState::change_state(const LabState& next, std::string_view what) {
  if (!build_or_wait(next, what)) return Status::error(status_.text);
  return {};
}

Result<Json> PlaygroundState::run_command(std::string_view command, const Json& arguments) {
  if (!lab_) return Json();
  Result<Json> reply = run_lab_command(*lab_, *this, command, arguments);
  if (!reply) {
    say(reply.message(), true);
    return reply;
  }
  if (command == "set" && !pending_) say("");
  if (command == "state") {
    if (!pending_) say("loaded the link");
    std::vector<std::string> warnings;
    for (const Json& warning : reply.value().find("warnings")->as_array())
      warnings.push_back(warning.as_string());
    if (!warnings.empty()) {
      say("link: " + join_warnings(warnings), true);
      return Status::error(status_.text);
    }
  }
  return reply;
}

void PlaygroundState::open_file(const std::string& name, std::string_view bytes) {
  // A model file starts with its binary magic; anything else must be an experiment or lab JSON.
  Result<ModelFile> model = parse_model_file(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  if (model) {
    Result<std::shared_ptr<const KernelTable>> kernels =
        make_kernels(lab_ ? lab_->state().experiment : Experiment{});
    if (!kernels) return say(name + ": " + kernels.status().message(), true);
    Result<SavedModel> saved = model_from_file(model.value(), kernels.value());
    if (!saved) return say(name + ": " + saved.status().message(), true);
    LabState state = lab_ ? lab_->state() : default_lab_state();
    state.experiment = saved.value().experiment;
    state.methods = {std::string(choice_name(saved.value().experiment.method))};
    Result<std::unique_ptr<Lab>> lab = Lab::create(state);
    if (!lab) return say(name + ": " + lab.status().message(), true);
    if (Status status = lab.value()->load_weights(0, saved.value().network->parameters()); !status)
      return say(name + ": " + status.message(), true);
    lab_ = std::move(lab).value();
    selected_run = 0;
    publish();
    return say("loaded model " + name + " (" + state.methods.front() + " on " +
               std::string(choice_name(state.experiment.dataset)) + ")");
  }
  Result<Json> json = parse_json(bytes);
  if (!json) {
    const bool looks_binary =
        !bytes.empty() && bytes.front() != '{' && bytes.front() != ' ' && bytes.front() != '\n';
    return say(name + ": " + (looks_binary ? model.status().message() : json.status().message()), true);
  }
  Result<LabState> state = lab_state_from_json(json.value());
  if (!state) return say(name + ": " + state.status().message(), true);
  apply_state(state.value(), name);
}

std::string PlaygroundState::experiment_json() const {
  return lab_ ? to_json(lab_state_to_json(lab_->state())) + "\n" : std::string();
}

std::vector<uint8_t> PlaygroundState::model_file_bytes() {
  if (!lab_) return {};
  return serialize_model_file(make_model_file(lab_->network(selected_run), lab_->experiment(selected_run)));
}

void PlaygroundState::advance(double budget_ms) {
  if (pending_) {
    const Platform::DataStatus data = platform_.prepare_dataset(choice_name(pending_->experiment.dataset));
    data_progress_ = data.progress;
    if (!data.error.empty()) {
      pending_.reset();
      say(data.error, true);
    } else if (data.ready) {
      std::unique_ptr<LabState> state = std::move(pending_);
      if (build_or_wait(*state, pending_what_)) say("");
    }
    return;
  }
  if (!lab_) return;
  lab_->set_interest({.accuracy_curves = true,
                      .layer_sensitivity = sensitivity_visible,
                      .decision_boundaries = true,
                      .neuron_map_layer = neuron_map_layer});
  lab_->advance(budget_ms);
}

const std::vector<LayerWeightStatistics>& PlaygroundState::weight_statistics_of(int run) {
  WeightStatisticsCache& cache = weight_statistics_;
  const uint64_t version = lab_->evaluated_version(run);
  const QuantizationSetting setting = lab_->current_setting();
  const std::string key = quantization_setting_key(setting);
  if (cache.lab != lab_.get() || cache.run != run || cache.version != version || cache.setting != key) {
    constexpr int kBins = 48;
    cache = {lab_.get(), run, version, key,
             weight_statistics(lab_->network(run), setting, kBins, own_grid_method(lab_->run(run)))};
  }
  return cache.layers;
}

void PlaygroundState::publish() { platform_.set_shareable_state(lab_state_to_hash(lab_->state())); }

}  // namespace qplay::ui
