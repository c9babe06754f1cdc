// A TrainingMethod is one way of training (the plain baseline or one of the five robustness
// methods): it decides how one training step turns a batch into gradients of the network's
// master parameters, and which parameters and forward the model "as trained" is scored with.
// The Trainer owns everything else (batch order, the optimizer on the master parameters, the
// learning-rate schedule, metrics, time slicing), so a method holds only what its paper changes.
//
// Between steps network.parameters() holds the float weights of the model as trained: the slider's
// post-training quantization, the comparison and the model export all start from them. The
// optimizer updates network.parameters() from network.gradients() between compute_gradients() and
// after_optimizer_step(); a method that trains other variables than the weights it deploys (SatNL
// trains latent v with w = c·tanh(v/c)) puts its variables and their gradients there for the
// optimizer at the end of compute_gradients() and writes the weights back in after_optimizer_step().
//
// Not for: evaluation at a bit-width (deploy/post_training.h), data, or the UI.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine/base/rng.h"
#include "core/engine/io/json.h"
#include "core/engine/nn/network.h"

namespace qplay {

struct QuantizationSetting;  // deploy/post_training.h

struct TrainingBatch {
  std::span<const float> features;  // [size, sample_size], decoded floats
  std::span<const int32_t> labels;  // [size]
  int size = 0;
};

struct StepContext {
  long step = 0;             // 1-based index of this optimizer step in the run
  double progress = 0;       // share of the whole run done before this step, 0..1 (warm-ups, schedules)
  double learning_rate = 0;  // this step's scheduled learning rate (for a method's own parameters)
  Rng* rng = nullptr;        // the run's method stream (DropBits masks, noise); seeded from the experiment
};

struct StepResult {
  float loss = 0;     // mean cross-entropy of the forward whose probabilities stay in the network
  float penalty = 0;  // the method's regularizer value as added to the objective (weighted; 0 if none)
};

// A number the UI and the reports show for a layer or the whole network (learned bit-width,
// weight asymmetry, spectral norm).
struct MethodReadout {
  std::string name;  // "learned weight bits"
  int layer = -1;    // index into Architecture::layers; -1 for the whole network
  double value = 0;
};

// [{"name", "layer", "value"}, ...]: the form `qplay-cli compare` and the lab metrics share.
Json method_readouts_json(std::span<const MethodReadout> readouts);

class TrainingMethod {
 public:
  virtual ~TrainingMethod() = default;

  // The state-table name: "baseline", "gradl1", "qreg", "symreg", "cpq", "raq".
  virtual std::string_view name() const = 0;

  // Once, after the network has its initial weights and before the first step (SatNL turns the
  // weights into latent parameters, CPQ sets its steps and noise scales from them).
  virtual void attach(Network<float>& network) { (void)network; }

  // Fills network.gradients() with the gradient of the method's whole objective w.r.t. the master
  // parameters for this batch. Afterwards network.probabilities() holds the probabilities of the
  // forward that the training accuracy counts, and result.loss is that forward's mean loss.
  virtual StepResult compute_gradients(Network<float>& network, const TrainingBatch& batch,
                                       const StepContext& context) = 0;

  // After the optimizer has updated network.parameters(): methods with parameters of their own
  // (CPQ's steps and gates) update them here, and methods with latent variables restore the weights.
  virtual void after_optimizer_step(Network<float>& network, const StepContext& context) {
    (void)network, (void)context;
  }

  // The forward the model as trained is scored with after each epoch (QAT: the quantized forward it
  // trained; CPQ: its learned grids). May fill `view` and point the options at it; the options may
  // also point into the method, so they are valid while the method lives and is not stepped.
  // Default: the network's own parameters in float.
  virtual ForwardOptions<float> trained_forward(const Network<float>& network,
                                                std::vector<float>& view) const;

  // For a method that learns its own quantizer (CPQ's step α per layer): the weights rounded on that grid
  // at the setting's weight bit-widths (global or per layer; its granularity and range method do not
  // apply), into view[parameters], and true; grids (if given) receives each weight tensor's grid per
  // channel as quantize_weights_into gives them. The default, false: the method has no grid of its own,
  // and the slider rounds its weights post-training like any network's (quantize_weights_into).
  virtual bool quantize_on_own_grid(const Network<float>& network, const QuantizationSetting& setting,
                                    std::span<float> view,
                                    std::vector<std::vector<QuantGrid>>* grids = nullptr) const {
    (void)network, (void)setting, (void)view, (void)grids;
    return false;
  }

  virtual std::vector<MethodReadout> readouts(const Network<float>& network) const {
    (void)network;
    return {};
  }
};

// Plain empirical-risk training: forward, mean cross-entropy, backward.
std::unique_ptr<TrainingMethod> make_baseline_method();

// The step every method builds on: forward with the given options, loss, and backward into
// network.gradients(). Returns the loss (not finite when training diverged; the caller checks).
float forward_loss_backward(Network<float>& network, const TrainingBatch& batch,
                            const ForwardOptions<float>& options = {});

}  // namespace qplay
