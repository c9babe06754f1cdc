#include "core/engine/lab/evaluation_cache.h"

#include <algorithm>

namespace qplay {
namespace {

// Settings visited by the slider, the curves and the sensitivity bars of one run; each keeps a weight
// snapshot, so the cache forgets the least recently used beyond this.
const char* granularity_name(Granularity g) {
  return g == Granularity::per_tensor ? "per-tensor" : "per-channel";
}
const char* symmetry_name(Symmetry s) { return s == Symmetry::asymmetric ? "asymmetric" : "symmetric"; }
const char* range_name(RangeMethod r) {
  return r == RangeMethod::percentile ? "percentile" : r == RangeMethod::mse ? "mse" : "min-max";
}

// " | <name> 4,-,8" when any layer sets its own bits; nothing when all follow the global bits, which
// is the same setting as no per-layer list.
std::string per_layer_key(const char* name, const std::vector<int>& bits) {
  if (std::none_of(bits.begin(), bits.end(), [](int b) { return b >= 0; })) return "";
  std::string key = std::string(" | ") + name + " ";
  for (size_t i = 0; i < bits.size(); ++i)
    key += (i ? "," : "") + (bits[i] < 0 ? std::string("-") : std::to_string(bits[i]));
  return key;
}

}  // namespace

std::string quantization_setting_key(const QuantizationSetting& s) {
  std::string key = "w" + std::to_string(s.weights.bits) + " " + granularity_name(s.weights.granularity) +
                    " " + symmetry_name(s.weights.symmetry) + " " + range_name(s.weights.range_method);
  if (s.weights.range_method == RangeMethod::percentile) key += " " + std::to_string(s.weights.percentile);
  key += " | a" + std::to_string(s.activations.bits);
  if (quantizes_activations(s)) {
    key += std::string(" ") + range_name(s.activations.range_method);
    if (s.activations.range_method == RangeMethod::percentile)
      key += " " + std::to_string(s.activations.percentile);
  }
  return key + per_layer_key("layers", s.weight_bits_per_layer) +
         per_layer_key("activations", s.activation_bits_per_layer);
}

EvaluationCache::EvaluationCache(std::shared_ptr<const Dataset> dataset, int calibration_samples,
                                 size_t max_settings)
    : dataset_(std::move(dataset)),
      calibration_samples_(calibration_samples),
      max_settings_(std::max<size_t>(max_settings, 1)) {}

const EvaluationCache::Entry* EvaluationCache::find(const QuantizationSetting& setting) const {
  auto it = tasks_.find(quantization_setting_key(setting));
  return it == tasks_.end() || (it->second.shown.result.samples == 0 && !it->second.shown.complete)
             ? nullptr
             : &it->second.shown;
}

bool EvaluationCache::is_current(const QuantizationSetting& setting, uint64_t weights_version) const {
  const Entry* entry = find(setting);
  return entry && entry->complete && entry->weights_version == weights_version;
}

const ForwardOptions<float>* EvaluationCache::forward_options(const QuantizationSetting& setting) const {
  auto it = tasks_.find(quantization_setting_key(setting));
  return it == tasks_.end() || it->second.weights.empty() ? nullptr : &it->second.options;
}

bool EvaluationCache::evaluates_in_int8(const QuantizationSetting& setting) const {
  auto it = tasks_.find(quantization_setting_key(setting));
  return it != tasks_.end() && it->second.int8.has_value();
}

Int8Runner& EvaluationCache::int8_runner(const Network<float>& network) {
  if (!int8_runner_ || int8_runner_->threads() != std::max(1, network.kernels().threads))
    int8_runner_ = std::make_unique<Int8Runner>(network.kernels().threads);
  return *int8_runner_;
}

void EvaluationCache::start(Task& task, Network<float>& network, uint64_t weights_version,
                            const TrainingMethod* own_grid) {
  task.weights.resize(network.parameters().size());
  const bool on_own_grid = own_grid && own_grid->quantize_on_own_grid(network, task.setting, task.weights);
  std::vector<std::vector<QuantGrid>> weight_grids;
  if (!on_own_grid) {
    quantize_weights_into(network, network.parameters(), task.setting, task.weights, &weight_grids,
                          &int8_runner(network).pool());
  }
  task.options = {};
  task.options.parameters = task.weights;
  task.int8.reset();
  if (quantizes_activations(task.setting)) {
    task.activations =
        calibrate_activation_ranges(network, task.weights, dataset_->train_x, calibration_samples_,
                                    task.setting.activations, task.setting.activation_bits_per_layer);
    task.options.activation_quantization = &task.activations;
    // The same weights (rounded from the same master just now) and grids in int8, when that computes
    // the same; a method's own grid (CPQ's learned step) is not one the int8 builder derives from the
    // setting, so those runs stay on fake quantization, like every setting the builder refuses.
    if (!on_own_grid) {
      // The calibration ran on the float table's pool, whose workers would spin against the runner's.
      if (network.kernels().release_workers) network.kernels().release_workers(network.kernels());
      Result<Int8Model> int8 =
          build_int8_model_for_setting(network, network.parameters(), task.setting, task.activations,
                                       dataset_->test_x, weight_grids, &int8_runner(network).pool());
      if (int8) task.int8 = std::move(int8).value();
    }
  }
  task.byte_input.reset();
  if (!task.int8 && !on_own_grid) {
    // Float activations (or an int8 refusal): the float network, its first layer in integers when the
    // features are bytes; a refusal (float features, a conv first layer, ...) leaves it all float.
    Result<ByteInputLayer> byte_input =
        build_byte_input_layer(network, network.parameters(), weight_grids, dataset_->test_x);
    if (byte_input) task.byte_input = std::move(byte_input).value();
  }
  task.evaluation->restart();
  task.running = true;
  task.running_version = weights_version;
}

void EvaluationCache::evict_if_full() {
  while (tasks_.size() >= max_settings_) {
    auto oldest = std::min_element(tasks_.begin(), tasks_.end(), [](const auto& a, const auto& b) {
      return a.second.last_used < b.second.last_used;
    });
    tasks_.erase(oldest);
  }
}

bool EvaluationCache::evaluate(Network<float>& network, uint64_t weights_version,
                               const QuantizationSetting& setting, double budget_ms, size_t min_samples,
                               const TrainingMethod* own_grid) {
  const std::string key = quantization_setting_key(setting);
  auto it = tasks_.find(key);
  if (it == tasks_.end()) {
    evict_if_full();
    it = tasks_.emplace(key, Task{}).first;
    it->second.setting = setting;
    it->second.evaluation = std::make_unique<IncrementalEvaluation>(dataset_->test_x, dataset_->test_y);
  }
  Task& task = it->second;
  task.last_used = ++use_counter_;
  if (task.shown.complete && task.shown.weights_version == weights_version) return true;
  // A running evaluation finishes on its snapshot even if the weights moved on since: restarting it
  // whenever training takes a step would never let a large test split complete.
  if (!task.running) start(task, network, weights_version, own_grid);
  if (task.int8) {
    task.evaluation->advance(*task.int8, int8_runner(network), budget_ms, min_samples);
  } else {
    task.evaluation->advance(network, task.options, budget_ms, min_samples,
                             task.byte_input ? &*task.byte_input : nullptr);
  }
  const bool done = task.evaluation->done();
  if (done || !task.shown.complete) {
    task.shown.result = task.evaluation->result();
    task.shown.complete = done;
    task.shown.weights_version = task.running_version;
    const std::span<const int32_t> predictions = task.evaluation->predictions();
    task.shown.predictions.assign(predictions.begin(), predictions.end());
    const std::span<const float> margins = task.evaluation->margins();
    task.shown.margins.assign(margins.begin(), margins.end());
  }
  if (done) task.running = false;
  return done && task.shown.weights_version == weights_version;
}

void EvaluationCache::clear() { tasks_.clear(); }

}  // namespace qplay
