#include "core/engine/lab/lab.h"

#include <algorithm>
#include <cmath>

#include "core/engine/experiment/state_table.h"
#include "core/engine/methods/cpq_dropbits.h"

namespace qplay {
namespace {

using Clock = std::chrono::steady_clock;

constexpr double kRefreshIntervalMs = 250;     // evaluations while training
constexpr double kTrainingShare = 0.75;        // of a slice while training; evaluations get the rest
constexpr size_t kFirstReadoutSamples = 1000;  // a new slider setting's first answer, within the frame
// However short a slice (a page may ask for 0.001 ms), evaluations get this much of it, or numbers
// would never become current and a page waiting for them would wait forever.
constexpr double kSmallestEvaluationSliceMs = 0.5;
constexpr int kBoundaryResolution = 64;
constexpr int kNeuronMapResolution = 24;  // cells per side of each small map; a layer has up to dozens
// Quantized weight copies the slider's cache may keep per run: 48 settings of a 2-million-parameter
// network would be 384 MB per run, more than a browser tab has for six runs.
constexpr size_t kCachedSnapshotBytesPerRun = size_t(64) << 20;

double milliseconds_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

bool settings_equal_outside(const Experiment& a, const Experiment& b, std::string_view group) {
  for (const SettingRow& row : experiment_settings()) {
    if (row.group == group || row.key == "method") continue;
    if (get_setting(a, row) != get_setting(b, row)) return false;
  }
  return true;
}

// As many settings as the memory budget allows, but never fewer than what the panels ask for at once
// (the current one, the curve's, two per layer for the weight and activation sensitivity bars), or they
// would evict each other.
size_t settings_to_cache(size_t parameters, size_t weighted_layers) {
  const size_t working_set = 1 + Lab::curve_weight_bits().size() + 2 * weighted_layers;
  const size_t affordable = kCachedSnapshotBytesPerRun / (sizeof(float) * std::max<size_t>(parameters, 1));
  return std::max(working_set, std::min(EvaluationCache::kDefaultMaxSettings, affordable));
}

uint64_t version_of(uint64_t generation, const Trainer& trainer) {
  return (generation << 32) + static_cast<uint64_t>(trainer.steps_taken());
}

}  // namespace

const TrainingMethod* own_grid_method(const LabRun& run) {
  return run.loaded ? nullptr : &run.run.trainer->method();
}

bool same_data_settings(const Experiment& a, const Experiment& b) {
  for (const SettingRow& row : experiment_settings())
    if (row.group == "data" && get_setting(a, row) != get_setting(b, row)) return false;
  return true;
}

Result<std::unique_ptr<Lab>> Lab::create(const LabState& state, std::shared_ptr<const Dataset> dataset) {
  std::unique_ptr<Lab> lab(new Lab());
  if (Status status = lab->build(state, std::move(dataset)); !status) return status;
  return lab;
}

Status Lab::build(const LabState& state, std::shared_ptr<const Dataset> dataset) {
  if (state.methods.empty()) return Status::error("methods: choose at least one method to train");
  if (!dataset) {
    Result<Dataset> made = make_dataset(state.experiment);
    if (!made) return made.status();
    dataset = std::make_shared<const Dataset>(std::move(made).value());
  }
  // One kernel table for all runs: they take turns, so one thread pool serves them all.
  Result<std::shared_ptr<const KernelTable>> kernels = make_kernels(state.experiment);
  if (!kernels) return kernels.status();
  std::vector<std::unique_ptr<RunState>> runs;
  for (const std::string& method : state.methods) {
    Experiment experiment = state.experiment;
    experiment.method = *parse_choice<MethodKind>(method);  // the names were checked with the state
    Result<Run> run = start_run(experiment, dataset, kernels.value());
    if (!run) return Status::error(method + ": " + run.status().message());
    runs.push_back(std::make_unique<RunState>(
        method, std::move(run).value(), EvaluationCache(dataset, state.experiment.calibration_samples)));
  }
  std::vector<int> weighted_layers;
  for (const ParameterTensor& tensor : runs.front()->run.network->parameter_tensors())
    if (tensor.is_weight) weighted_layers.push_back(tensor.layer);
  cached_settings_ = settings_to_cache(runs.front()->run.network->parameter_count(), weighted_layers.size());
  for (auto& run : runs)
    run->evaluations = EvaluationCache(dataset, state.experiment.calibration_samples, cached_settings_);

  state_ = state;
  for (std::vector<int>* bits : {&state_.layer_weight_bits, &state_.layer_activation_bits})
    if (!bits->empty()) bits->resize(weighted_layers.size(), -1);
  dataset_ = std::move(dataset);
  runs_ = std::move(runs);
  weighted_layers_ = std::move(weighted_layers);
  plane_region_ = plane_region_of(*dataset_);
  ++generation_;
  for (auto& run : runs_) {
    run->weights_version = version_of(generation_, *run->run.trainer);
    run->evaluated_version = run->weights_version;
  }
  next_run_to_train_ = 0;
  samples_per_second_ = 0;
  allocation_.reset();  // of networks and a data set just replaced
  return {};
}

Status Lab::set(std::string_view key, std::string_view value) {
  LabState next = state_;
  if (Status status = set_lab_state_value(next, key, value); !status) return status;
  return apply(next);
}

Status Lab::apply(const LabState& next) {
  const bool rebuild = next.methods != state_.methods ||
                       !settings_equal_outside(next.experiment, state_.experiment, "quantization");
  if (rebuild) {
    const bool was_playing = playing_;
    const bool same_data = same_data_settings(next.experiment, state_.experiment);
    if (Status status = build(next, same_data ? dataset_ : nullptr); !status) return status;
    playing_ = was_playing;
    return {};
  }
  const bool new_calibration = next.experiment.calibration_samples != state_.experiment.calibration_samples;
  state_ = next;
  for (std::vector<int>* bits : {&state_.layer_weight_bits, &state_.layer_activation_bits})
    if (!bits->empty()) bits->resize(weighted_layers_.size(), -1);
  if (new_calibration)
    for (auto& run : runs_)
      run->evaluations = EvaluationCache(dataset_, state_.experiment.calibration_samples, cached_settings_);
  // The slider's first read-out now, not at the next slice: the frame that moved it can show its number.
  evaluate_for(0, /*first_readout_only=*/true);
  return {};
}

void Lab::play() {
  if (!finished()) playing_ = true;
}

void Lab::step() {
  for (auto& run : runs_) {
    if (run->loaded || run->run.trainer->finished()) continue;
    run->run.trainer->step();
    run->weights_version = version_of(generation_, *run->run.trainer);
  }
}

Status Lab::reset() {
  playing_ = false;
  return build(state_, dataset_);
}

Status Lab::load_weights(int run, std::span<const float> parameters) {
  Network<float>& network = *runs_[run]->run.network;
  if (parameters.size() != network.parameters().size())
    return Status::error("the model has " + std::to_string(parameters.size()) + " parameters, but run '" +
                         runs_[run]->method + "' has " + std::to_string(network.parameters().size()));
  std::copy(parameters.begin(), parameters.end(), network.parameters().begin());
  runs_[run]->loaded = true;
  // Its own generation: evaluations of the initial weights must not be mistaken for these.
  runs_[run]->weights_version = version_of(++generation_, *runs_[run]->run.trainer);
  runs_[run]->evaluated_version = runs_[run]->weights_version;
  return {};
}

bool Lab::finished() const {
  return std::all_of(runs_.begin(), runs_.end(),
                     [](const auto& run) { return run->loaded || run->run.trainer->finished(); });
}

const std::vector<int>& Lab::curve_weight_bits() {
  static const std::vector<int> bits = {0, 8, 7, 6, 5, 4, 3, 2};
  return bits;
}

QuantizationSetting Lab::current_setting() const {
  QuantizationSetting setting = make_quantization_setting(state_.experiment, state_.experiment.weight_bits,
                                                          state_.experiment.activation_bits);
  const size_t layers = runs_.front()->run.network->architecture().layers.size();
  if (!state_.layer_weight_bits.empty()) {
    setting.weight_bits_per_layer.assign(layers, -1);
    for (size_t i = 0; i < weighted_layers_.size() && i < state_.layer_weight_bits.size(); ++i)
      setting.weight_bits_per_layer[weighted_layers_[i]] = state_.layer_weight_bits[i];
  }
  // The first weighted layer's entry stays -1: its input is data, and an entry there would only make
  // a second cache key for the same evaluation.
  if (!state_.layer_activation_bits.empty()) {
    setting.activation_bits_per_layer.assign(layers, -1);
    for (size_t i = 1; i < weighted_layers_.size() && i < state_.layer_activation_bits.size(); ++i)
      setting.activation_bits_per_layer[weighted_layers_[i]] = state_.layer_activation_bits[i];
  }
  return setting;
}

QuantizationSetting Lab::setting_with_weight_bits(int weight_bits) const {
  return make_quantization_setting(state_.experiment, weight_bits, state_.experiment.activation_bits);
}

QuantizationSetting Lab::float_setting() const { return make_quantization_setting(state_.experiment, 0, 0); }

QuantizationSetting Lab::layer_only_setting(int layer) const {
  QuantizationSetting setting = make_quantization_setting(state_.experiment, 0, 0);
  setting.weight_bits_per_layer.assign(runs_.front()->run.network->architecture().layers.size(), -1);
  setting.weight_bits_per_layer[layer] = state_.experiment.weight_bits;
  return setting;
}

QuantizationSetting Lab::layer_activation_only_setting(int layer) const {
  QuantizationSetting setting = make_quantization_setting(state_.experiment, 0, 0);
  if (layer == weighted_layers_.front()) return setting;
  setting.activation_bits_per_layer.assign(runs_.front()->run.network->architecture().layers.size(), -1);
  setting.activation_bits_per_layer[layer] = state_.experiment.activation_bits;
  return setting;
}

const EvaluationCache::Entry* Lab::evaluation(int run, const QuantizationSetting& setting) const {
  return runs_[run]->evaluations.find(setting);
}

Lab::Freshness Lab::freshness(int run, const EvaluationCache::Entry& entry) const {
  if (entry.weights_version != runs_[run]->evaluated_version) return Freshness::older;
  return entry.complete ? Freshness::current : Freshness::partial;
}

bool Lab::refresh_due() const { return !playing_ || milliseconds_since(last_refresh_) >= kRefreshIntervalMs; }

bool Lab::train_for(double budget_ms) {
  const Clock::time_point start = Clock::now();
  size_t samples = 0;
  do {
    int chosen = -1;
    for (int i = 0; i < run_count(); ++i) {
      const int candidate = (next_run_to_train_ + i) % run_count();
      if (!runs_[candidate]->loaded && !runs_[candidate]->run.trainer->finished()) {
        chosen = candidate;
        break;
      }
    }
    if (chosen < 0) return false;
    RunState& run = *runs_[chosen];
    // A step that would overrun the budget waits for the next slice (it goes first there).
    if (samples > 0 && milliseconds_since(start) + run.step_ms > budget_ms) break;
    const Clock::time_point step_start = Clock::now();
    run.run.trainer->step();
    const double step_ms = milliseconds_since(step_start);
    run.step_ms = run.step_ms > 0 ? 0.8 * run.step_ms + 0.2 * step_ms : step_ms;
    run.weights_version = version_of(generation_, *run.run.trainer);
    samples += static_cast<size_t>(run.run.trainer->settings().batch_size);
    next_run_to_train_ = (chosen + 1) % run_count();
  } while (milliseconds_since(start) < budget_ms);
  const double seconds = milliseconds_since(start) / 1000.0;
  if (seconds > 0) {
    const double rate = samples / seconds;
    samples_per_second_ = samples_per_second_ > 0 ? 0.9 * samples_per_second_ + 0.1 * rate : rate;
  }
  return true;
}

std::string Lab::quantized_maps_key(const RunState& run) const {
  return quantization_setting_key(current_setting()) + " @" + std::to_string(run.evaluated_version);
}

bool Lab::plane_maps_current(int run) const {
  const RunState& state = *runs_[run];
  return state.float_maps_version == state.evaluated_version &&
         state.quantized_maps_key == quantized_maps_key(state);
}

// Boundaries and neuron maps of the evaluated weights; quantized ones once the setting's evaluation is
// current for them (its weight snapshot is then of those weights).
void Lab::refresh_plane_maps(RunState& run) {
  Network<float>& network = *run.run.network;
  const int layer = interest_.neuron_map_layer;
  if (run.float_maps_version != run.evaluated_version) {
    run.float_boundary = compute_decision_boundary(network, {}, plane_region_, kBoundaryResolution);
    run.float_neuron_maps = {};
    run.float_maps_version = run.evaluated_version;
  }
  if (layer >= 0 && run.float_neuron_maps.layer != layer)
    run.float_neuron_maps = compute_neuron_maps(network, {}, plane_region_, kNeuronMapResolution, layer);
  const QuantizationSetting setting = current_setting();
  if (!run.evaluations.is_current(setting, run.evaluated_version)) return;
  const ForwardOptions<float>& quantized = *run.evaluations.forward_options(setting);
  if (const std::string key = quantized_maps_key(run); run.quantized_maps_key != key) {
    run.quantized_boundary =
        compute_decision_boundary(network, quantized, plane_region_, kBoundaryResolution);
    run.quantized_neuron_maps = {};
    run.quantized_maps_key = key;
  }
  if (layer >= 0 && run.quantized_neuron_maps.layer != layer)
    run.quantized_neuron_maps =
        compute_neuron_maps(network, quantized, plane_region_, kNeuronMapResolution, layer);
}

void Lab::refresh_readouts() {
  for (auto& run : runs_) {
    if (run->readouts_version == run->evaluated_version) continue;
    run->readouts.clear();
    if (!run->loaded) run->readouts = run->run.trainer->method().readouts(*run->run.network);
    run->readouts_version = run->evaluated_version;
  }
}

void Lab::evaluate_for(double budget_ms, bool first_readout_only) {
  const Clock::time_point start = Clock::now();
  const QuantizationSetting current = current_setting();
  if (first_readout_only) {
    for (auto& run : runs_)
      if (!run->evaluations.find(current))
        run->evaluations.evaluate(*run->run.network, run->evaluated_version, current, 0, kFirstReadoutSamples,
                                  own_grid_method(*run));
    return;
  }
  auto remaining = [&] { return budget_ms - milliseconds_since(start); };
  // Each level of work is shared evenly among its items, so one run's large test split cannot starve
  // the others' (an evaluation that finishes early leaves its share to the next ones).
  // Each level of work is shared evenly among its items, so one run's large test split cannot starve
  // the others' (an evaluation that finishes early leaves its share to the next ones). A level gets the
  // whole slice until all its items are complete: the slider's number first, then the rest.
  auto evaluate_level = [&](const std::vector<std::pair<RunState*, QuantizationSetting>>& items) {
    bool complete = true;
    for (size_t i = 0; i < items.size(); ++i) {
      RunState& run = *items[i].first;
      if (run.evaluations.is_current(items[i].second, run.evaluated_version)) continue;
      complete = remaining() > 0 &&
                 run.evaluations.evaluate(*run.run.network, run.evaluated_version, items[i].second,
                                          remaining() / double(items.size() - i), 0, own_grid_method(run)) &&
                 complete;
    }
    return complete;
  };
  // In order of what the eye is on: the slider's number, the float model it flips against (the same
  // setting as the curve's float point unless activations are quantized), the boundary plots, the
  // curves, the bars.
  std::vector<std::pair<RunState*, QuantizationSetting>> level;
  for (auto& run : runs_) level.emplace_back(run.get(), current);
  if (!evaluate_level(level)) return;
  level.clear();
  for (auto& run : runs_) level.emplace_back(run.get(), float_setting());
  if (!evaluate_level(level)) return;
  if ((interest_.decision_boundaries || interest_.neuron_map_layer >= 0) && is_plane_data())
    for (auto& run : runs_) {
      if (remaining() <= 0) return;
      refresh_plane_maps(*run);
    }
  if (interest_.accuracy_curves) {
    level.clear();
    for (int bits : curve_weight_bits())
      for (auto& run : runs_) level.emplace_back(run.get(), setting_with_weight_bits(bits));
    if (!evaluate_level(level)) return;
  }
  if (interest_.layer_sensitivity) {
    level.clear();
    for (int layer : weighted_layers_)
      for (auto& run : runs_) level.emplace_back(run.get(), layer_only_setting(layer));
    if (!evaluate_level(level)) return;
    // Activations only where an input is quantized at all: with float activations each of these
    // would be the float setting again.
    if (state_.experiment.activation_bits == 0) return;
    level.clear();
    for (size_t i = 1; i < weighted_layers_.size(); ++i)
      for (auto& run : runs_)
        level.emplace_back(run.get(), layer_activation_only_setting(weighted_layers_[i]));
    evaluate_level(level);
  }
}

double Lab::advance(double budget_ms) {
  const Clock::time_point start = Clock::now();
  evaluate_for(0, /*first_readout_only=*/true);
  if (playing_) {
    // Training gets its share first but never all of it: a step may overrun its budget, and the
    // evaluations behind the numbers on screen must keep moving while training runs.
    if (!train_for(std::max(0.0, budget_ms * kTrainingShare - milliseconds_since(start)))) playing_ = false;
    if (finished()) playing_ = false;
  }
  if (refresh_due()) {
    for (auto& run : runs_) run->evaluated_version = run->weights_version;
    last_refresh_ = Clock::now();
  }
  refresh_readouts();
  // An allocation shares what evaluations get of the slice.
  advance_allocation(std::max(budget_ms * (1 - kTrainingShare), budget_ms - milliseconds_since(start)) / 2);
  evaluate_for(std::max({budget_ms * (1 - kTrainingShare), budget_ms - milliseconds_since(start),
                         kSmallestEvaluationSliceMs}),
               /*first_readout_only=*/false);
  // Between slices the page or window draws: workers spinning for the next kernel would compete with it.
  const KernelTable& kernels = runs_.front()->run.network->kernels();
  if (kernels.release_workers) kernels.release_workers(kernels);
  return milliseconds_since(start);
}

void Lab::advance_allocation(double budget_ms) {
  LabAllocationWork* work = allocation_.get();
  if (!work || work->cancelled || work->job->finished()) return;
  if (runs_[work->run]->weights_version != work->weights_version) {
    work->cancelled = true;
    return;
  }
  work->job->step_for(budget_ms);
}

std::string learned_layer_bits(const Lab& lab, int run) {
  const std::vector<int>& layers = lab.weighted_layers();
  std::vector<std::string> bits(layers.size());
  for (const MethodReadout& readout : lab.run(run).readouts) {
    const auto at = std::find(layers.begin(), layers.end(), readout.layer);
    if (readout.name == kLearnedWeightBitsReadout && at != layers.end())
      bits[static_cast<size_t>(at - layers.begin())] = std::to_string(std::lround(readout.value));
  }
  std::string text;
  for (size_t i = 0; i < bits.size(); ++i) {
    if (bits[i].empty()) return "";
    text += (i ? "," : "") + bits[i];
  }
  return text;
}

}  // namespace qplay
