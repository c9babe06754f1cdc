#include "core/engine/lab/lab_report.h"

#include "core/engine/deploy/model_size.h"
#include "core/engine/lab/decision_flips.h"

namespace qplay {
namespace {

Json number_or_null(double value, bool known) { return known ? Json(value) : Json(); }

// Accuracy and loss of one run at one setting, or nulls while it is not evaluated yet. "current": the
// numbers cover the whole test split and were computed on the run's weights as they are now (not on
// older weights whose result is being redone), so a page can wait for exactly that.
Json evaluation_json(const Lab& lab, int run, const QuantizationSetting& setting) {
  const EvaluationCache::Entry* entry = lab.evaluation(run, setting);
  Json json = Json::object();
  json["accuracy"] = number_or_null(entry ? entry->result.accuracy : 0, entry != nullptr);
  json["loss"] = number_or_null(entry ? entry->result.loss : 0, entry != nullptr);
  json["samples"] = entry ? static_cast<double>(entry->result.samples) : 0.0;
  json["complete"] = entry != nullptr && entry->complete;
  json["current"] = entry != nullptr && entry->complete && entry->weights_version == lab.weights_version(run);
  return json;
}

// Flip rate and low-margin flip rate (lab/decision_flips.h) of one run at one setting, nulls until both
// its float evaluation and the setting's are complete on the same weights.
void add_flip_rates(const Lab& lab, int run, const QuantizationSetting& setting, Json& json) {
  const std::optional<DecisionFlips> flips = decision_flips(lab, run, setting);
  json["flip_rate"] = number_or_null(flips ? flips->rate() : 0, flips.has_value());
  json["low_margin_flip_rate"] = number_or_null(flips ? flips->low_margin_rate() : 0, flips.has_value());
}

}  // namespace

Json lab_metrics_json(const Lab& lab) {
  Json json = Json::object();
  json["playing"] = lab.playing();
  json["finished"] = lab.finished();
  json["samples_per_second"] = lab.training_samples_per_second();
  json["dataset"] = lab.dataset().name;
  // The kernels every run of the lab shares, as the status bar shows them ("simd128", 4 threads).
  const KernelTable& kernels = lab.network(0).kernels();
  json["kernels"] = Json::object({{"name", Json(kernels.name)}, {"threads", Json(kernels.threads)}});
  json["weight_bits"] = lab.state().experiment.weight_bits;
  json["activation_bits"] = lab.state().experiment.activation_bits;
  json["state"] = lab_state_to_hash(lab.state());
  // The deployed size at the current setting (deploy/model_size.h), the same for every run.
  const Architecture& architecture = lab.network(0).architecture();
  const ModelSize size = model_size(architecture, lab.current_setting());
  Json layer_bits = Json::array();
  for (const LayerSize& layer : size.layers) layer_bits.push_back(layer.bits);
  json["model_size"] =
      Json::object({{"kilobytes", Json(size.kilobytes())},
                    {"average_weight_bits", Json(size.average_weight_bits)},
                    {"weight_bits_per_layer", std::move(layer_bits)},
                    {"float_kilobytes", Json(model_size(architecture, QuantizationSetting{}).kilobytes())}});
  Json runs = Json::array();
  for (int r = 0; r < lab.run_count(); ++r) {
    const LabRun& run = lab.run(r);
    const Trainer& trainer = *run.run.trainer;
    Json entry = Json::object();
    entry["method"] = run.method;
    entry["epoch"] = trainer.completed_epochs();
    entry["epochs"] = trainer.settings().epochs;
    entry["steps"] = static_cast<double>(trainer.steps_taken());
    entry["error"] = trainer.status() ? std::string() : trainer.status().message();
    entry["current"] = evaluation_json(lab, r, lab.current_setting());
    add_flip_rates(lab, r, lab.current_setting(), entry["current"]);
    entry["float"] = evaluation_json(lab, r, lab.setting_with_weight_bits(0));
    Json curve = Json::array();
    for (int bits : Lab::curve_weight_bits()) {
      Json point = evaluation_json(lab, r, lab.setting_with_weight_bits(bits));
      point["weight_bits"] = bits;
      curve.push_back(std::move(point));
    }
    entry["curve"] = std::move(curve);
    entry["readouts"] = method_readouts_json(run.readouts);
    // The bits a run learned per weighted layer (CPQ with learned bits), so pages need no readout names.
    const std::string learned = learned_layer_bits(lab, r);
    if (learned.empty()) {
      entry["learned_weight_bits"] = Json();
    } else {
      const std::vector<int> per_layer = parse_layer_bits("layer_weight_bits", learned).value();
      Json bits = Json::array();
      for (int b : per_layer) bits.push_back(b);
      entry["learned_weight_bits"] = std::move(bits);
    }
    Json history = Json::object();
    Json epoch = Json::array(), train_loss = Json::array(), train_penalty = Json::array(),
         train_accuracy = Json::array(), test_loss = Json::array(), test_accuracy = Json::array();
    for (const EpochMetrics& m : trainer.history()) {
      epoch.push_back(m.epoch);
      train_loss.push_back(m.train_loss);
      train_penalty.push_back(m.train_penalty);
      train_accuracy.push_back(m.train_accuracy);
      test_loss.push_back(m.test_loss);
      test_accuracy.push_back(m.test_accuracy);
    }
    history["epoch"] = std::move(epoch);
    history["train_loss"] = std::move(train_loss);
    history["train_penalty"] = std::move(train_penalty);
    history["train_accuracy"] = std::move(train_accuracy);
    history["test_loss"] = std::move(test_loss);
    history["test_accuracy"] = std::move(test_accuracy);
    entry["history"] = std::move(history);
    runs.push_back(std::move(entry));
  }
  json["runs"] = std::move(runs);
  return json;
}

}  // namespace qplay
