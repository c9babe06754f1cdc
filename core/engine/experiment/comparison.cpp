#include "core/engine/experiment/comparison.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>

#include "core/engine/experiment/run.h"
#include "core/engine/experiment/state_table.h"
#include "core/engine/io/json.h"
#include "core/engine/train/fgsm.h"
#include "core/engine/train/sweep.h"

namespace qplay {

std::string EvaluationPoint::name() const {
  return "W" + std::to_string(weight_bits) + "A" +
         (activation_bits ? std::to_string(activation_bits) : "float") + " " + granularity + " " +
         range_method;
}

std::vector<EvaluationPoint> evaluation_points(const ComparisonSettings& settings) {
  std::vector<EvaluationPoint> points;
  for (const std::string& range_method : settings.range_methods)
    for (const char* granularity : {"per-tensor", "per-channel"})
      for (int activation_bits : settings.activation_bits)
        for (int weight_bits : settings.weight_bits)
          points.push_back({weight_bits, activation_bits, granularity, range_method});
  return points;
}

std::vector<double> values_of(const ComparisonResult& result, const std::string& arm,
                              const std::function<double(const ComparisonRun&)>& value) {
  std::vector<double> values;
  for (const ComparisonRun& run : result.runs)
    if (run.arm == arm) values.push_back(value(run));
  return values;
}

PairedDifference paired_difference_of(const ComparisonResult& result, const std::string& arm,
                                      const std::string& reference,
                                      const std::function<double(const ComparisonRun&)>& value) {
  return paired_difference(values_of(result, arm, value), values_of(result, reference, value));
}

std::vector<ComparisonVerdict> comparison_verdicts(const ComparisonResult& result) {
  std::vector<ComparisonVerdict> verdicts;
  const std::string& reference = result.settings.arms.front().label;
  using Value = std::function<double(const ComparisonRun&)>;
  // The reference's own effect: `affected` minus `clean`, paired over its seeds.
  auto effect = [&](const Value& affected, const Value& clean) {
    return paired_difference(values_of(result, reference, affected), values_of(result, reference, clean));
  };
  for (size_t a = 1; a < result.settings.arms.size(); ++a) {
    const std::string& arm = result.settings.arms[a].label;
    auto add = [&](std::string metric, std::string setting, const Value& value,
                   std::optional<PairedDifference> reference_effect) {
      ComparisonVerdict v{arm,
                          reference,
                          std::move(metric),
                          std::move(setting),
                          paired_difference_of(result, arm, reference, value),
                          reference_effect,
                          ""};
      v.verdict =
          reference_effect ? claim_verdict(v.difference, *reference_effect) : paired_verdict(v.difference);
      verdicts.push_back(std::move(v));
    };
    const Value float_accuracy = [](const ComparisonRun& r) { return r.float_accuracy; };
    for (size_t p = 0; p < result.points.size(); ++p) {
      const Value accuracy = [p](const ComparisonRun& r) { return r.quantized[p].accuracy; };
      add("quantized accuracy", result.points[p].name(), accuracy, effect(accuracy, float_accuracy));
    }
    const Value trained = [](const ComparisonRun& r) { return r.test_accuracy; };
    add("accuracy as trained", "", trained, std::nullopt);
    for (size_t i = 0; i < result.settings.fgsm_epsilons.size(); ++i) {
      const Value attacked = [i](const ComparisonRun& r) { return r.fgsm_trained_accuracy[i]; };
      add("FGSM accuracy as trained", "eps=" + format_json_number(result.settings.fgsm_epsilons[i]), attacked,
          effect(attacked, trained));
    }
    const Value gap = [](const ComparisonRun& r) { return r.test_accuracy - r.train_accuracy; };
    add("test - train accuracy", "", gap, effect(gap, [](const ComparisonRun&) { return 0.0; }));
  }
  return verdicts;
}

namespace {

Status validate_comparison(const ComparisonSettings& settings) {
  if (settings.arms.empty()) return Status::error("compare needs at least one method");
  if (settings.seeds.empty()) return Status::error("compare needs at least one seed");
  for (int bits : settings.weight_bits) {
    if (bits < 1 || bits > 8)
      return Status::error("compare: weight bits must be 1 to 8, got " + std::to_string(bits));
  }
  for (int bits : settings.activation_bits) {
    if (bits != 0 && (bits < 2 || bits > 8)) {
      return Status::error("compare: activation bits must be 2 to 8 (or float), got " + std::to_string(bits));
    }
  }
  for (const std::string& range_method : settings.range_methods) {
    Experiment probe;
    if (Status status = set_setting(probe, "range_method", range_method); !status) return status;
  }
  if (settings.weight_bits.empty() || settings.activation_bits.empty() || settings.range_methods.empty()) {
    return Status::error(
        "compare needs at least one weight bit-width, activation bit-width and range method");
  }
  for (double epsilon : settings.fgsm_epsilons) {
    if (!(epsilon >= 0 && epsilon <= 1)) {
      return Status::error("compare: FGSM epsilons must be from 0 to 1, got " + std::to_string(epsilon));
    }
  }
  if (settings.fgsm_samples < 1) return Status::error("compare: FGSM needs at least one sample");
  if (!(settings.validation_fraction >= 0 && settings.validation_fraction < 1)) {
    return Status::error("compare: the validation fraction must be from 0 to below 1");
  }
  if (settings.fine_tune_epochs < 0 || settings.fine_tune_epochs > 1000) {
    return Status::error("compare: fine-tuning epochs must be from 0 to 1000");
  }
  for (const ComparisonArm& arm : settings.arms) {
    if (arm.grid_size() > 1 && settings.validation_fraction == 0) {
      return Status::error(arm.label +
                           ": a knob grid is chosen on a validation split; set a validation fraction");
    }
    for (size_t point = 0; point < arm.grid_size(); ++point) {
      Result<Experiment> e = arm_experiment(settings.base, arm, point);
      if (!e) return e.status();
      if (Status status = validate_experiment(*e); !status)
        return Status::error(arm.label + ": " + status.message());
    }
  }
  return {};
}

// Which test samples the float model decides narrowly (train/evaluation.h's low_margin_samples).
std::vector<uint8_t> float_low_margin_samples(Network<float>& network, const FeatureRows& features) {
  const size_t n = features.rows();
  const int classes = network.architecture().num_classes;
  const int chunk = std::min(500, network.largest_batch());
  std::vector<float> margins(n), rows;
  for (size_t start = 0; start < n; start += chunk) {
    const int batch = static_cast<int>(std::min<size_t>(chunk, n - start));
    std::span<const float> logits = network.forward(features.float_rows(start, batch, &rows), batch);
    for (int b = 0; b < batch; ++b)
      margins[start + b] = decision_margin(logits.subspan(size_t(b) * classes, classes));
  }
  return low_margin_samples(margins);
}

// gradient[parameters] of the float model's mean cross-entropy over every sample of the set.
std::vector<double> mean_loss_gradient(Network<float>& network, const FeatureRows& features,
                                       std::span<const int32_t> labels) {
  const size_t n = features.rows();
  const int chunk = std::min(500, network.largest_batch());
  std::vector<double> gradient(network.parameter_count(), 0.0);
  std::vector<float> rows;
  for (size_t start = 0; start < n; start += chunk) {
    const int batch = static_cast<int>(std::min<size_t>(chunk, n - start));
    network.forward(features.float_rows(start, batch, &rows), batch);
    network.loss(labels.subspan(start, batch));
    network.backward(labels.subspan(start, batch));  // the batch's mean gradient
    std::span<const float> g = network.gradients();
    for (size_t i = 0; i < gradient.size(); ++i) gradient[i] += double(g[i]) * batch / double(n);
  }
  return gradient;
}

QuantizationSetting setting_at(const Experiment& e, const EvaluationPoint& point) {
  Experiment at = e;
  // The points' names were checked when the settings were (check_comparison_settings).
  at.granularity = *parse_choice<Granularity>(point.granularity);
  at.range_method = *parse_choice<RangeMethod>(point.range_method);
  return make_quantization_setting(at, point.weight_bits, point.activation_bits);
}

// Post-training quantization of the model's float weights (and activations) at one point, scored on `data`'s
// test split (calibrated on its training split).
QuantizedScore score_point(Network<float>& network, const Dataset& data, const Experiment& e,
                           const EvaluationPoint& point, const std::vector<int32_t>& float_predictions,
                           const std::vector<uint8_t>& low_margin, const std::vector<double>& loss_gradient) {
  const QuantizationSetting setting = setting_at(e, point);
  std::vector<int32_t> predictions;
  const Evaluation quantized =
      evaluate_quantized(network, data, setting, e.calibration_samples, &predictions);
  QuantizedScore score;
  score.accuracy = quantized.accuracy;
  score.loss = quantized.loss;
  size_t flips = 0, low = 0, low_flips = 0;
  for (size_t i = 0; i < predictions.size(); ++i) {
    const bool flipped = predictions[i] != float_predictions[i];
    flips += flipped;
    low += low_margin[i];
    low_flips += low_margin[i] && flipped;
  }
  auto share = [](size_t part, size_t whole) { return whole ? double(part) / double(whole) : 0.0; };
  score.flip_rate = share(flips, predictions.size());
  score.low_margin_flip_rate = share(low_flips, low);
  if (point.activation_bits == 0) {
    const std::vector<float> view = quantized_weights_view(network, setting);
    std::span<const float> master = network.parameters();
    for (const ParameterTensor& t : network.parameter_tensors()) {
      for (int row = 0; row < t.rows; ++row) {
        double largest_error = 0, gradient_l1 = 0;
        for (int c = 0; c < t.columns; ++c) {
          const size_t i = t.offset + size_t(row) * t.columns + c;
          const double delta = double(view[i]) - double(master[i]);
          score.first_order_term += delta * loss_gradient[i];
          largest_error = std::max(largest_error, std::abs(delta));
          gradient_l1 += std::abs(loss_gradient[i]);
        }
        score.first_order_bound += largest_error * gradient_l1;
      }
    }
  }
  return score;
}

// Every score of a trained model on `data`'s test split.
ComparisonRun score_run(Run& run, const Dataset& data, const ComparisonSettings& settings,
                        const std::vector<EvaluationPoint>& points) {
  Network<float>& network = *run.network;
  ComparisonRun scores;
  scores.method = std::string(choice_name(run.experiment.method));
  scores.seed = run.experiment.seed;
  std::vector<int32_t> float_predictions;
  const Evaluation float_result = evaluate(network, data.test_x, data.test_y, {}, &float_predictions);
  scores.float_accuracy = float_result.accuracy;
  scores.float_loss = float_result.loss;
  std::vector<float> deployed_view;
  scores.float_weights_are_latent = !run.trainer->trained_forward(deployed_view).parameters.empty();
  const std::vector<uint8_t> low_margin = float_low_margin_samples(network, data.test_x);
  const std::vector<double> loss_gradient = mean_loss_gradient(network, data.test_x, data.test_y);
  for (const EvaluationPoint& point : points) {
    scores.quantized.push_back(
        score_point(network, data, run.experiment, point, float_predictions, low_margin, loss_gradient));
  }
  if (!settings.fgsm_epsilons.empty()) {
    FgsmOptions fgsm;
    fgsm.clip = fgsm_clip_range(data);
    fgsm.max_samples = static_cast<size_t>(settings.fgsm_samples);
    for (const FgsmPoint& p :
         fgsm_accuracy_over_epsilons(network, data.test_x, data.test_y, settings.fgsm_epsilons, {}, fgsm))
      scores.fgsm_float_accuracy.push_back(p.adversarial.accuracy);
    std::vector<float> view;
    const ForwardOptions<float> trained = run.trainer->trained_forward(view);
    for (const FgsmPoint& p : fgsm_accuracy_over_epsilons(network, data.test_x, data.test_y,
                                                          settings.fgsm_epsilons, trained, fgsm))
      scores.fgsm_trained_accuracy.push_back(p.adversarial.accuracy);
  }
  for (const EpochMetrics& epoch : run.trainer->history()) {
    scores.train_loss_curve.push_back(epoch.train_loss);
    scores.test_loss_curve.push_back(epoch.test_loss);
  }
  const EpochMetrics& last = run.trainer->history().back();
  scores.train_loss = last.train_loss;
  scores.train_accuracy = last.train_accuracy;
  scores.test_loss = last.test_loss;
  scores.test_accuracy = last.test_accuracy;
  scores.readouts = run.trainer->method().readouts(network);
  return scores;
}

// The selection metric on the validation split (higher is better).
double validation_score(Run& run, const Dataset& validation, const ComparisonSettings& settings,
                        const std::vector<EvaluationPoint>& points) {
  std::vector<float> view;
  switch (settings.select_on) {
    case SelectionMetric::quantized_accuracy: {
      double sum = 0;
      for (const EvaluationPoint& point : points) {
        sum += evaluate_quantized(*run.network, validation, setting_at(run.experiment, point),
                                  run.experiment.calibration_samples)
                   .accuracy;
      }
      return sum / double(points.size());
    }
    case SelectionMetric::trained_accuracy:
      return evaluate(*run.network, validation.test_x, validation.test_y, run.trainer->trained_forward(view))
          .accuracy;
    case SelectionMetric::trained_loss:
      return -evaluate(*run.network, validation.test_x, validation.test_y, run.trainer->trained_forward(view))
                  .loss;
  }
  return 0;
}

// Counts trainings for the progress bar: checkpoints, grid candidates and the runs kept.
class WorkCounter {
 public:
  WorkCounter(const ComparisonSettings& settings, const ComparisonProgress& progress) : progress_(progress) {
    for (const ComparisonArm& arm : settings.arms)
      total_ += double(arm.grid_size() + settings.seeds.size() - 1);
    if (settings.fine_tune_epochs > 0) total_ += double(settings.seeds.size());
  }
  void within(double fraction, const std::string& what) const {
    if (progress_) progress_((done_ + std::min(fraction, 1.0)) / total_, what);
  }
  void finished(const std::string& what) {
    ++done_;
    if (progress_) progress_(done_ / total_, what);
  }

 private:
  const ComparisonProgress& progress_;
  double total_ = 0, done_ = 0;
};

Result<Run> train(const Experiment& e, std::shared_ptr<const Dataset> data, std::span<const float> start,
                  const std::string& label, WorkCounter& work) {
  Result<Run> started = start_run(e, std::move(data), nullptr, start);
  if (!started) return Status::error(label + ": " + started.message());
  Run& run = *started;
  while (!run.trainer->finished()) {
    run.trainer->advance(100);
    work.within((run.trainer->completed_epochs() + run.trainer->epoch_fraction()) / e.epochs, label);
  }
  if (!run.trainer->status().ok()) return Status::error(label + ": " + run.trainer->status().message());
  work.finished(label);
  return started;
}

// One seed's data: what the arms train on and are tested with, and the validation split if any.
struct SeedData {
  std::shared_ptr<const Dataset> fit;         // train: the training rows kept; test: the test set
  std::shared_ptr<const Dataset> validation;  // train: the same training rows; test: the held-out rows
};

Result<SeedData> make_seed_data(const ComparisonSettings& settings, int64_t seed) {
  Experiment e = settings.base;
  e.seed = seed;
  Result<Dataset> made = make_dataset(e);
  if (!made) return made.status();
  SeedData data;
  if (settings.validation_fraction == 0) {
    data.fit = std::make_shared<const Dataset>(std::move(made).value());
    return data;
  }
  Result<ValidationSplit> split = split_validation(*made, settings.validation_fraction, uint64_t(seed));
  if (!split) return split.status();
  Dataset validation = split->training;
  validation.test_x = std::move(split->validation_x);
  validation.test_y = std::move(split->validation_y);
  data.fit = std::make_shared<const Dataset>(std::move(split->training));
  data.validation = std::make_shared<const Dataset>(std::move(validation));
  return data;
}

}  // namespace

Result<ComparisonResult> run_comparison(const ComparisonSettings& settings,
                                        const ComparisonProgress& progress) {
  if (Status status = validate_comparison(settings); !status) return status;
  ComparisonResult result;
  result.settings = settings;
  result.points = evaluation_points(settings);
  WorkCounter work(settings, progress);
  std::vector<size_t> chosen(settings.arms.size(), 0);  // each arm's grid point, decided on the first seed
  for (int64_t seed : settings.seeds) {
    Result<SeedData> data = make_seed_data(settings, seed);
    if (!data) return data.status();
    result.dataset = data->fit->name;
    result.training_samples = data->fit->train_size();
    result.test_samples = data->fit->test_size();
    result.validation_samples = data->validation ? data->validation->test_size() : 0;
    Experiment arms_base = settings.base;
    arms_base.seed = seed;
    std::vector<float> checkpoint;
    if (settings.fine_tune_epochs > 0) {
      Experiment baseline = arms_base;
      baseline.method = MethodKind::baseline;
      Result<Run> trained = train(baseline, data->fit, {}, "checkpoint, seed " + std::to_string(seed), work);
      if (!trained) return trained.status();
      std::span<const float> parameters = trained->network->parameters();
      checkpoint.assign(parameters.begin(), parameters.end());
      arms_base.epochs = settings.fine_tune_epochs;
    }
    for (size_t a = 0; a < settings.arms.size(); ++a) {
      const ComparisonArm& arm = settings.arms[a];
      const std::string label = arm.label + ", seed " + std::to_string(seed);
      const bool selecting = seed == settings.seeds.front() && arm.grid_size() > 1;
      ArmSelection selection;
      selection.arm = arm.label;
      std::optional<Run> best;
      double best_seconds = 0;
      const size_t first = selecting ? 0 : chosen[a], last = selecting ? arm.grid_size() : chosen[a] + 1;
      for (size_t point = first; point < last; ++point) {
        Result<Experiment> e = arm_experiment(arms_base, arm, point);
        if (!e) return e.status();
        const auto start = std::chrono::steady_clock::now();
        Result<Run> run = train(*e, data->fit, checkpoint, label, work);
        if (!run) return run.status();
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double score =
            selecting ? validation_score(*run, *data->validation, settings, result.points) : 0;
        selection.candidates.push_back(arm_knob_values(arm, point));
        selection.validation_scores.push_back(score);
        if (best && score <= selection.validation_scores[selection.chosen]) continue;
        selection.chosen = selection.candidates.size() - 1;
        chosen[a] = point;
        best = std::move(run).value();
        best_seconds = seconds;
      }
      // Only the chosen model meets the test set.
      ComparisonRun kept = score_run(*best, *data->fit, settings, result.points);
      kept.training_seconds = best_seconds;
      kept.arm = arm.label;
      kept.knobs = arm_knob_values(arm, chosen[a]);
      result.runs.push_back(std::move(kept));
      if (selecting) result.selections.push_back(std::move(selection));
    }
  }
  // Arm-major order reads better in tables than the seed-major order of training.
  std::stable_sort(result.runs.begin(), result.runs.end(),
                   [&](const ComparisonRun& a, const ComparisonRun& b) {
                     auto rank = [&](const std::string& label) {
                       return std::find_if(settings.arms.begin(), settings.arms.end(),
                                           [&](auto& arm) { return arm.label == label; }) -
                              settings.arms.begin();
                     };
                     return rank(a.arm) < rank(b.arm);
                   });
  return result;
}

}  // namespace qplay
