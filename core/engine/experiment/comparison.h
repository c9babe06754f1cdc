// A comparison trains several arms (the baseline, each method, ablations: comparison_arms.h) on the same
// data from the same seeds and scores every trained model the same way: float test accuracy; post-training
// quantization at every evaluation point (weight bits x activation bits x granularity x range method) with
// accuracy, loss, prediction flips and the first-order argument of gradient-l1 (the loss increase against
// the bound ||delta||_inf * ||grad L||_1); FGSM; the generalization gap of its last epoch. Seeds repeat the
// whole thing (data, initial weights, batch order), and each arm is read against the first by paired
// differences with 95% intervals.
//
// The study protocol on top: a validation split carved from the training set on which knob grids are chosen
// (the test set reports only), and a fine-tuning mode in which each seed's baseline, trained first, is the
// checkpoint every arm starts from. It is what `qplay-cli compare` runs and docs/results.md is made from.
//
// Not for: one run (experiment/run.h) or one model's sweep (train/sweep.h).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/experiment/comparison_arms.h"
#include "core/engine/experiment/experiment.h"
#include "core/engine/methods/training_method.h"
#include "core/engine/report/statistics.h"

namespace qplay {

// What a knob grid is chosen by, on the validation split, before the test set is looked at.
enum class SelectionMetric {
  quantized_accuracy,  // mean accuracy over the evaluation points (post-training quantization)
  trained_accuracy,    // accuracy of the model as trained (a QAT-style method's deployed forward)
  trained_loss,        // loss of the model as trained, lowest wins (generalization)
};

struct ComparisonSettings {
  Experiment base;  // data, architecture, training, evaluation defaults; the arms set method and knobs
  std::vector<ComparisonArm> arms;  // the first is the reference the others are read against
  std::vector<int64_t> seeds = {1, 2, 3};
  // The evaluation points are every combination of these (0 activation bits = float activations).
  std::vector<int> weight_bits = {8, 6, 4, 3, 2};
  std::vector<int> activation_bits = {0};
  std::vector<std::string> range_methods = {"min-max"};
  // FGSM (train/fgsm.h) on the float model and on the model as trained, on the first fgsm_samples
  // test samples; empty: no attack. Images are clipped to [0, 1], toy points are not.
  std::vector<double> fgsm_epsilons = {0.02, 0.05, 0.1};
  int fgsm_samples = 2000;
  // Share of the training set held out (0: none, and no knob grids). The arms train on the rest.
  double validation_fraction = 0;
  SelectionMetric select_on = SelectionMetric::quantized_accuracy;
  // 0: every arm trains from scratch for base.epochs. N > 0: per seed, the baseline trains base.epochs
  // (the checkpoint), then every arm trains N more epochs from it (compute-matched fine-tuning; the
  // baseline arm just continues), and RAQ takes the checkpoint as its frozen teacher.
  int fine_tune_epochs = 0;
};

struct EvaluationPoint {
  int weight_bits = 8;
  int activation_bits = 0;  // 0 = float
  std::string granularity;  // per-tensor | per-channel
  std::string range_method;
  std::string name() const;  // "W4A8 per-tensor min-max"
};
std::vector<EvaluationPoint> evaluation_points(const ComparisonSettings& settings);

// One evaluation point of one model.
struct QuantizedScore {
  double accuracy = 0, loss = 0;
  // Share of test samples whose predicted class differs from the float model's (accuracy hides flips that
  // cancel), and the same among the quarter the float model decides most narrowly (smallest gap between its
  // top two logits), where rounding flips first.
  double flip_rate = 0, low_margin_flip_rate = 0;
  // Gradient-l1's first-order argument, for the weights (float activations only; else 0): with delta the
  // weights' rounding error and g the gradient of the float model's mean test loss, the loss increase
  // loss - float loss is about delta.g, and at most sum over channels of max|delta| * ||g||_1.
  double first_order_term = 0, first_order_bound = 0;
};

// One trained model.
struct ComparisonRun {
  std::string arm;  // its label
  std::string method;
  int64_t seed = 0;
  std::vector<std::pair<std::string, std::string>> knobs;  // the arm's knob values this model trained with
  double float_accuracy = 0, float_loss = 0;
  // The method deploys quantized weights (QReg, CPQ, RAQ: trained_forward): its float weights are the
  // latent masters it never ships, and float_accuracy scores those.
  bool float_weights_are_latent = false;
  std::vector<QuantizedScore> quantized;  // [index into ComparisonResult::points]
  // The last epoch's metrics of the model as trained (for QReg: its quantized forward).
  double train_loss = 0, train_accuracy = 0, test_loss = 0, test_accuracy = 0;
  std::vector<double> train_loss_curve,
      test_loss_curve;  // [epoch] of the model as trained (fine-tuning only)
  double training_seconds = 0;
  // FGSM accuracy [index into settings.fgsm_epsilons]: of the float weights, and of the forward the
  // method scores its model with (QReg's quantized forward, RAQ's 2-bit shift-add view; the float
  // weights for the others).
  std::vector<double> fgsm_float_accuracy, fgsm_trained_accuracy;
  std::vector<MethodReadout> readouts;
};

// How an arm's grid was decided: every point's validation score (first seed) and the one kept.
struct ArmSelection {
  std::string arm;
  std::vector<std::vector<std::pair<std::string, std::string>>> candidates;  // [grid point] knob values
  std::vector<double> validation_scores;                                     // [grid point]
  size_t chosen = 0;
};

struct ComparisonResult {
  ComparisonSettings settings;
  std::string dataset;  // the data set's display name
  std::vector<EvaluationPoint> points;
  size_t training_samples = 0, validation_samples = 0, test_samples = 0;
  std::vector<ArmSelection> selections;  // arms with a grid
  std::vector<ComparisonRun> runs;       // arm-major, then seed, in the settings' order
};

// Every value of one arm's runs, e.g. values_of(result, "gradl1", [](auto& r) { return r.float_accuracy; }).
std::vector<double> values_of(const ComparisonResult& result, const std::string& arm,
                              const std::function<double(const ComparisonRun&)>& value);

// `arm` minus `reference` run by run, paired by seed (both trained from each seed of the settings): the
// mean and 95% interval of value(run of arm) - value(run of reference).
PairedDifference paired_difference_of(const ComparisonResult& result, const std::string& arm,
                                      const std::string& reference,
                                      const std::function<double(const ComparisonRun&)>& value);

// One claim-shaped reading of an arm against the reference (the first arm), paired by seed, with the
// verdict of statistics.h. Where the claim is about an effect the reference suffers (accuracy lost to
// quantization, to FGSM, to overfitting), reference_effect measures it and "not testable here" says the
// reference does not suffer it at that setting.
struct ComparisonVerdict {
  std::string arm, reference;
  std::string metric;   // "quantized accuracy", "accuracy as trained", "FGSM accuracy as trained", "test -
                        // train accuracy"
  std::string setting;  // the evaluation point's name, "eps=0.05", or ""
  PairedDifference difference;  // arm minus reference
  std::optional<PairedDifference> reference_effect;
  std::string verdict;
};
std::vector<ComparisonVerdict> comparison_verdicts(const ComparisonResult& result);

// progress(fraction of all the work done, what is running now), called often enough for a progress bar.
using ComparisonProgress = std::function<void(double fraction, const std::string& what)>;

// Checks every arm's knobs before training anything; stops at the first run that fails (a diverged run
// names its arm and seed).
Result<ComparisonResult> run_comparison(const ComparisonSettings& settings,
                                        const ComparisonProgress& progress = {});

}  // namespace qplay
