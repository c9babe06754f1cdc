// A comparison trains the baseline and each chosen method on the same data from the same seeds, and
// scores every trained model the same way: its float test accuracy, post-training quantization of its
// weights at each bit-width (per tensor and per channel, activations float), and the generalization gap
// of its last epoch. Seeds repeat the whole thing (data, initial weights, batch order), so a method's
// numbers come as a mean and a spread. It is what `qplay-cli compare` prints and plots, and what
// docs/results.md is generated from.
//
// Not for: one run (experiment/run.h) or one model's sweep over activation bits too (train/sweep.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/experiment/experiment.h"
#include "core/engine/methods/training_method.h"
#include "core/engine/report/statistics.h"

namespace qplay {

struct ComparisonSettings {
  Experiment base;  // data, architecture, training and every method's knobs; `method` and `seed` are set per run
  std::vector<std::string> methods = {"baseline", "gradl1", "qreg"};
  std::vector<int64_t> seeds = {1, 2, 3};
  std::vector<int> weight_bits = {8, 6, 4, 3, 2};
  // FGSM (methods/fgsm.h) on the float model and on the model as trained, on the first fgsm_samples
  // test samples; empty: no attack. Images are clipped to [0, 1], toy points are not.
  std::vector<double> fgsm_epsilons = {0.02, 0.05, 0.1};
  int fgsm_samples = 2000;
};

// One trained model.
struct ComparisonRun {
  std::string method;
  int64_t seed = 0;
  double float_accuracy = 0, float_loss = 0;
  // The method deploys quantized weights (QReg, CPQ, RAQ: trained_forward): its float weights are the
  // latent masters it never ships, and float_accuracy scores those.
  bool float_weights_are_latent = false;
  std::vector<double> per_tensor_accuracy;   // [index into settings.weight_bits]
  std::vector<double> per_channel_accuracy;  // [index into settings.weight_bits]
  // Share of test samples whose predicted class differs from the float model's: accuracy hides flips that
  // cancel (one sample wrong that was right, another right that was wrong). [index into settings.weight_bits]
  std::vector<double> per_tensor_flip_rate, per_channel_flip_rate;
  // The same among the quarter of test samples the float model decides most narrowly (smallest gap between
  // its top two logits), where rounding flips first. [index into settings.weight_bits]
  std::vector<double> per_tensor_low_margin_flip_rate, per_channel_low_margin_flip_rate;
  // The last epoch's metrics of the model as trained (for QReg: its quantized forward).
  double train_loss = 0, train_accuracy = 0, test_loss = 0, test_accuracy = 0;
  double training_seconds = 0;
  // FGSM accuracy [index into settings.fgsm_epsilons]: of the float weights, and of the forward the
  // method scores its model with (QReg's quantized forward, RAQ's 2-bit shift-add view; the float
  // weights for the others).
  std::vector<double> fgsm_float_accuracy, fgsm_trained_accuracy;
  std::vector<MethodReadout> readouts;
};

struct ComparisonResult {
  ComparisonSettings settings;
  std::string dataset;  // the data set's display name
  std::vector<ComparisonRun> runs;  // method-major, then seed, in the settings' order
};

// Every value of one method's runs, e.g. values_of(result, "gradl1", [](auto& r) { return r.float_accuracy; }).
std::vector<double> values_of(const ComparisonResult& result, const std::string& method,
                              const std::function<double(const ComparisonRun&)>& value);

// `method` minus `reference` run by run, paired by seed (both trained from each seed of the settings): the
// mean and 95% interval of value(run of method) - value(run of reference).
PairedDifference paired_difference_of(const ComparisonResult& result, const std::string& method,
                                      const std::string& reference,
                                      const std::function<double(const ComparisonRun&)>& value);

// progress(fraction of all the work done, what is running now), called often enough for a progress bar.
using ComparisonProgress = std::function<void(double fraction, const std::string& what)>;

// Checks every method's knobs before training anything; stops at the first run that fails (a diverged
// run names its method and seed).
Result<ComparisonResult> run_comparison(const ComparisonSettings& settings, const ComparisonProgress& progress = {});

}  // namespace qplay
