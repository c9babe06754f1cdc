#include "core/engine/methods/qreg.h"

#include <algorithm>
#include <cmath>

namespace qplay {
namespace {

// QAT tracks activation ranges with an exponential moving average of each batch's maximum (Jacob
// et al. 2018 use the same EMA for their QAT ranges).
constexpr float kRangeMomentum = 0.9f;

class QregMethod final : public TrainingMethod {
 public:
  explicit QregMethod(QregSettings settings) : settings_(std::move(settings)) {}

  std::string_view name() const override { return "qreg"; }

  void attach(Network<float>& network) override {
    activation_range_ema_.assign(network.architecture().layers.size(), -1.0f);
    activation_quantization_.input_grids.assign(network.architecture().layers.size(), std::nullopt);
  }

  StepResult compute_gradients(Network<float>& network, const TrainingBatch& batch,
                               const StepContext& context) override {
    view_.resize(network.parameter_count());
    quantize_weights_into(network, network.parameters(), settings_.training, view_, &weight_grids_);
    if (settings_.mode == QregMode::uniform_noise) replace_rounding_by_noise(network, *context.rng);
    ForwardOptions<float> options;
    options.parameters = view_;
    add_activation_quantization(network, options);
    const float loss = forward_loss_backward(network, batch, options);
    if (std::isfinite(loss) && settings_.mode == QregMode::quantize) clip_weight_gradients(network);
    return {loss, 0.0f};
  }

  ForwardOptions<float> trained_forward(const Network<float>& network,
                                        std::vector<float>& view) const override {
    // Scored as trained in quantize mode; the noise ablation is scored without noise, at the grid it
    // imitates, so both modes are compared on the same deployed model class.
    view.resize(network.parameter_count());
    quantize_weights_into(network, network.parameters(), settings_.training, view);
    ForwardOptions<float> options;
    options.parameters = view;
    if (settings_.training.activations.bits > 0) options.activation_quantization = &activation_quantization_;
    return options;
  }

 private:
  // view = master + U(-Δ/2, Δ/2)·(per-channel step Δ of the grid quantization would have used).
  void replace_rounding_by_noise(const Network<float>& network, Rng& rng) {
    std::span<const float> master = network.parameters();
    const auto& tensors = network.parameter_tensors();
    for (size_t t = 0; t < tensors.size(); ++t) {
      if (weight_grids_[t].empty()) continue;
      const ParameterTensor& tensor = tensors[t];
      const size_t per_channel = tensor.columns;
      for (int c = 0; c < tensor.rows; ++c) {
        const QuantGrid& grid = weight_grids_[t].size() == 1 ? weight_grids_[t][0] : weight_grids_[t][c];
        const float step = grid.scale * grid.q_step;
        for (size_t i = 0; i < per_channel; ++i) {
          const size_t index = tensor.offset + c * per_channel + i;
          view_[index] = master[index] + step * static_cast<float>(rng.uniform() - 0.5);
        }
      }
    }
  }

  void add_activation_quantization(const Network<float>& network, ForwardOptions<float>& options) {
    const int bits = settings_.training.activations.bits;
    if (bits == 0) return;
    const Architecture& architecture = network.architecture();
    options.activation_quantization = &activation_quantization_;
    // The network calls this with each quantized layer input just before quantizing it, so the grid
    // updated here already applies to this batch (and the first batch seeds the range).
    options.observe_layer_input = [this, &architecture, bits](int layer, std::span<const float> input) {
      float batch_max = 0.0f;
      for (float v : input) batch_max = std::max(batch_max, std::fabs(v));
      if (batch_max == 0.0f) return;
      float& ema = activation_range_ema_[layer];
      ema = ema < 0 ? batch_max : kRangeMomentum * ema + (1 - kRangeMomentum) * batch_max;
      activation_quantization_.input_grids[layer] = layer_input_is_nonnegative(architecture, layer)
                                                        ? unsigned_grid(ema, bits)
                                                        : symmetric_grid(ema, bits);
    };
  }

  // Clipped straight-through estimator: the gradient w.r.t. the quantized weight flows to the float
  // master weight wherever that weight lies inside its grid's range.
  void clip_weight_gradients(Network<float>& network) {
    std::span<float> gradients = network.gradients();
    const auto& tensors = network.parameter_tensors();
    for (size_t t = 0; t < tensors.size(); ++t) {
      if (weight_grids_[t].empty()) continue;
      const ParameterTensor& tensor = tensors[t];
      std::span<float> g = network.tensor(gradients, tensor);
      straight_through_backward(network.tensor(network.parameters(), tensor), tensor.rows, weight_grids_[t],
                                g, g);
    }
  }

  QregSettings settings_;
  std::vector<float> view_;
  std::vector<std::vector<QuantGrid>> weight_grids_;
  ActivationQuantization activation_quantization_;
  std::vector<float> activation_range_ema_;  // per layer; < 0 until first observed
};

}  // namespace

Status validate(const QregSettings& settings) {
  const QuantizationSetting& s = settings.training;
  if (s.weights.bits < 1 || s.weights.bits > 8) {
    return Status::error("qreg trains with fake-quantized weights: qat_weight_bits must be 1 to 8, got " +
                         std::to_string(s.weights.bits));
  }
  if (Status status = validate(s.weights); !status) return status;
  if (Status status = validate(s.activations); !status) return status;
  if (s.activations.bits == 1) {
    return Status::error(
        "qat_activation_bits must be 0 (float) or 2 to 8; 1-bit activations are not supported");
  }
  return {};
}

Result<std::unique_ptr<TrainingMethod>> make_qreg_method(const QregSettings& settings) {
  if (Status status = validate(settings); !status) return status;
  return std::unique_ptr<TrainingMethod>(std::make_unique<QregMethod>(settings));
}

}  // namespace qplay
