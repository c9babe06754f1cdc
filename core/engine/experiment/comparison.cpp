#include "core/engine/experiment/comparison.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>

#include "core/engine/experiment/run.h"
#include "core/engine/methods/fgsm.h"
#include "core/engine/train/sweep.h"

namespace qplay {

std::vector<double> values_of(const ComparisonResult& result, const std::string& method,
                              const std::function<double(const ComparisonRun&)>& value) {
  std::vector<double> values;
  for (const ComparisonRun& run : result.runs)
    if (run.method == method) values.push_back(value(run));
  return values;
}

namespace {

Status validate_comparison(const ComparisonSettings& settings) {
  if (settings.methods.empty()) return Status::error("compare needs at least one method");
  if (settings.seeds.empty()) return Status::error("compare needs at least one seed");
  for (int bits : settings.weight_bits) {
    if (bits < 1 || bits > 8) return Status::error("compare: weight bits must be 1 to 8, got " + std::to_string(bits));
  }
  for (double epsilon : settings.fgsm_epsilons) {
    if (!(epsilon >= 0 && epsilon <= 1)) {
      return Status::error("compare: FGSM epsilons must be from 0 to 1, got " + std::to_string(epsilon));
    }
  }
  if (settings.fgsm_samples < 1) return Status::error("compare: FGSM needs at least one sample");
  for (const std::string& method : settings.methods) {
    Experiment e = settings.base;
    e.method = method;
    if (Status status = validate_experiment(e); !status) return Status::error(method + ": " + status.message());
  }
  return {};
}

// Which test samples the float model decides narrowly: the quarter with the smallest gap between its top logit
// and the runner-up (ties at the cut included). Rounding flips these first.
std::vector<uint8_t> low_margin_samples(Network<float>& network, const FeatureRows& features) {
  const size_t n = features.rows();
  const int classes = network.architecture().num_classes;
  const int chunk = std::min(500, network.largest_batch());
  std::vector<float> margins(n), rows;
  for (size_t start = 0; start < n; start += chunk) {
    const int batch = static_cast<int>(std::min<size_t>(chunk, n - start));
    std::span<const float> logits = network.forward(features.float_rows(start, batch, &rows), batch);
    for (int b = 0; b < batch; ++b) {
      float top = -std::numeric_limits<float>::infinity(), second = top;
      for (int c = 0; c < classes; ++c) {
        const float v = logits[size_t(b) * classes + c];
        if (v > top) second = top, top = v;
        else if (v > second) second = v;
      }
      margins[start + b] = top - second;
    }
  }
  std::vector<uint8_t> low(n, 0);
  if (n == 0) return low;
  std::vector<float> sorted = margins;
  std::nth_element(sorted.begin(), sorted.begin() + (n - 1) / 4, sorted.end());
  const float cut = sorted[(n - 1) / 4];
  for (size_t i = 0; i < n; ++i) low[i] = margins[i] <= cut;
  return low;
}

// Post-training quantization of the model's float weights, activations float.
struct QuantizedScore {
  double accuracy = 0, flip_rate = 0, low_margin_flip_rate = 0;
};

QuantizedScore score_at(Network<float>& network, const Dataset& dataset, const Experiment& e, int bits,
                        const char* granularity, const std::vector<int32_t>& float_predictions,
                        const std::vector<uint8_t>& low_margin) {
  Experiment at = e;
  at.granularity = granularity;
  std::vector<int32_t> predictions;
  const Evaluation quantized = evaluate_quantized(network, dataset, make_quantization_setting(at, bits, 0),
                                                  e.calibration_samples, &predictions);
  size_t flips = 0, low = 0, low_flips = 0;
  for (size_t i = 0; i < predictions.size(); ++i) {
    const bool flipped = predictions[i] != float_predictions[i];
    flips += flipped;
    low += low_margin[i];
    low_flips += low_margin[i] && flipped;
  }
  auto share = [](size_t part, size_t whole) { return whole ? double(part) / double(whole) : 0.0; };
  return {quantized.accuracy, share(flips, predictions.size()), share(low_flips, low)};
}

}  // namespace

PairedDifference paired_difference_of(const ComparisonResult& result, const std::string& method,
                                      const std::string& reference,
                                      const std::function<double(const ComparisonRun&)>& value) {
  return paired_difference(values_of(result, method, value), values_of(result, reference, value));
}

Result<ComparisonResult> run_comparison(const ComparisonSettings& settings, const ComparisonProgress& progress) {
  if (Status status = validate_comparison(settings); !status) return status;
  ComparisonResult result;
  result.settings = settings;
  const double total_runs = double(settings.methods.size() * settings.seeds.size());
  int done = 0;
  for (int64_t seed : settings.seeds) {
    // One data set per seed, shared by every method: the toy sets are drawn from the seed.
    Experiment data_experiment = settings.base;
    data_experiment.seed = seed;
    Result<Dataset> made = make_dataset(data_experiment);
    if (!made) return made.status();
    auto dataset = std::make_shared<const Dataset>(std::move(made).value());
    result.dataset = dataset->name;
    for (const std::string& method : settings.methods) {
      Experiment e = data_experiment;
      e.method = method;
      Result<Run> started = start_run(e, dataset);
      if (!started) return Status::error(method + ", seed " + std::to_string(seed) + ": " + started.message());
      Run& run = *started;
      const std::string label = method + ", seed " + std::to_string(seed);
      const auto start = std::chrono::steady_clock::now();
      while (!run.trainer->finished()) {
        run.trainer->advance(100);
        if (progress) {
          const double within = (run.trainer->completed_epochs() + run.trainer->epoch_fraction()) / e.epochs;
          progress((done + std::min(within, 1.0)) / total_runs, label);
        }
      }
      if (!run.trainer->status().ok()) return Status::error(label + ": " + run.trainer->status().message());
      ComparisonRun scores;
      scores.method = method;
      scores.seed = seed;
      scores.training_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::vector<int32_t> float_predictions;
      const Evaluation float_result = evaluate(*run.network, dataset->test_x, dataset->test_y, {}, &float_predictions);
      scores.float_accuracy = float_result.accuracy;
      std::vector<float> deployed_view;
      scores.float_weights_are_latent = !run.trainer->trained_forward(deployed_view).parameters.empty();
      scores.float_loss = float_result.loss;
      const std::vector<uint8_t> low_margin = low_margin_samples(*run.network, dataset->test_x);
      for (int bits : settings.weight_bits) {
        const QuantizedScore per_tensor =
            score_at(*run.network, *dataset, e, bits, "per-tensor", float_predictions, low_margin);
        const QuantizedScore per_channel =
            score_at(*run.network, *dataset, e, bits, "per-channel", float_predictions, low_margin);
        scores.per_tensor_accuracy.push_back(per_tensor.accuracy);
        scores.per_tensor_flip_rate.push_back(per_tensor.flip_rate);
        scores.per_tensor_low_margin_flip_rate.push_back(per_tensor.low_margin_flip_rate);
        scores.per_channel_accuracy.push_back(per_channel.accuracy);
        scores.per_channel_flip_rate.push_back(per_channel.flip_rate);
        scores.per_channel_low_margin_flip_rate.push_back(per_channel.low_margin_flip_rate);
      }
      if (!settings.fgsm_epsilons.empty()) {
        FgsmOptions fgsm;
        fgsm.clip = fgsm_clip_range(*dataset);
        fgsm.max_samples = static_cast<size_t>(settings.fgsm_samples);
        for (const FgsmPoint& p : fgsm_accuracy_over_epsilons(*run.network, dataset->test_x, dataset->test_y,
                                                              settings.fgsm_epsilons, {}, fgsm))
          scores.fgsm_float_accuracy.push_back(p.adversarial.accuracy);
        std::vector<float> view;
        const ForwardOptions<float> trained = run.trainer->trained_forward(view);
        for (const FgsmPoint& p : fgsm_accuracy_over_epsilons(*run.network, dataset->test_x, dataset->test_y,
                                                              settings.fgsm_epsilons, trained, fgsm))
          scores.fgsm_trained_accuracy.push_back(p.adversarial.accuracy);
      }
      const EpochMetrics& last = run.trainer->history().back();
      scores.train_loss = last.train_loss;
      scores.train_accuracy = last.train_accuracy;
      scores.test_loss = last.test_loss;
      scores.test_accuracy = last.test_accuracy;
      scores.readouts = run.trainer->method().readouts(*run.network);
      result.runs.push_back(std::move(scores));
      ++done;
      if (progress) progress(done / total_runs, label);
    }
  }
  // Method-major order reads better in tables than the seed-major order of training.
  std::stable_sort(result.runs.begin(), result.runs.end(), [&](const ComparisonRun& a, const ComparisonRun& b) {
    auto rank = [&](const std::string& m) {
      return std::find(settings.methods.begin(), settings.methods.end(), m) - settings.methods.begin();
    };
    return rank(a.method) < rank(b.method);
  });
  return result;
}

}  // namespace qplay
